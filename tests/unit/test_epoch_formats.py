"""`epoch_seconds` / `epoch_millis` outside Spark: one set of names, the sample generator writes them as
the city's instants, every stager reads them back as digits, and drift does not take them for a new type.
(Conform's reading of them is in `tests/integration/test_epoch_dates.py`.)"""

from __future__ import annotations

import dataclasses
from datetime import date, datetime

import openpyxl
import pyarrow.parquet as pq
import pytest

from jobs.catalog import loader
from jobs.catalog.drift import TypeSampler
from jobs.catalog.model import DataItem, Resource, ShareAttribute, SourceSpec
from jobs.io import excel
from jobs.io.excel import stage_xlsx
from jobs.io.exports import stage_csv
from jobs.io.jsonlines import stage_jsonl
from jobs.sample.generator import generate, write_export
from jobs.sample.kinds import moment_text

DAY = date(2026, 11, 26)

SENSORS = Resource(
    name="readings", code="T-E1", title="监测读数", title_en="Readings", provider="iot", summary="", theme="",
    update_cycle="daily", share=ShareAttribute("无条件共享"), open_type="不予开放",
    source=SourceSpec(format="csv", encoding="utf-8", file_pattern="readings_*.csv"),
    items=(
        DataItem(name="reading_id", title="读数编号", required=True,
                 sample={"kind": "sequence", "format": "R{n:06d}"}),
        DataItem(name="measured_at", title="采集时间", type="timestamp", formats=("epoch_millis",), required=True),
        DataItem(name="sent_at", title="上报时间", type="timestamp", formats=("epoch_seconds", "epoch_millis"),
                 sample={"kind": "after", "field": "measured_at", "hours": [1, 2]}),
        DataItem(name="calibrated_on", title="校准日期", type="date", formats=("epoch_seconds",),
                 sample={"kind": "date", "days_back": [0, 30]}),
    ),
    primary_key=("reading_id",),
)
STAGERS = {"csv": stage_csv, "jsonl": stage_jsonl, "xlsx": stage_xlsx}


def in_format(fmt: str) -> Resource:
    source = dataclasses.replace(SENSORS.source, format=fmt, file_pattern=f"readings_*.{fmt}")  # type: ignore[arg-type]
    return dataclasses.replace(SENSORS, source=source)


def test_special_format_names_agree_across_loader_conform_and_staging():
    from jobs.transforms import conform  # imports pyspark, starts no JVM

    assert loader.SPECIAL_FORMATS == (conform.EXCEL_SERIAL, conform.EPOCH_SECONDS, conform.EPOCH_MILLIS)
    assert (loader.EPOCH_SECONDS, loader.EPOCH_MILLIS) == ("epoch_seconds", "epoch_millis")
    assert excel.EXCEL_SERIAL == loader.EXCEL_SERIAL


@pytest.mark.parametrize("formats,value,text", [
    (("epoch_seconds",), datetime(2024, 11, 26, 13, 46, 40), "1732600000"),   # 05:46:40 UTC
    (("epoch_millis",), datetime(2024, 11, 26, 13, 46, 40), "1732600000000"),
    (("epoch_millis", "epoch_seconds"), datetime(2024, 11, 26, 13, 46, 40), "1732600000000"),  # the first one
    (("epoch_seconds",), date(2024, 11, 26), "1732550400"),                  # midnight in the city
    (("yyyy-MM-dd HH:mm:ss", "epoch_seconds"), datetime(2024, 11, 26, 13, 46, 40), "2024-11-26 13:46:40"),
    (("epoch_seconds", "excel_serial"), datetime(2024, 11, 26, 12), "1732593600"),
    (("excel_serial", "epoch_seconds"), datetime(2024, 11, 26, 12), "45622.5"),
])
def test_sample_text_of_epoch_items_is_the_city_time_instant(formats, value, text):
    item = DataItem(name="t", title="时间", type="timestamp" if isinstance(value, datetime) else "date",
                    formats=formats)
    assert moment_text(item, value) == text


@pytest.mark.parametrize("fmt", sorted(STAGERS))
def test_epoch_items_round_trip_through_every_stager(tmp_path, fmt):
    res = in_format(fmt)
    export = write_export(res, tmp_path, day=DAY, rows=40, defect_rate=0)
    staged = STAGERS[fmt](export.path, res, tmp_path / "staged.parquet")
    rows = pq.read_table(staged.path).to_pylist()
    expected, _ = generate(res, day=DAY, rows=40, defect_rate=0)
    assert len(rows) == 40 and all(r["_parse_error"] is None for r in rows)
    for row, exp in zip(rows, expected, strict=True):
        assert {k: row[k] for k in exp} == {k: v or None for k, v in exp.items()}
    assert all(len(r["measured_at"]) == 13 and len(r["calibrated_on"]) == 10 for r in rows)
    assert all(len(r["sent_at"]) == 10 for r in rows if r["sent_at"])
    if fmt == "xlsx":  # an epoch system writes number cells, never datetime cells the stager could not write back
        sheet = openpyxl.load_workbook(export.path, read_only=True).worksheets[0]
        cells = [c for row in sheet.iter_rows(min_row=2, values_only=True) for c in row[1:] if c is not None]
        assert cells and all(isinstance(c, int) for c in cells)


def test_epoch_numbers_do_not_look_like_a_retyped_column():
    sampler = TypeSampler(SENSORS)
    for n in range(50):
        sampler.observe([f"R{n:06d}", str(1732600000123 + n), str(1732600000 + n), "1732550400"])
    assert sampler.retyped() == []
