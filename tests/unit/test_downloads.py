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
from jobs.publish.downloads import OutColumn, record_batches, sha256_of, write_downloads

COLUMNS = [OutColumn("id", "编号", "string"), OutColumn("day", "日期", "date"),
           OutColumn("at", "时间", "timestamp"), OutColumn("amount", "金额", "decimal(12,2)"),
           OutColumn("ok", "是否", "boolean"), OutColumn("n", "数量", "bigint")]
ROWS = [("甲", date(2026, 11, 26), datetime(2026, 11, 26, 8, 30), Decimal("12.50"), True, 3),
        ("乙,\"引号\"", None, None, None, None, None)]


def test_four_formats_same_rows(tmp_path):
    files = {f.format: f for f in write_downloads(record_batches(ROWS, COLUMNS), COLUMNS, tmp_path, "x",
                                                  sheet_title="表/1")}
    assert set(files) == {"CSV", "JSON", "Parquet", "XLSX"} and {f.rows for f in files.values()} == {2}
    raw = files["CSV"].path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and b"\r\n" in raw
    parsed = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert parsed == [["编号", "日期", "时间", "金额", "是否", "数量"],
                      ["甲", "2026-11-26", "2026-11-26 08:30:00", "12.50", "true", "3"],
                      ["乙,\"引号\"", "", "", "", "", ""]]
    assert json.loads(files["JSON"].path.read_text(encoding="utf-8"))[0] == {
        "id": "甲", "day": "2026-11-26", "at": "2026-11-26 08:30:00", "amount": 12.5, "ok": True, "n": 3}
    assert '"amount":12.50' in files["JSON"].path.read_text(encoding="utf-8")  # decimals exact, never a float
    table = pq.read_table(files["Parquet"].path)
    assert str(table.schema.field("amount").type) == "decimal128(12, 2)" and table.column("n").to_pylist() == [3, None]
    book = load_workbook(files["XLSX"].path, read_only=True)
    assert book.sheetnames == ["表 1"]
    assert [list(r) for r in book.worksheets[0].iter_rows(values_only=True)][0] == [c.title for c in COLUMNS]
    assert all(f.sha256 == sha256_of(f.path) and f.size == f.path.stat().st_size for f in files.values())


def test_same_rows_same_bytes(tmp_path):
    a = {f.format: f.sha256 for f in write_downloads(record_batches(ROWS, COLUMNS), COLUMNS, tmp_path / "a", "x")}
    b = {f.format: f.sha256 for f in write_downloads(record_batches(ROWS, COLUMNS), COLUMNS, tmp_path / "b", "x")}
    assert a["CSV"] == b["CSV"] and a["JSON"] == b["JSON"] and a["Parquet"] == b["Parquet"]


def test_empty_table_still_has_headers(tmp_path):
    files = {f.format: f for f in write_downloads(record_batches([], COLUMNS), COLUMNS, tmp_path, "x")}
    assert files["CSV"].path.read_text(encoding="utf-8-sig").startswith("编号,日期")
    assert json.loads(files["JSON"].path.read_text(encoding="utf-8")) == []
    assert pq.read_table(files["Parquet"].path).num_rows == 0


def test_xlsx_continues_on_a_new_sheet_past_the_row_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(downloads, "XLSX_MAX_ROWS", 2)  # Excel's 1,048,575 rows, scaled down
    rows = [(str(i), None, None, None, None, i) for i in range(5)]
    files = {f.format: f for f in write_downloads(record_batches(rows, COLUMNS, batch_rows=2), COLUMNS, tmp_path,
                                                  "x", sheet_title="数据")}
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


TRICKY = [OutColumn("s", "文本", "string"), OutColumn("d", "日期", "date"), OutColumn("t", "时间", "timestamp"),
          OutColumn("m", "金额", "decimal(18,4)"), OutColumn("b", "是否", "boolean"), OutColumn("n", "数量", "bigint"),
          OutColumn("f", "比率", "double")]


def tricky_rows(n: int) -> list[tuple]:
    texts = ["普通", 'a "quoted", comma', "line\nbreak\r\nand CRLF", "tab\there", "<&> xml", "back\\slash",
             "\u0001ctrl\u001f", " lead and trail ", "", "=1+1", "emoji 😀 𠀀", None]
    return [(texts[i % len(texts)], date(2026, 1, 1 + i % 28) if i % 5 else None,
             datetime(2026, 11, 26, i % 24, i % 60, i % 60, 999) if i % 7 else None,
             Decimal(f"{i}.{i % 10000:04d}") if i % 3 else None, (i % 2 == 0) if i % 4 else None,
             i * 1_000_003 if i % 6 else None, (i / 7) if i % 8 else None) for i in range(n)]


