"""Credit codes, full-width input and the date formats departments use, through the conform pass."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from jobs.catalog.derive import bronze_schema
from jobs.catalog.model import DataItem, Resource, RuleRef, ShareAttribute, SourceSpec
from jobs.transforms.conform import conform_batch

pytestmark = pytest.mark.spark

ENTITIES = Resource(
    name="entities", code="T-2", title="市场主体", title_en="Market entities", provider="p", summary="", theme="",
    update_cycle="daily", share=ShareAttribute("有条件共享"), open_type="不予开放", source=SourceSpec(),
    primary_key=("credit_code",),
    items=(
        DataItem(name="credit_code", title="统一社会信用代码", required=True, length=18,
                 rules=(RuleRef("cn_uscc"), RuleRef("cn_uscc_checksum", severity="warn"))),
        DataItem(name="founded", title="成立日期", type="date",
                 formats=("yyyy-MM-dd", "yyyy/M/d", "yyyyMMdd", "yyyy'年'M'月'd'日'", "excel_serial")),
        DataItem(name="checked_at", title="检查时间", type="timestamp",
                 formats=("yyyy-MM-dd HH:mm:ss", "excel_serial")),
        DataItem(name="capital", title="注册资本", type="decimal", precision=18, scale=2),
        DataItem(name="name", title="名称"),
    ),
)


def run(spark, rows):
    data = [tuple(r) + ("f.csv", "sha", n + 2, None, None, "b", datetime(2026, 11, 26, 12), date(2026, 11, 26))
            for n, r in enumerate(rows)]
    df = spark.createDataFrame(data, bronze_schema(ENTITIES))
    return [r.asDict(recursive=True) for r in conform_batch(df, ENTITIES, as_of=date(2026, 11, 26))
            .orderBy("_row_number").collect()]


def test_credit_codes(spark):
    out = run(spark, [
        ("91350100M000100Y43", None, None, None, "甲"),
        ("91350100M0001TGQXM", None, None, None, "乙"),     # pilot code: checksum fails, legal
        ("91350100M000100Y4O", None, None, None, "丙"),     # O is not in the alphabet
        ("９１３５０１００Ｍ０００１００Ｙ４３", None, None, None, "丁"),  # full-width digits and letters
    ])
    assert out[0]["_errors"] == [] and out[0]["_warnings"] == []
    assert out[1]["_errors"] == [] and [w["rule"] for w in out[1]["_warnings"]] == ["cn_uscc_checksum"]
    assert [e["rule"] for e in out[2]["_errors"]] == ["cn_uscc"]
    # the full-width copy of row 0 normalises to it, so it is accepted and then a duplicate key
    assert out[3]["_typed"] is None and [e["rule"] for e in out[3]["_errors"]] == ["duplicate_key"]


def _code(first17: str) -> str:
    from jobs.rules.identifiers import uscc_check_char

    return first17 + uscc_check_char(first17)


def test_credit_codes_by_gb32100_code_tables(spark):
    """Each authority with a type it registers passes; an impossible authority, type or province is an error
    naming what is wrong; a wrong check character alone stays a warning."""
    valid = {"11": "机关", "12": "事业单位", "51": "社会团体", "53": "基金会", "54": "村民委员会", "91": "企业",
             "92": "个体工商户", "93": "农民专业合作社", "Y1": "其他", "N2": "村级集体经济组织", "A1": "军队事业单位",
             "31": "律师执业机构", "71": "宗教活动场所", "81": "基层工会", "G1": "境外非政府组织代表机构"}
    rows = [(_code(f"{prefix}{'100000' if i % 3 == 0 else '510104'}MA6C1PG{i:02d}"), None, None, None, name)
            for i, (prefix, name) in enumerate(valid.items())]
    invalid = {"B1": "registration authority code B", "94": "organisation type code 4 is not one authority 9",
               "Y2": "organisation type code 2 is not one authority Y", "56": "organisation type code 6"}
    rows += [(_code(f"{prefix}510104MA6C1PG{50 + i:02d}"), None, None, None, "错") for i, prefix in enumerate(invalid)]
    rows += [(_code("91990104MA6C1PG60"), None, None, None, "错区划"),
             ("91510104MA6C1PG61" + ("0" if _code("91510104MA6C1PG61")[-1] != "0" else "1"), None, None, None,
              "校验错")]
    out = run(spark, rows)
    for row in out[:len(valid)]:
        assert row["_errors"] == [] and row["_warnings"] == [], row
    for row, why in zip(out[len(valid):len(valid) + len(invalid)], invalid.values(), strict=True):
        (error,) = row["_errors"]
        assert error["rule"] == "cn_uscc" and why in str(error), (why, error)
    (division,) = out[-2]["_errors"]
    assert "positions 3-8 990104" in str(division) and "第 3-8 位" in str(division)
    assert out[-1]["_errors"] == [] and [w["rule"] for w in out[-1]["_warnings"]] == ["cn_uscc_checksum"]


@pytest.mark.parametrize("text,expected", [
    ("2019-11-26", date(2019, 11, 26)),
    ("2019/11/26", date(2019, 11, 26)),
    ("2019/1/6", date(2019, 1, 6)),
    ("20191126", date(2019, 11, 26)),
    ("2019年11月26日", date(2019, 11, 26)),
    ("43795", date(2019, 11, 26)),        # Excel serial
    ("1", date(1900, 1, 1)),              # before Excel's fictitious 1900-02-29
    ("61", date(1900, 3, 1)),
    ("２０１９－１１－２６", date(2019, 11, 26)),
])
def test_dates_departments_use(spark, text, expected):
    out = run(spark, [("91350100M000100Y43", text, None, None, "甲")])[0]
    assert out["_errors"] == [], out["_errors"]
    assert out["_typed"]["founded"] == expected


@pytest.mark.parametrize("text", ["60", "2019-02-30", "明天", "2019年13月1日"])
def test_impossible_dates(spark, text):
    out = run(spark, [("91350100M000100Y43", text, None, None, "甲")])[0]
    assert [(e["rule"], e["field"]) for e in out["_errors"]] == [("type", "founded")]


def test_excel_serial_time_and_decimal(spark):
    out = run(spark, [("91350100M000100Y43", None, "43795.75", "１２３４．５", "甲")])[0]
    assert out["_typed"]["checked_at"] == datetime(2019, 11, 26, 18, 0, 0)
    assert str(out["_typed"]["capital"]) == "1234.50"


def test_free_text_keeps_full_width_punctuation(spark):
    out = run(spark, [("91350100M000100Y43", None, None, None, "成都（高新）科技，有限公司")])[0]
    assert out["_typed"]["name"] == "成都（高新）科技，有限公司"


def test_unique_within_the_batch_and_against_silver(spark):
    from dataclasses import replace

    name = replace(ENTITIES.item("name"), rules=(RuleRef("unique", params={"scope": "silver"}),))
    res = replace(ENTITIES, items=tuple(name if i.name == "name" else i for i in ENTITIES.items))
    rows = [("91350100M000100Y43", None, None, None, "甲公司"),   # silver has it under this very key: fine
            ("91350100M0001TGQXM", None, None, None, "乙公司"),   # silver has 乙公司 under another key
            ("91110000600037341L", None, None, None, "丙公司"),
            ("91310000607216828C", None, None, None, "丙公司")]   # repeats line 4 of the batch
    data = [tuple(r) + ("f.csv", "sha", n + 2, None, None, "b", datetime(2026, 11, 26, 12), date(2026, 11, 26))
            for n, r in enumerate(rows)]
    existing = spark.createDataFrame([("甲公司", "91350100M000100Y43"), ("乙公司", "91440300MA5DC4XK3B")],
                                     "value string, key string")
    out = [r.asDict(recursive=True) for r in conform_batch(
        spark.createDataFrame(data, bronze_schema(res)), res, as_of=date(2026, 11, 26),
        existing={"name": existing}).orderBy("_row_number").collect()]
    assert len(out) == 4
    assert [[e["rule"] for e in r["_errors"]] for r in out] == [[], ["unique"], [], ["unique"]]
    assert out[1]["_errors"][0]["message"] == ("name: value is not unique: already in silver under key "
                                               "91440300MA5DC4XK3B")
    assert out[3]["_errors"][0]["message"] == "name: value is not unique: also at line 4"


PLACES = Resource(
    name="places", code="T-9", title="地点", title_en="Places", provider="p", summary="", theme="",
    update_cycle="daily", share=ShareAttribute("无条件共享"), open_type="无条件开放", source=SourceSpec(),
    primary_key=(),
    items=(
        DataItem(name="province", title="省", rules=(RuleRef("cn_division", params={"level": "province"}),)),
        DataItem(name="city", title="市", rules=(RuleRef("cn_division", params={"level": "city",
                                                                              "parent": "province"}),)),
        DataItem(name="county", title="区县", rules=(RuleRef("cn_division", params={"level": "county",
                                                                                 "parent": "city"}),)),
        DataItem(name="township", title="乡镇街道", rules=(RuleRef("cn_division", params={
            "level": "township", "parent": "county"}),)),
        DataItem(name="village", title="村社区", rules=(RuleRef("cn_division", params={
            "level": "village", "parent": "township"}),)),
    ),
)


def division_errors(spark, rows, divisions=None) -> list[list[tuple[str, str]]]:
    from jobs.catalog.derive import bronze_schema as schema_of

    data = [r + ("f.csv", "sha", n + 2, None, None, "b", datetime(2026, 11, 26, 12), date(2026, 11, 26))
            for n, r in enumerate(rows)]
    out = [r.asDict(recursive=True) for r in conform_batch(
        spark.createDataFrame(data, schema_of(PLACES)), PLACES, as_of=date(2026, 11, 26), divisions=divisions,
    ).orderBy("_row_number").collect()]
    return [[(e["field"], e["message"].split(": ", 2)[-1]) for e in r["_errors"]] for r in out]


def test_divisions_at_five_levels_with_parents(spark):
    errors = division_errors(spark, [
        ("510000", "510100", "510104", "510104017", "510104017001"),  # padded province and city: valid chain
        ("51", "5101", "510129", "510129106", None),                  # short forms; 䢺江镇 in 大邑县
        ("510000", "5101", "510104", "510129106", None),              # township of 大邑县 given under 锦江区
        ("510000", "5301", "510104", None, None),                     # 昆明 is not in Sichuan; 锦江区 not in 昆明
        ("990000", "510100", "510199", None, None),                   # no such province; no such county
        ("51", "5101", "510104", "510104017", "510104018001"),        # a community of 东湖街道 under 锦官驿街道
        ("51", "5101", "510104", "510104017", "510104017999"),        # no such community
    ])
    assert errors[0] == [] and errors[1] == []
    assert errors[2] == [("township", "does not belong to county 510104")]
    assert errors[3] == [("city", "does not belong to province 510000"), ("county", "does not belong to city 5301")]
    assert errors[4] == [("province", "not a province code in the packaged reference"),
                         ("city", "does not belong to province 990000"),
                         ("county", "not a county code in the packaged reference")]
    assert errors[5] == [("village", "does not belong to township 510104017")]
    assert errors[6] == [("village", "not a village code in the packaged reference")]


def test_cn_division_reads_the_citys_list_from_silver(lake, spark, catalog):
    """This year's list in silver decides: a new community is valid, a township it dropped is not."""
    from jobs.sample.generator import write_export
    from jobs.steps import conform, ingest, validate
    from jobs.steps.conform import division_index
    from jobs.steps.runtime import runtime

    listing = catalog.resource("administrative_divisions")
    export = write_export(listing, lake.landing, day=date(2026, 1, 5), rows=0)
    lines = export.path.read_text(encoding="utf-8").splitlines(keepends=True)
    community = next(line for line in lines if line.startswith("510104017001,"))
    kept = [line for line in lines if not line.startswith("510104018")]  # 东湖街道 and its communities
    kept.append(community.replace("510104017001", "510104017099").replace("水井坊", "锦官新城"))
    export.path.write_text("".join(kept), encoding="utf-8")
    now = datetime(2026, 1, 5, 8)
    ingest(listing.name, settings=lake, now=now)
    assert conform(listing.name, settings=lake, now=now)[0]["rows_quarantined"] == 0
    validate(listing.name, settings=lake, now=now)

    rt = runtime(lake, now)
    index = division_index(rt, PLACES)
    assert index is not None and index.source == "silver.administrative_divisions"
    assert division_index(rt, ENTITIES) is None  # applies no cn_division rule: nothing read
    rows = [("51", "5101", "510104", "510104017", "510104017099"),  # set up this year
            ("51", "5101", "510104", "510104018", None),            # dropped from this year's list
            ("51", "5101", "510105", "510105002", None)]            # elsewhere in the city: still listed
    assert division_errors(spark, rows, index) == [
        [], [("township", "not a township code in the silver.administrative_divisions")], []]
    # the packaged reference alone knows the old township and not the new community
    assert division_errors(spark, rows) == [
        [("village", "not a village code in the packaged reference")], [], []]


