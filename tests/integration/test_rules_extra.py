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
