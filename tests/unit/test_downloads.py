"""Download files: four formats from one pass, same rows, stable bytes for CSV/JSON/Parquet."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime
from decimal import Decimal

import pyarrow.parquet as pq
from openpyxl import load_workbook

from jobs.publish import downloads
from jobs.publish.downloads import OutColumn, sha256_of, write_downloads

COLUMNS = [OutColumn("id", "编号", "string"), OutColumn("day", "日期", "date"),
           OutColumn("at", "时间", "timestamp"), OutColumn("amount", "金额", "decimal(12,2)"),
           OutColumn("ok", "是否", "boolean"), OutColumn("n", "数量", "bigint")]
ROWS = [("甲", date(2026, 11, 26), datetime(2026, 11, 26, 8, 30), Decimal("12.50"), True, 3),
        ("乙,\"引号\"", None, None, None, None, None)]


def test_four_formats_same_rows(tmp_path):
    files = {f.format: f for f in write_downloads(iter(ROWS), COLUMNS, tmp_path, "x", sheet_title="表/1")}
    assert set(files) == {"CSV", "JSON", "Parquet", "XLSX"} and {f.rows for f in files.values()} == {2}
    raw = files["CSV"].path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and b"\r\n" in raw
    parsed = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert parsed == [["编号", "日期", "时间", "金额", "是否", "数量"],
                      ["甲", "2026-11-26", "2026-11-26 08:30:00", "12.50", "true", "3"],
                      ["乙,\"引号\"", "", "", "", "", ""]]
    assert json.loads(files["JSON"].path.read_text(encoding="utf-8"))[0] == {
        "id": "甲", "day": "2026-11-26", "at": "2026-11-26 08:30:00", "amount": 12.5, "ok": True, "n": 3}
    table = pq.read_table(files["Parquet"].path)
    assert str(table.schema.field("amount").type) == "decimal128(12, 2)" and table.column("n").to_pylist() == [3, None]
    book = load_workbook(files["XLSX"].path, read_only=True)
    assert book.sheetnames == ["表 1"]
    assert [list(r) for r in book.worksheets[0].iter_rows(values_only=True)][0] == [c.title for c in COLUMNS]
    assert all(f.sha256 == sha256_of(f.path) and f.size == f.path.stat().st_size for f in files.values())


def test_same_rows_same_bytes(tmp_path):
    a = {f.format: f.sha256 for f in write_downloads(iter(ROWS), COLUMNS, tmp_path / "a", "x")}
    b = {f.format: f.sha256 for f in write_downloads(iter(ROWS), COLUMNS, tmp_path / "b", "x")}
    assert a["CSV"] == b["CSV"] and a["JSON"] == b["JSON"] and a["Parquet"] == b["Parquet"]


def test_empty_table_still_has_headers(tmp_path):
    files = {f.format: f for f in write_downloads(iter([]), COLUMNS, tmp_path, "x")}
    assert files["CSV"].path.read_text(encoding="utf-8-sig").startswith("编号,日期")
    assert json.loads(files["JSON"].path.read_text(encoding="utf-8")) == []
    assert pq.read_table(files["Parquet"].path).num_rows == 0


def test_xlsx_continues_on_a_new_sheet_past_the_row_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(downloads, "XLSX_MAX_ROWS", 2)  # Excel's 1,048,575 rows, scaled down
    rows = [(str(i), None, None, None, None, i) for i in range(5)]
    files = {f.format: f for f in write_downloads(iter(rows), COLUMNS, tmp_path, "x", sheet_title="数据")}
    book = load_workbook(files["XLSX"].path, read_only=True)
    assert book.sheetnames == ["数据", "数据(2)", "数据(3)"]
    assert sum(len(list(ws.iter_rows(values_only=True))) - 1 for ws in book.worksheets) == 5


def test_only_the_last_versions_are_kept(tmp_path):
    from jobs.io.objects import LocalStore
    from jobs.publish import layout
    from jobs.steps.release import _prune

    store = LocalStore(tmp_path)
    for v in (1, 2, 3, 10, 11):
        store.put_bytes(b"x", f"{layout.version_prefix('d', v)}/f.csv")
    store.put_bytes(b"x", "datasets/d/latest/f.csv")
    _prune(store, "d", keep=2)
    assert layout.versions_in(store.list("datasets/d"), "d") == [10, 11]
    assert store.exists("datasets/d/latest/f.csv")
