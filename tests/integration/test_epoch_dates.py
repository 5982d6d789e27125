"""Epoch seconds and milliseconds through the conform pass: UTC instants stored as the city's
wall-clock time (the session time zone, Asia/Shanghai), next to patterns and Excel serials."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from jobs.catalog.derive import bronze_schema
from jobs.catalog.model import DataItem, Resource, ShareAttribute, SourceSpec
from jobs.transforms.conform import conform_batch

pytestmark = pytest.mark.spark

READINGS = Resource(
    name="readings", code="T-E2", title="监测读数", title_en="Readings", provider="p", summary="", theme="",
    update_cycle="daily", share=ShareAttribute("无条件共享"), open_type="不予开放", source=SourceSpec(),
    primary_key=(),
    items=(
        DataItem(name="measured_at", title="采集时间", type="timestamp",
                 formats=("excel_serial", "yyyy-MM-dd HH:mm:ss", "epoch_seconds", "epoch_millis")),
        DataItem(name="calibrated_on", title="校准日期", type="date",
                 formats=("epoch_millis", "yyyyMMdd", "epoch_seconds")),
    ),
)


def run(spark, rows):
    data = [tuple(r) + ("f.csv", "sha", n + 2, None, None, "b", datetime(2026, 11, 26, 12), date(2026, 11, 26))
            for n, r in enumerate(rows)]
    df = spark.createDataFrame(data, bronze_schema(READINGS))
    return [r.asDict(recursive=True) for r in conform_batch(df, READINGS, as_of=date(2026, 11, 26))
            .orderBy("_row_number").collect()]


TIMESTAMPS = [
    ("1732600000", datetime(2024, 11, 26, 13, 46, 40)),                 # 05:46:40 UTC
    ("1732600000.5", datetime(2024, 11, 26, 13, 46, 40, 500000)),
    ("1732600000.1234567", datetime(2024, 11, 26, 13, 46, 40, 123457)),  # kept to the microsecond
    ("1732600000123", datetime(2024, 11, 26, 13, 46, 40, 123000)),      # milliseconds
    ("１７３２６０００００", datetime(2024, 11, 26, 13, 46, 40)),        # full-width digits
    ("100000000", datetime(1973, 3, 3, 17, 46, 40)),                    # the first 9-digit second
    ("45622.5", datetime(2024, 11, 26, 12, 0)),                         # still an Excel serial
    ("2024-11-26 13:46:40", datetime(2024, 11, 26, 13, 46, 40)),        # still the pattern
]
DATES = [
    ("1732550400", date(2024, 11, 26)),      # the day's midnight in the city (16:00 UTC the day before)
    ("1732579200", date(2024, 11, 26)),      # the day's midnight in UTC (08:00 in the city)
    ("1732636799", date(2024, 11, 26)),      # its last second in the city
    ("1732550400000", date(2024, 11, 26)),   # milliseconds
    ("20241126", date(2024, 11, 26)),        # still yyyyMMdd
]
GARBAGE = [
    "17326000001",       # 11 digits: year 2519
    "173260000012345",   # 15 digits
    "99999999",          # 8 digits, and no yyyyMMdd day
    "-1732600000",
    "0173260000",        # leading zero
    "1732600000.",
    "1.7326e9",
    "1732600000123.5",   # milliseconds take no fraction
    "1732 600 000",
    "明天",
]


def test_epoch_timestamps_are_the_citys_wall_clock_time(spark):
    out = run(spark, [(text, None) for text, _ in TIMESTAMPS])
    assert [(text, r["_errors"]) for (text, _), r in zip(TIMESTAMPS, out, strict=True)] == [
        (text, []) for text, _ in TIMESTAMPS]
    assert [r["_typed"]["measured_at"] for r in out] == [expected for _, expected in TIMESTAMPS]


def test_an_epoch_date_is_the_citys_day_of_the_instant(spark):
    out = run(spark, [(None, text) for text, _ in DATES])
    assert [(text, r["_errors"]) for (text, _), r in zip(DATES, out, strict=True)] == [(text, []) for text, _ in DATES]
    assert [r["_typed"]["calibrated_on"] for r in out] == [expected for _, expected in DATES]


def test_impossible_epoch_numbers_fail_the_type_rule_not_the_batch(spark):
    out = run(spark, [(text, text) for text in GARBAGE])
    assert {text: [(e["rule"], e["field"]) for e in r["_errors"]] for text, r in zip(GARBAGE, out, strict=True)} \
        == {text: [("type", "measured_at"), ("type", "calibrated_on")] for text in GARBAGE}
    assert all(r["_typed"] is None and r["_raw"]["measured_at"] is not None for r in out)
    assert out[0]["_errors"][0]["message"] == ("measured_at: value cannot be read as timestamp "
                                               "(excel_serial | yyyy-MM-dd HH:mm:ss | epoch_seconds | epoch_millis)")
