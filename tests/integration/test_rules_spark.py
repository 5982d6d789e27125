"""Each rule as Spark evaluates it, inside the conform pass: the right rows fail with the right reason."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from jobs.catalog.derive import bronze_schema
from jobs.transforms.conform import accepted_rows, conform_batch, quarantined_rows

pytestmark = pytest.mark.spark

VALID = {
    "appeal_id": "GD2026112600000001", "received_at": "2026-11-26 09:00:00", "channel": "12345热线",
    "district_code": "510104", "street_code": "510104017", "category": "投诉", "topic": "生态环境",
    "content": "噪音扰民", "appellant_name": "张三", "appellant_phone": "13812345678",
    "appellant_id_no": "11010519491231002X", "handling_dept": "市生态环境局", "status": "已办结",
    "finished_at": "2026-11-26 18:00:00", "satisfaction": "5",
}

def lineage(line: int, error: str | None = None, rescued: str | None = None) -> tuple:
    return ("f.csv", "sha", line, error, rescued, "b1", datetime(2026, 11, 26, 12), date(2026, 11, 26))


CASES = [
    ("valid", {}, None),
    ("lowercase x", {"appellant_id_no": "11010519491231002x"}, None),
    ("slash timestamp", {"received_at": "2026/11/26 09:00:00"}, None),
    ("phone with +86", {"appellant_phone": "+86 138-1234-5678"}, None),
    ("empty optional id", {"appellant_id_no": "  "}, None),
    ("id check digit", {"appellant_id_no": "110105194912310021"}, ("cn_resident_id", "appellant_id_no", "should be X")),
    ("id birth date", {"appellant_id_no": "110105194913310028"}, ("cn_resident_id", "appellant_id_no", "birth date")),
    ("id prefix", {"appellant_id_no": "990105194912310021"}, ("cn_resident_id", "appellant_id_no", "division prefix")),
    ("id legacy", {"appellant_id_no": "110105491231002"}, ("cn_resident_id", "appellant_id_no", "legacy")),
    ("mobile", {"appellant_phone": "12812345678"}, ("cn_mobile", "appellant_phone", "")),
    ("district", {"district_code": "510199"}, ("cn_division", "district_code", "not a county code of 5101")),
    ("district of another city", {"district_code": "110105", "street_code": ""},
     ("cn_division", "district_code", "not a county code of 5101")),
    ("street of other district", {"street_code": "510105002"}, ("cn_division", "street_code", "does not belong")),
    ("channel", {"channel": "电报"}, ("in_set", "channel", "allowed")),
    ("satisfaction range", {"satisfaction": "7"}, ("range", "satisfaction", "between 1 and 5")),
    ("satisfaction type", {"satisfaction": "很好"}, ("type", "satisfaction", "integer")),
    ("date", {"received_at": "2026-02-30 10:00:00"}, ("type", "received_at", "timestamp")),
    ("required", {"handling_dept": ""}, ("not_null", "handling_dept", "missing")),
    ("finished before received", {"finished_at": "2026-11-25 08:00:00"}, ("not_before", "finished_at", "earlier")),
    ("id length", {"appeal_id": "GD2026112600000001X"}, ("length", "appeal_id", "length 19")),
]


#: The Chinese message of each failing case holds its whole detail (the line, the bound, the value).
ZH = {
    "id check digit": "公民身份号码无效（校验码应为 X）",
    "id birth date": "（出生日期不可能）",
    "id prefix": "（前六位行政区划代码无效）",
    "id legacy": "（15 位旧号码）",
    "mobile": "手机号码无效（应为以 13 至 19 开头的 11 位数字）",
    "district": "（5101 下不是区县代码",
    "district of another city": "（5101 下不是区县代码",
    "street of other district": "（不属于 district_code 510104）",
    "channel": "取值不在允许范围内（允许的取值：",
    "satisfaction range": "数值超出范围（应在 1 与 5 之间）",
    "satisfaction type": "satisfaction：无法解析为integer",
    "date": "received_at：无法解析为timestamp",
    "required": "handling_dept：必填项为空",
    "finished before received": "早于（finished_at 早于 received_at（2026-11-26 09:00:00））",
    "id length": "长度不符合要求（长度为 19，应为 0 至 18）",
}


def case_frame(spark, appeals):
    """The conform pass over one row per case, lazily (line number = case index + 2)."""
    rows = []
    for n, (_, change, _) in enumerate(CASES):
        values = {**VALID, **change, "appeal_id": change.get("appeal_id", f"GD20261126{n:08d}")}
        rows.append(tuple(values[i.name] for i in appeals.items)
                    + lineage(n + 2))
    df = spark.createDataFrame(rows, bronze_schema(appeals))
    return conform_batch(df, appeals, as_of=date(2026, 11, 26))


@pytest.fixture(scope="module")
def evaluated(spark, appeals):
    return {r["_row_number"]: r for r in case_frame(spark, appeals).collect()}


CATALOG_RULES = sorted({c[2][0] for c in CASES if c[2] is not None} - {"type"})


def test_each_case_fails_against_a_rule_that_accepts_everything(spark, appeals, monkeypatch):
    """Seen failing: with a rule replaced by one that never fails, every case expecting it goes wrong
    (so `test_rule` checks the rule's own code, not something around it). Rules build Spark SQL, so
    each broken plan is built with its rule swapped out and all of them run in one job."""
    from functools import reduce

    from pyspark.sql import functions as F

    from jobs.rules import builtin as registry
    from jobs.rules.generic import not_judged

    plans = []
    for rule in CATALOG_RULES:
        with monkeypatch.context() as patch:
            patch.setitem(registry.RULES, rule, lambda value, ctx, **params: not_judged())
            plans.append(case_frame(spark, appeals).select(F.lit(rule).alias("broken"), "_row_number", "_errors"))
    broken = {(r.broken, r._row_number): [(e.rule, e.field) for e in r._errors]
              for r in reduce(lambda a, b: a.unionByName(b), plans).collect()}
    for rule in CATALOG_RULES:
        for index, (name, _, expected) in enumerate(CASES):
            if expected is not None and expected[0] == rule:
                assert (rule, expected[1]) not in broken[(rule, index + 2)], (rule, name)


@pytest.mark.parametrize("index", range(len(CASES)), ids=[c[0] for c in CASES])
def test_rule(evaluated, index):
    name, _, expected = CASES[index]
    errors = evaluated[index + 2]["_errors"]
    if expected is None:
        assert errors == []
    else:
        rule, field, fragment = expected
        found = [(e.rule, e.field) for e in errors]
        # a bad district also makes its township "not belong"; a short id also misses the pattern
        consequences = {("cn_division", "street_code"), ("regex", "appeal_id")}
        assert (rule, field) in found and set(found) - {(rule, field)} <= consequences, errors
        reason = errors[found.index((rule, field))]
        assert fragment in reason.message
        # the Chinese message is whole: the field, the rule's text and the detail (line, bound, value)
        assert reason.message_zh.startswith(f"{field}：") and ZH[name] in reason.message_zh, reason.message_zh
        assert not reason.message_zh.endswith(("第", "：", "（")), reason.message_zh


def test_duplicate_keys_and_field_count(spark, appeals):
    base = tuple(VALID[i.name] for i in appeals.items)
    rows = [
        base + lineage(2),
        base + lineage(3),
        tuple("x" if i.name == "appeal_id" else VALID[i.name] for i in appeals.items)
        + lineage(4, "line 4 has 16 fields, header has 15", {"_field_16": "extra"}),
    ]
    df = spark.createDataFrame(rows, bronze_schema(appeals))
    evaluated = conform_batch(df, appeals, as_of=date(2026, 11, 26))
    q = {r["_row_number"]: r for r in quarantined_rows(evaluated).collect()}
    assert set(q) == {3, 4}
    assert [(x.rule, x.value) for x in q[3]["reasons"]] == [("duplicate_key", VALID["appeal_id"])]
    assert "first seen at line: 2" in q[3]["reasons"][0].message
    assert q[3]["reasons"][0].message_zh == "appeal_id：主键重复，首次出现于第 2 行"
    malformed = next(x for x in q[4]["reasons"] if x.rule == "malformed_record")
    assert malformed.message_zh == ("*：记录格式错误（字段个数与表头不一致或无法解析）："
                                    "line 4 has 16 fields, header has 15")
    assert ("malformed_record", '{"_field_16":"extra"}') in [(x.rule, x.value) for x in q[4]["reasons"]]
    accepted = accepted_rows(evaluated).collect()
    assert [r["_row_number"] for r in accepted] == [2]
    assert accepted[0]["satisfaction"] == 5 and accepted[0]["received_at"].hour == 9


def test_spark_check_character_agrees_with_python_on_many_ids(spark):
    import random

    from jobs.rules.cn_identifiers import resident_id_check_column
    from jobs.rules.identifiers import resident_id_check_char

    rng = random.Random(11643)
    prefixes = [f"{rng.randrange(10**16, 10**17)}" for _ in range(500)] + ["11010519491231002", "44052418800101001"]
    df = spark.createDataFrame([(p,) for p in prefixes], "p string")
    got = {r.p: r.c for r in df.selectExpr("p", f"{resident_id_check_column('p')} AS c").collect()}
    assert got == {p: resident_id_check_char(p) for p in prefixes}
