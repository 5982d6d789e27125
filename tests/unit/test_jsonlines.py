"""JSON-lines exports: keys by title or name, bad lines kept and marked, unknown keys rescued."""

from __future__ import annotations

from dataclasses import replace

import pyarrow.parquet as pq
import pytest

from jobs.catalog.model import DataItem, Resource, ShareAttribute, SourceSpec
from jobs.errors import ExportRejected, SchemaMismatch
from jobs.io.jsonlines import stage_jsonl

READINGS = Resource(
    name="iot_readings", code="T-3", title="物联网监测数据", title_en="IoT readings", provider="p", summary="",
    theme="", update_cycle="hourly", share=ShareAttribute("无条件共享"), open_type="无条件开放",
    source=SourceSpec(format="jsonl", encoding="utf-8", header="name"), primary_key=(),
    items=(DataItem(name="point_id", title="监测点编号"), DataItem(name="value", title="监测值", type="decimal",
                                                                  precision=12, scale=3),
           DataItem(name="unit", title="单位"), DataItem(name="flags", title="标志")),
)


def stage(tmp_path, text: str, resource: Resource = READINGS, encoding: str = "utf-8"):
    (tmp_path / "r.jsonl").write_bytes(text.encode(encoding))
    staged = stage_jsonl(tmp_path / "r.jsonl", resource, tmp_path / "r.parquet")
    return staged, pq.read_table(staged.path).to_pylist()


def test_values_lines_and_blank_lines(tmp_path):
    text = ('{"point_id": "P1", "value": 12.5, "unit": "μg/m³"}\n\n'
            '{"point_id": "P2", "value": null, "flags": ["calibrating"]}\n')
    staged, rows = stage(tmp_path, text)
    assert staged.rows == 2 and staged.malformed == 0
    assert [(r["_row_number"], r["point_id"], r["value"], r["unit"], r["flags"]) for r in rows] == [
        (1, "P1", "12.5", "μg/m³", None), (3, "P2", None, None, '["calibrating"]')]


def test_bad_lines_are_kept_with_their_reason(tmp_path):
    text = '{"point_id": "P1"}\n{"point_id": "P2", \n[1, 2]\n{"point_id": "P4", "colour": "red"}\n'
    rescuing = replace(READINGS, source=replace(READINGS.source, drift="rescue"))
    staged, rows = stage(tmp_path, text, rescuing)
    assert staged.rows == 4 and staged.malformed == 2
    assert rows[1]["_parse_error"].startswith("line 2 is not valid JSON")
    assert rows[1]["_rescued"] == [("_line", '{"point_id": "P2", ')]
    assert rows[2]["_parse_error"] == "line 3 is a JSON list, not an object"
    assert rows[3]["_parse_error"] is None and rows[3]["_rescued"] == [("colour", "red")]
    assert staged.drift.added == ("colour",) and set(staged.drift.missing) == {"value", "unit", "flags"}


def test_unknown_key_under_freeze_rejects_the_file_naming_its_first_line(tmp_path):
    text = '{"point_id": "P1"}\n{"point_id": "P2", "colour": "red"}\n'
    with pytest.raises(SchemaMismatch, match=r"line 2: header does not match the catalog \(added: colour;"):
        stage(tmp_path, text)


def test_keys_by_title_and_gb18030(tmp_path):
    titled = replace(READINGS, source=replace(READINGS.source, header="title", encoding="gb18030"))
    _, rows = stage(tmp_path, '{"监测点编号": "䢺江镇-1", "监测值": "3"}\r\n', titled, encoding="gb18030")
    assert rows[0]["point_id"] == "䢺江镇-1" and rows[0]["value"] == "3"


def test_undecodable_bytes_reject(tmp_path):
    (tmp_path / "r.jsonl").write_bytes(b'{"point_id": "\x81\x30\xff"}\n')
    with pytest.raises(ExportRejected, match="byte offset 14"):
        stage_jsonl(tmp_path / "r.jsonl", replace(READINGS, source=replace(READINGS.source, encoding="gb18030")),
                    tmp_path / "r.parquet")
