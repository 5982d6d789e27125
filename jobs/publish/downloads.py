"""Download files of one open-table version, written column by column from Arrow record batches.

CSV (UTF-8 with BOM, Chinese column titles, so Excel opens it right), JSON (an array of objects keyed
by field name, one object per line), Parquet (typed) and XLSX (Chinese titles, every cell an inline
string, number, boolean or date, never a formula; a new sheet every 1,048,575 rows) are written side
by side from the same batches, so memory stays flat whatever the table's size and the four files always
hold the same rows. Every cell's text is made by Arrow compute kernels (`jobs.publish.cells`) and each
batch reaches the file as one buffer: at a million rows a Python loop over rows and cells cost minutes,
these writers cost seconds.
"""

from __future__ import annotations

import csv
import hashlib
import io
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from jobs.progress import progress
from jobs.publish import cells
from jobs.publish.records import EXTENSIONS

XLSX_MAX_ROWS = 1_048_575  # data rows per sheet below the header
BATCH = 65_536
XLSX_DEFLATE_LEVEL = 1


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


def arrow_schema(columns: Sequence[OutColumn]) -> pa.Schema:
    return pa.schema([pa.field(c.name, arrow_type(c.spark_type)) for c in columns])


def json_value(value: Any) -> Any:
    """A cell as the JSON download writes it, for previews: times as the CSV text, decimals exact."""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def record_batches(rows: Iterable[Sequence[Any]], columns: Sequence[OutColumn], *,
                   batch_rows: int = BATCH) -> Iterator[pa.RecordBatch]:
    """Rows of Python values as record batches of the columns' types (small tables, tests)."""
    schema = arrow_schema(columns)
    chunk: list[Sequence[Any]] = []

    def batch() -> pa.RecordBatch:
        arrays = [pa.array([r[i] for r in chunk], type=schema.field(i).type) for i in range(len(columns))]
        return pa.RecordBatch.from_arrays(arrays, schema=schema)

    for row in rows:
        chunk.append(row)
        if len(chunk) >= batch_rows:
            yield batch()
            chunk = []
    if chunk:
        yield batch()


class _Csv:
    def __init__(self, path: Path, columns: Sequence[OutColumn]):
        self.fh = path.open("wb")
        header = io.StringIO()
        csv.writer(header, lineterminator="\r\n").writerow([c.title for c in columns])
        self.fh.write(b"\xef\xbb\xbf" + header.getvalue().encode("utf-8"))
        # Arrow's writer quotes every string value and no other: values stay typed (numbers, dates, booleans
        # unquoted, as a spreadsheet reads them) except times, which are cut to whole seconds first.
        self.schema = pa.schema([pa.field(c.name, cells.csv_type(arrow_type(c.spark_type))) for c in columns])
        self.writer = pacsv.CSVWriter(self.fh, self.schema, write_options=pacsv.WriteOptions(
            include_header=False, eol="\r\n", quoting_style="needed"))

    def write(self, batch: pa.RecordBatch) -> None:
        conformed = cells.conformed(batch, self.schema)
        safe = [cells.neutralised(c) for c in conformed.columns]  # no text cell opens as a formula
        self.writer.write_batch(pa.RecordBatch.from_arrays(safe, schema=self.schema))

    def close(self) -> None:
        self.writer.close()
        self.fh.close()


class _Json:
    def __init__(self, path: Path, columns: Sequence[OutColumn]):
        self.fh = path.open("wb")
        self.fh.write(b"[")
        self.keys = [cells.json_key(c.name) for c in columns]
        self.rows = 0

    def write(self, batch: pa.RecordBatch) -> None:
        if batch.num_rows == 0:
            return
        objects = cells.json_objects(batch.columns, self.keys)
        self.fh.write((b",\n" if self.rows else b"\n") + cells.joined(objects, ",\n"))
        self.rows += batch.num_rows

    def close(self) -> None:
        self.fh.write(b"\n]\n")
        self.fh.close()