def test_every_file_holds_exactly_the_rows_given(tmp_path, monkeypatch):
    """CSV, JSON, Parquet and XLSX read back (by csv, json, pyarrow and openpyxl) give the rows written,
    in order, across batches and sheets; special characters, nulls, decimals and times survive."""
    monkeypatch.setattr(downloads, "XLSX_MAX_ROWS", 40)
    rows = tricky_rows(101)
    files = {f.format: f for f in write_downloads(record_batches(rows, TRICKY, batch_rows=17), TRICKY, tmp_path, "t")}
    assert {f.rows for f in files.values()} == {101}

    def as_text(v):  # noqa: ANN001, ANN202
        if v is None:
            return ""
        if isinstance(v, datetime):
            return v.strftime("%Y-%m-%d %H:%M:%S")
        if isinstance(v, bool):
            return "true" if v else "false"
        return str(v)

    # a text that a spreadsheet would run as a formula gets a leading ' in the CSV (OWASP); nothing else changes
    expected_text = [[("'" + as_text(v) if j == 0 and as_text(v)[:1] in ("=", "+", "-", "@", "\t", "\r")
                       else as_text(v)) for j, v in enumerate(r)] for r in rows]
    assert ["'=1+1"] == [r[0] for r in expected_text if r[0].startswith("'")][:1]
    parsed = list(csv.reader(io.StringIO(files["CSV"].path.read_bytes().decode("utf-8-sig"), newline="")))
    assert parsed[0] == [c.title for c in TRICKY]
    assert [[c if j != 6 else (c and str(float(c))) for j, c in enumerate(r)] for r in parsed[1:]] == expected_text

    records = json.loads(files["JSON"].path.read_text(encoding="utf-8"))
    assert [list(r) for r in records] == [[c.name for c in TRICKY]] * 101
    for r, row in zip(records, rows, strict=True):
        assert r["s"] == row[0] and r["n"] == row[5] and r["b"] == row[4] and r["f"] == row[6]
        assert r["m"] == (None if row[3] is None else float(row[3]))
        assert r["t"] == (row[2] and row[2].strftime("%Y-%m-%d %H:%M:%S")) and r["d"] == (row[1] and row[1].isoformat())

    table = pq.read_table(files["Parquet"].path)
    assert table.to_pylist() == [dict(zip([c.name for c in TRICKY], row, strict=True)) for row in rows]

    book = load_workbook(files["XLSX"].path, read_only=True)
    assert book.sheetnames == ["data", "data(2)", "data(3)"]
    got = [r for ws in book.worksheets for r in list(ws.iter_rows(values_only=True))[1:]]
    assert len(got) == 101
    for cells_, row in zip(got, rows, strict=True):
        cells_ = list(cells_) + [None] * (len(TRICKY) - len(cells_))
        text = row[0]
        if text is not None:
            text = text.replace("\u0001", "_x0001_").replace("\u001f", "_x001F_")
        assert cells_[0] == text, (cells_, row)
        assert cells_[1] == (row[1] and datetime(row[1].year, row[1].month, row[1].day))
        assert cells_[2] == (row[2] and row[2].replace(microsecond=0))
        assert cells_[3] == (None if row[3] is None else float(row[3])) and cells_[4] == row[4]
        assert cells_[5] == row[5] and cells_[6] == (None if row[6] is None else row[6])
        assert not any(isinstance(c, str) and c.startswith("=") and c != "=1+1" for c in cells_)
    formulas = load_workbook(files["XLSX"].path)  # full mode: a formula would be kept as text starting "="
    assert all(c.data_type != "f" for ws in formulas.worksheets for r in ws.iter_rows() for c in r)


def test_no_cell_of_a_download_opens_as_a_formula(tmp_path):
    """CSV: text starting = + - @ tab or CR carries a leading ' (OWASP), so a spreadsheet shows it as text;
    XLSX: every text is a text cell (openpyxl finds no formula); JSON and Parquet keep the value as it is."""
    hostile = ["=HYPERLINK(\"http://evil.example\",\"点我\")", "+86 138 0000 0000", "-2+3", "@SUM(A1:A9)",
               "\tcmd", "\r=1", "普通文本", "a=b", None]
    columns = [OutColumn("s", "文本", "string"), OutColumn("n", "数量", "bigint")]
    rows = [(text, -5) for text in hostile]
    files = {f.format: f for f in write_downloads(record_batches(rows, columns), columns, tmp_path, "h")}

    parsed = list(csv.reader(io.StringIO(files["CSV"].path.read_bytes().decode("utf-8-sig"), newline="")))[1:]
    assert [r[0] for r in parsed] == ["'" + t if t and t[0] in "=+-@\t\r" else (t or "") for t in hostile]
    assert {r[1] for r in parsed} == {"-5"}  # numbers are numbers, not text: a leading minus stays
    book = load_workbook(files["XLSX"].path)  # not read-only: cell types are known
    cells_ = [row[0] for row in book.active.iter_rows(min_row=2)]
    assert all(c.data_type != "f" for row in book.active.iter_rows() for c in row)
    assert [c.value for c in cells_] == hostile
    assert [r["s"] for r in json.loads(files["JSON"].path.read_text(encoding="utf-8"))] == hostile
    assert pq.read_table(files["Parquet"].path).column("s").to_pylist() == hostile