APPLICATIONS = Resource(
    name="applications", code="T-10", title="申请", title_en="Applications", provider="p", summary="", theme="",
    update_cycle="daily", share=ShareAttribute("有条件共享"), open_type="不予开放", source=SourceSpec(),
    primary_key=(),
    items=(
        DataItem(name="applicant_type", title="申请人类型"),
        DataItem(name="id_no", title="身份证号码", rules=(
            RuleRef("not_null", when={"applicant_type": ("个人",)}),
            RuleRef("empty", when={"applicant_type": ("企业",)}))),
        DataItem(name="credit_code", title="统一社会信用代码", rules=(
            RuleRef("cn_uscc", when={"applicant_type": ("企业",)}),
            RuleRef("not_null", when={"applicant_type": ("企业",)}),
            RuleRef("empty", when={"applicant_type": ("个人",)}))),
    ),
)


def test_rules_apply_only_when_another_item_says_so(spark):
    rows = [("个人", "11010519491231002X", None),            # a person: ID, no credit code
            ("企业", None, "91350100M000100Y43"),            # an enterprise: credit code, no ID
            ("个人", None, None),                            # a person without an ID
            ("企业", "11010519491231002X", "91350100M000100Y43"),  # an enterprise with a person's ID
            ("个人", "11010519491231002X", "not-a-code"),    # a credit code on a person: must be empty (not checked)
            (None, None, None)]                              # no type: no conditional rule applies
    data = [r + ("f.csv", "sha", n + 2, None, None, "b", datetime(2026, 11, 26, 12), date(2026, 11, 26))
            for n, r in enumerate(rows)]
    out = conform_batch(spark.createDataFrame(data, bronze_schema(APPLICATIONS)), APPLICATIONS,
                        as_of=date(2026, 11, 26)).orderBy("_row_number").collect()
    errors = [[(e.rule, e.field) for e in r["_errors"]] for r in out]
    assert errors == [[], [], [("not_null", "id_no")], [("empty", "id_no")], [("empty", "credit_code")], []]
    assert out[3]["_errors"][0].message == "id_no: must be empty here"


