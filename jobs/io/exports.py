"""Reading a department's CSV export strictly, in one streaming pass, into a staged Parquet file.

Spark's CSV reader is too forgiving for a government lake: it decodes GBK-labelled bytes with Java's
replacing decoder, drops extra fields and pads missing ones with null. This reader decodes with
Python's strict codecs (so an undecodable byte rejects the file with its byte offset), parses
RFC 4180 with the `csv` module (quoted newlines, CRLF, BOM), records the physical line where each
record starts, and marks (never drops) a record whose field count differs from the header's. The
staged Parquet is what Spark reads into bronze.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from jobs.catalog.drift import ColumnPlan, DriftReport, TypeSampler, plan_columns
from jobs.catalog.model import Resource
from jobs.errors import ExportRejected
from jobs.io.decoding import decoded_lines, detect_encoding
from jobs.sql_text import sql_column

ROWS_PER_GROUP = 100_000
BOM = "\ufeff"


@dataclass(frozen=True)
class StagedExport:
    """What one pass over an export produced."""

    path: Path
    header: tuple[str, ...]
    rows: int
    malformed: int
    drift: DriftReport | None = None
    #: the codec the text was read with (`jobs.io.decoding.detect_encoding`); empty for XLSX
    encoding: str = ""


def staged_ddl(resource: Resource) -> str:
    """The staged file's columns as a Spark DDL schema (as `StagingWriter` writes them): given to the reader,
    it spares Spark a schema-inference job over the file's footer."""
    items = ", ".join(f"{sql_column(n)} STRING" for n in resource.item_names)
    return f"`_row_number` BIGINT, {items}, `_parse_error` STRING, `_rescued` MAP<STRING, STRING>"


class StagingWriter:
    """Accumulates staged records column-wise and writes Parquet row groups (bounded memory; columns as
    `staged_ddl` states them)."""

    def __init__(self, staged: Path, resource: Resource):
        names = resource.item_names
        fields = [pa.field("_row_number", pa.int64(), nullable=False)]
        fields += [pa.field(n, pa.string()) for n in names]
        fields += [pa.field("_parse_error", pa.string()), pa.field("_rescued", pa.map_(pa.string(), pa.string()))]
        self.schema = pa.schema(fields)
        self.path = staged
        self.names = list(names)
        self.sampler = TypeSampler(resource)
        self.rows = self.malformed = 0
        self._columns: list[list[Any]] = [[] for _ in self.schema]
        self._writer: pq.ParquetWriter | None = None
        staged.parent.mkdir(parents=True, exist_ok=True)

    def add(self, line: int, values: Sequence[str | None], error: str | None = None,
            rescued: Mapping[str, str | None] | None = None) -> None:
        """One record: its first physical line, its values in catalog order, what was wrong with it and
        the values of columns the catalog does not know (bronze's `_rescued` map)."""
        self.rows += 1
        self.malformed += error is not None
        if error is None:
            self.sampler.observe(values)
        self._columns[0].append(line)
        for k, value in enumerate(values, start=1):
            self._columns[k].append(value)
        self._columns[-2].append(error)
        self._columns[-1].append(list(rescued.items()) if rescued else None)
        if len(self._columns[0]) >= ROWS_PER_GROUP:
            self._flush()

    def _flush(self) -> None:
        if self._writer is None:
            self._writer = pq.ParquetWriter(self.path, self.schema)
        self._writer.write_table(pa.table(self._columns, schema=self.schema))
        self._columns = [[] for _ in self.schema]

    def close(self, header: Sequence[str] = (), drift: DriftReport | None = None,
              encoding: str = "") -> StagedExport:
        """Write what is left (an empty file still gets its schema) and describe the result."""
        self._flush()
        self.abort()
        if drift is not None:
            drift = drift.with_retyped(self.sampler.retyped())
        return StagedExport(self.path, tuple(header), self.rows, self.malformed, drift, encoding)

    def abort(self) -> None:
        """Close the Parquet writer (also after a failure, so no file handle leaks)."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None


def stage_csv(path: Path, resource: Resource, staged: Path) -> StagedExport:
    """Parse `path` strictly and write its records to `staged` (Parquet), columns in catalog order.

    An empty or header-only file stages zero rows. A record with the wrong number of fields is kept
    with `_parse_error` set (it will be quarantined) and its surplus values in `_rescued`. Columns the
    catalog does not know are handled by the resource's drift policy (`jobs.catalog.drift`).

    Raises:
        ExportRejected: undecodable bytes, broken quoting, or a header the drift policy refuses.
    """
    file = str(path)
    encoding = detect_encoding(path, resource.source.encoding)
    lines = decoded_lines(path, encoding)
    reader = csv.reader(lines, delimiter=resource.source.delimiter, strict=True)
    out = StagingWriter(staged, resource)
    plan: ColumnPlan | None = None
    header: list[str] = []
    last_line = 0
    try:
        for record in _records(reader, file):
            start = last_line + 1
            last_line = reader.line_num
            if not record:  # blank line
                continue
            if plan is None:
                header = record
                plan = plan_columns(record, resource, file, line=start)
                continue
            values, extras = plan.split(record)
            error = None
            if len(record) != plan.width:
                error = f"line {start} has {len(record)} fields, header has {plan.width}"
                extras.update({f"_field_{k + 1}": v for k, v in enumerate(record) if k >= plan.width})
            out.add(start, values, error, extras)
    except BaseException:
        out.abort()
        raise
    return out.close(header, plan.report if plan else None, encoding)


def _records(reader: Any, file: str) -> Iterator[list[str]]:
    while True:
        try:
            yield next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise ExportRejected(f"cannot be parsed as CSV: {exc}", file=file, line=reader.line_num) from None
