"""Each de-identification technique of GB/T 37964 as Spark computes it: masking, generalisation, keyed
pseudonymisation, k-anonymity suppression and small-cell aggregation."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from pyspark.sql import functions as F

from jobs.catalog.opendata import Aggregate, Dimension, Measure
from jobs.errors import ConfigurationError
from jobs.transforms.aggregate import CELL_ROWS, aggregate
from jobs.transforms.generalize import generalize
from jobs.transforms.kanonymity import SUPPRESSED, mark_small_groups
from jobs.transforms.masking import mask_address, mask_name, mask_phone, mask_resident_id
from jobs.transforms.pseudonym import pseudonym_of, pseudonymize

pytestmark = pytest.mark.spark


def one(spark, column, value, schema="v string"):
    return spark.createDataFrame([(value,)], schema).select(column(F.col("v")).alias("out")).first().out


@pytest.mark.parametrize(("mask", "raw", "masked"), [
    (mask_name, "张三丰", "张**"),
    (mask_name, "欧阳娜娜", "欧***"),
    (mask_phone, "13812345678", "138****5678"),
    (mask_phone, "+86 138-1234-5678", "138****5678"),
    (mask_resident_id, "11010519491231002X", "110105************"),
    (mask_address, "成都市武侯区浆洗街街道洗面桥街18号3栋", "成都市武侯区浆洗街街道"),
    (mask_name, None, None),
])
def test_masking(spark, mask, raw, masked):
    assert one(spark, mask, raw) == masked


@pytest.mark.parametrize(("spec", "schema", "raw", "out"), [
    ({"to": "hour"}, "v timestamp", "2026-11-26 13:47:05", "2026-11-26 13:00"),
    ({"to": "date"}, "v timestamp", "2026-11-26 13:47:05", date(2026, 11, 26)),
    ({"to": "month"}, "v timestamp", "2026-11-26 13:47:05", "2026-11"),
    ({"to": "year"}, "v timestamp", "2026-11-26 13:47:05", "2026"),
    ({"to": "band", "width": 10}, "v int", 37, "30-39"),
    ({"to": "band", "width": 5}, "v int", 0, "0-4"),
    ({"to": "round", "digits": 2}, "v decimal(9,6)", Decimal("104.065735"), Decimal("104.070000")),
    ({"to": "prefix", "length": 6}, "v string", "510107001", "510107"),
    ({"to": "band", "width": 10}, "v int", None, None),
])
def test_generalisation(spark, spec, schema, raw, out):
    cast = "timestamp" if schema == "v timestamp" else None  # from text: no client time zone involved
    column = (lambda c: generalize(c.cast(cast), spec)) if cast else (lambda c: generalize(c, spec))
    assert one(spark, column, raw, "v string" if cast else schema) == out


def test_pseudonyms_match_python_hmac_and_depend_on_the_key(spark):
    df = spark.createDataFrame([("u1",), ("用户二",), (None,), ("u1",)], "v string")
    got = [r.p for r in df.select(pseudonymize(F.col("v"), "k1").alias("p")).collect()]
    assert got == [pseudonym_of("u1", "k1"), pseudonym_of("用户二", "k1"), None, pseudonym_of("u1", "k1")]
    assert got[0] != pseudonym_of("u1", "k2") and len(got[0]) == 64 and not any(ch.isdigit() for ch in got[0])
    long_key = "k" * 100  # keys longer than the block are hashed first, as HMAC says
    assert df.select(pseudonymize(F.col("v"), long_key).alias("p")).first().p == pseudonym_of("u1", long_key)
    with pytest.raises(ConfigurationError, match="CITYLAKE_PSEUDONYM_KEY"):
        pseudonymize(F.col("v"), None)


def test_k_anonymity_marks_groups_smaller_than_k(spark):
    rows = [("A", "x")] * 3 + [("A", "y")] * 2 + [(None, "x")] * 3
    marked = mark_small_groups(spark.createDataFrame(rows, "d string, c string"), quasi_identifiers=["d", "c"], k=3)
    kept = {(r.d, r.c, r[SUPPRESSED]) for r in marked.collect()}
    assert kept == {("A", "x", False), ("A", "y", True), (None, "x", False)}


def test_aggregate_measures_and_small_cells(spark):
    rows = [("甲", "2026-11-01 08:00:00", "已办结", 5, True), ("甲", "2026-11-02 09:00:00", "办理中", 3, False),
            ("乙", "2026-12-01 10:00:00", "已办结", None, None)]
    df = spark.createDataFrame(rows, "d string, t string, s string, sat int, flag boolean") \
        .withColumn("t", F.to_timestamp("t"))
    spec = Aggregate(name="x_agg", code="X", title="", title_en="", summary="",
                     dimensions=(Dimension("d", "区", "d"), Dimension("month", "月", "t", {"to": "month"})),
                     measures=(Measure("n", "件", "count"), Measure("done", "率", "rate", "s", ("已办结",), 4),
                               Measure("avg_sat", "满意", "avg", "sat", (), 2),
                               Measure("flagged", "标", "rate", "flag")),
                     min_count=2)
    out = {(r.d, r.month): r for r in aggregate(df, spec).collect()}
    cell = out[("甲", "2026-11")]
    assert (cell.n, cell.done, cell.avg_sat) == (2, 0.5, 4.0)
    assert out[("甲", "2026-11")].flagged == 0.5 and out[("乙", "2026-12")].flagged is None
    assert [k for k, r in out.items() if r[CELL_ROWS] < spec.min_count] == [("乙", "2026-12")]