INSTRUCTIONS = Resource(
    name="instructions", code="T-11", title="批示", title_en="Instructions", provider="p", summary="", theme="",
    update_cycle="daily", share=ShareAttribute("有条件共享"), open_type="不予开放", source=SourceSpec(),
    primary_key=(),
    items=(
        DataItem(name="appeal_id", title="工单编号", rules=(
            RuleRef("references", params={"resource": "citizen_appeals", "item": "appeal_id"}),)),
        DataItem(name="filed_at", title="立案时间", type="timestamp", formats=("yyyy-MM-dd HH:mm:ss",)),
        DataItem(name="decided_on", title="决定日期", type="date", formats=("yyyy-MM-dd",)),
    ),
    checks=(RuleRef("not_before", params={"field": "decided_on", "other": "filed_at"}),),
)


def instruction_errors(spark, rows, referenced=None) -> list[list[tuple[str, str, str]]]:
    data = [r + ("f.csv", "sha", n + 2, None, None, "b", datetime(2026, 11, 26, 12), date(2026, 11, 26))
            for n, r in enumerate(rows)]
    out = conform_batch(spark.createDataFrame(data, bronze_schema(INSTRUCTIONS)), INSTRUCTIONS,
                        as_of=date(2026, 11, 26), referenced=referenced).orderBy("_row_number").collect()
    assert len(out) == len(rows)  # the lookup join keeps one row per record
    return [[(e.rule, e.field, e.message) for e in r["_errors"]] for r in out]


