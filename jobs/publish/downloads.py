"""Download files of one open-table version, written in one streaming pass over its rows.

CSV (UTF-8 with BOM, Chinese column titles, so Excel opens it right), JSON (an array of objects keyed
by field name), Parquet (typed) and XLSX (Chinese titles; a new sheet every 1,048,575 rows) are
written side by side from the same row iterator, so memory stays flat whatever the table's size and
the four files always hold the same rows. Pure Python: rows come in as tuples.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from jobs.publish.records import EXTENSIONS

XLSX_MAX_ROWS = 1_048_575  # data rows per sheet below the header
BATCH = 50_000


@dataclass(frozen=True)
class OutColumn:
    """A published column: its field name, its Chinese title and its Spark type (simpleString)."""

    name: str
    title: str
    spark_type: str


@dataclass(frozen=True)
class WrittenFile:
    format: str
    path: Path
    size: int
    sha256: str
    rows: int


def arrow_type(spark_type: str) -> pa.DataType:
    if spark_type.startswith("decimal"):
        precision, scale = (int(x) for x in spark_type[8:-1].split(","))
        return pa.decimal128(precision, scale)
    return {"string": pa.string(), "bigint": pa.int64(), "int": pa.int32(), "smallint": pa.int16(),
            "double": pa.float64(), "float": pa.float32(), "date": pa.date32(), "timestamp": pa.timestamp("us"),
            "timestamp_ntz": pa.timestamp("us"), "boolean": pa.bool_()}.get(spark_type, pa.string())


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def json_value(value: Any) -> Any:
    """A cell as JSON: times as text the way the CSV writes them, decimals as numbers."""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


class _Xlsx:
    def __init__(self, path: Path, titles: list[str], sheet: str):
        from openpyxl import Workbook

        self.path, self.titles, self.sheet = path, titles, sheet
        self.book = Workbook(write_only=True)
        self.rows_in_sheet = XLSX_MAX_ROWS
        self.sheets = 0
        self.ws: Any = None

    def append(self, row: Sequence[Any]) -> None:
        if self.rows_in_sheet >= XLSX_MAX_ROWS:
            self.sheets += 1
            name = self.sheet if self.sheets == 1 else f"{self.sheet[:26]}({self.sheets})"
            self.ws = self.book.create_sheet(title=name)
            self.ws.append(self.titles)
            self.rows_in_sheet = 0
        self.ws.append(list(row))
        self.rows_in_sheet += 1

    def close(self) -> None:
        if self.ws is None:
            self.rows_in_sheet = XLSX_MAX_ROWS
            self.append([])  # an empty table still gets its header
        self.book.save(self.path)


def _sheet_name(title: str) -> str:
    cleaned = "".join(" " if ch in "[]:*?/\\" else ch for ch in title).strip()
    return (cleaned or "data")[:31]


def write_downloads(rows: Iterable[Sequence[Any]], columns: Sequence[OutColumn], folder: Path, stem: str,
                    *, sheet_title: str = "data") -> list[WrittenFile]:
    """Write `<stem>.csv|json|parquet|xlsx` into `folder`; returns each file's size, sha256 and rows."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {fmt: folder / f"{stem}.{ext}" for fmt, ext in EXTENSIONS.items()}
    names = [c.name for c in columns]
    schema = pa.schema([pa.field(c.name, arrow_type(c.spark_type)) for c in columns])
    count = 0
    with paths["CSV"].open("w", encoding="utf-8-sig", newline="") as csv_fh, \
            paths["JSON"].open("w", encoding="utf-8") as json_fh, \
            pq.ParquetWriter(paths["Parquet"], schema, compression="zstd") as parquet:
        writer = csv.writer(csv_fh, lineterminator="\r\n")
        writer.writerow([c.title for c in columns])
        xlsx = _Xlsx(paths["XLSX"], [c.title for c in columns], _sheet_name(sheet_title))
        json_fh.write("[")
        batch: list[Sequence[Any]] = []

        def flush() -> None:
            if batch:
                arrays = [pa.array([r[i] for r in batch], type=schema.field(i).type) for i in range(len(columns))]
                parquet.write_table(pa.Table.from_arrays(arrays, schema=schema))
                batch.clear()

        for row in rows:
            writer.writerow([_text(v) for v in row])
            json_fh.write(("," if count else "") + "\n" + json.dumps(
                {n: json_value(v) for n, v in zip(names, row, strict=True)}, ensure_ascii=False))
            xlsx.append(row)
            batch.append(row)
            count += 1
            if len(batch) >= BATCH:
                flush()
        flush()
        if count == 0:
            parquet.write_table(schema.empty_table())
        json_fh.write("\n]\n")
        xlsx.close()
    return [WrittenFile(fmt, path, path.stat().st_size, sha256_of(path), count) for fmt, path in paths.items()]


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