class _Xlsx:
    """A workbook streamed sheet by sheet into its zip: the sheet XML is made per batch by Arrow kernels."""

    def __init__(self, path: Path, columns: Sequence[OutColumn], sheet: str):
        self.zip = zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=XLSX_DEFLATE_LEVEL)
        self.titles = [c.title for c in columns]
        self.letters = [cells.column_letters(k) for k in range(len(columns))]
        self.sheet, self.names = sheet, []  # type: ignore[var-annotated]
        self.out: IO[bytes] | None = None
        self.rows_in_sheet = XLSX_MAX_ROWS

    def _entry(self, name: str) -> zipfile.ZipInfo:
        info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))  # same rows, same bytes
        info.compress_type = zipfile.ZIP_DEFLATED
        # the fastest deflate level: the sheet XML is repetitive, level 1 keeps most of the gain at a third
        # of the time (a ZipInfo does not take the ZipFile's level on Python 3.11)
        info._compresslevel = XLSX_DEFLATE_LEVEL  # type: ignore[attr-defined]
        return info

    def _new_sheet(self) -> None:
        self._end_sheet()
        number = len(self.names) + 1
        self.names.append(self.sheet if number == 1 else f"{self.sheet[:26]}({number})")
        self.out = self.zip.open(self._entry(f"xl/worksheets/sheet{number}.xml"), "w", force_zip64=True)
        self.out.write(cells.SHEET_HEAD + cells.header_row(self.titles, self.letters))
        self.rows_in_sheet = 0

    def _end_sheet(self) -> None:
        if self.out is not None:
            self.out.write(cells.SHEET_TAIL)
            self.out.close()
            self.out = None

    def write(self, batch: pa.RecordBatch) -> None:
        start = 0
        while start < batch.num_rows:
            if self.rows_in_sheet >= XLSX_MAX_ROWS:
                self._new_sheet()
            take = min(batch.num_rows - start, XLSX_MAX_ROWS - self.rows_in_sheet)
            part = batch.slice(start, take)
            first_row = self.rows_in_sheet + 2  # row 1 holds the titles
            assert self.out is not None
            self.out.write(cells.joined(cells.xlsx_rows(part.columns, self.letters, first_row), ""))
            self.rows_in_sheet += take
            start += take

    def close(self) -> None:
        if not self.names:
            self._new_sheet()  # an empty table still gets its header
        self._end_sheet()
        for name, data in cells.workbook_parts(self.names).items():
            self.zip.writestr(self._entry(name), data)
        self.zip.close()


def _sheet_name(title: str) -> str:
    cleaned = "".join(" " if ch in "[]:*?/\\" else ch for ch in title).strip()
    return (cleaned or "data")[:31]


def write_downloads(batches: Iterable[pa.RecordBatch], columns: Sequence[OutColumn], folder: Path, stem: str,
                    *, sheet_title: str = "data", total_rows: int | None = None) -> list[WrittenFile]:
    """Write `<stem>.csv|json|parquet|xlsx` into `folder` from `batches` (in the columns' order, of any types
    castable to theirs); returns each file's size, sha256 and rows. At a terminal, a bar counts the rows
    written into the four files (`total_rows` when known)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {fmt: folder / f"{stem}.{ext}" for fmt, ext in EXTENSIONS.items()}
    schema = arrow_schema(columns)
    count = 0
    csv_out, json_out = _Csv(paths["CSV"], columns), _Json(paths["JSON"], columns)
    xlsx_out = _Xlsx(paths["XLSX"], columns, _sheet_name(sheet_title))
    # The four writers of a batch run side by side: Arrow's kernels, zstd, deflate and the file writes all
    # release the GIL, so a second core is used while the next batch is read.
    with pq.ParquetWriter(paths["Parquet"], schema, compression="zstd") as parquet, \
            ThreadPoolExecutor(max_workers=4, thread_name_prefix="citylake-download") as pool, \
            progress(f"{stem}: CSV, JSON, Parquet, XLSX", total=total_rows, unit="rows") as advance:
        try:
            for raw in batches:
                batch = cells.conformed(raw, schema)
                for done in [pool.submit(write, batch) for write in (parquet.write_batch, csv_out.write,
                                                                      json_out.write, xlsx_out.write)]:
                    done.result()
                count += batch.num_rows
                advance(batch.num_rows)
            if count == 0:
                parquet.write_table(schema.empty_table())
        finally:
            csv_out.close()
            json_out.close()
            xlsx_out.close()
    return [WrittenFile(fmt, path, path.stat().st_size, sha256_of(path), count) for fmt, path in paths.items()]


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