def test_references_need_the_record_in_the_other_silver_table(spark):
    appeals = spark.createDataFrame([("GD2026112600000001",), ("GD2026112600000001",), ("GD2026112600000002",)],
                                    "value string")
    rows = [("GD2026112600000001", None, None), ("GD2026112600000003", None, None), (None, None, None)]
    errors = instruction_errors(spark, rows, {"appeal_id": appeals})
    assert errors == [[], [("references", "appeal_id", "appeal_id: refers to a record the lake does not hold: "
                                                       "silver.citizen_appeals holds no such appeal_id")], []]
    assert instruction_errors(spark, rows) == [[], [], []]  # no appeals table yet: not judged


def test_not_before_compares_a_date_with_a_timestamp_by_day(spark):
    rows = [("GD1", "2026-11-20 10:00:00", "2026-11-20"),   # decided the day it was filed
            ("GD2", "2026-11-20 10:00:00", "2026-11-19")]   # decided the day before
    errors = instruction_errors(spark, rows)
    assert errors[0] == [] and [e[:2] for e in errors[1]] == [("not_before", "decided_on")]


def test_long_value_lists_become_one_hash_lookup(spark):
    """Rules are SQL text: 3,000 county codes are one `IN` list that Spark turns into a hash-set lookup,
    and values holding quotes or backslashes survive the quoting."""
    from jobs.sql_text import isin

    codes = [f"5101{n:02d}" for n in range(90)]
    frame = spark.createDataFrame([("510104",), ("510199",), ("x",), (None,), ("a'b",), ("c\\d",)], "v string")
    expr = isin("v", codes)
    assert "INSET" in frame.selectExpr(expr)._jdf.queryExecution().optimizedPlan().toString()
    assert [r[0] for r in frame.selectExpr(expr).collect()] == [True, False, False, None, False, False]
    assert [r[0] for r in frame.selectExpr(isin("v", ["a'b", "c\\d"])).collect()] == [
        False, False, False, None, True, True]
