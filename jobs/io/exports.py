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
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from jobs.catalog.model import Resource
from jobs.errors import ExportRejected, SchemaMismatch
from jobs.io.decoding import decoded_lines, detect_encoding

ROWS_PER_GROUP = 100_000
BOM = "\ufeff"


@dataclass(frozen=True)
class StagedExport:
    """What one pass over an export produced."""

    path: Path
    header: tuple[str, ...]
    rows: int
    malformed: int


def map_header(header: Sequence[str], resource: Resource, file: str) -> list[str]:
    """Item names in file order; the file must carry every catalog item, and nothing else.

    Raises:
        SchemaMismatch: lists the missing and the unknown columns.
    """
    by_label = {(i.title if resource.source.header == "title" else i.name): i.name for i in resource.items}
    cleaned = [h.strip() for h in header]
    if cleaned and cleaned[0].startswith(BOM):
        cleaned[0] = cleaned[0][1:]
    unknown = [h for h in cleaned if h not in by_label]
    missing = [label for label in by_label if label not in cleaned]
    dupes = sorted({h for h in cleaned if cleaned.count(h) > 1})
    if unknown or missing or dupes:
        parts = []
        if missing:
            parts.append("missing columns: " + ", ".join(missing))
        if unknown:
            parts.append("unknown columns: " + ", ".join(unknown))
        if dupes:
            parts.append("repeated columns: " + ", ".join(dupes))
        raise SchemaMismatch("header does not match the catalog (" + "; ".join(parts) + ")", file=file, line=1)
    return [by_label[h] for h in cleaned]


class StagingWriter:
    """Accumulates staged records column-wise and writes Parquet row groups (bounded memory)."""

    def __init__(self, staged: Path, names: Sequence[str]):
        fields = [pa.field("_row_number", pa.int64(), nullable=False)]
        fields += [pa.field(n, pa.string()) for n in names]
        fields += [pa.field("_parse_error", pa.string()), pa.field("_rescued", pa.string())]
        self.schema = pa.schema(fields)
        self.path = staged
        self.names = list(names)
        self.rows = self.malformed = 0
        self._columns: list[list[Any]] = [[] for _ in self.schema]
        self._writer: pq.ParquetWriter | None = None
        staged.parent.mkdir(parents=True, exist_ok=True)

    def add(self, line: int, values: Sequence[str | None], error: str | None = None,
            rescued: str | None = None) -> None:
        """One record: its first physical line, its values in `names` order, what was wrong with it."""
        self.rows += 1
        self.malformed += error is not None
        self._columns[0].append(line)
        for k, value in enumerate(values, start=1):
            self._columns[k].append(value)
        self._columns[-2].append(error)
        self._columns[-1].append(rescued)
        if len(self._columns[0]) >= ROWS_PER_GROUP:
            self._flush()

    def _flush(self) -> None:
        if self._writer is None:
            self._writer = pq.ParquetWriter(self.path, self.schema)
        self._writer.write_table(pa.table(self._columns, schema=self.schema))
        self._columns = [[] for _ in self.schema]

    def close(self, header: Sequence[str] = ()) -> StagedExport:
        """Write what is left (an empty file still gets its schema) and describe the result."""
        self._flush()
        self.abort()
        return StagedExport(self.path, tuple(header), self.rows, self.malformed)

    def abort(self) -> None:
        """Close the Parquet writer (also after a failure, so no file handle leaks)."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None


def stage_csv(path: Path, resource: Resource, staged: Path) -> StagedExport:
    """Parse `path` strictly and write its records to `staged` (Parquet), columns in catalog order.

    An empty or header-only file stages zero rows. A record with the wrong number of fields is kept
    with `_parse_error` set (it will be quarantined) and its extra values in `_rescued` (JSON).

    Raises:
        ExportRejected: undecodable bytes, broken quoting or a header that does not match.
    """
    file = str(path)
    catalog_order = list(resource.item_names)
    lines = decoded_lines(path, detect_encoding(path, resource.source.encoding))
    reader = csv.reader(lines, delimiter=resource.source.delimiter, strict=True)
    out = StagingWriter(staged, catalog_order)
    header: list[str] | None = None
    last_line = 0
    try:
        for record in _records(reader, file):
            start = last_line + 1
            last_line = reader.line_num
            if not record:  # blank line
                continue
            if header is None:
                header = map_header(record, resource, file)
                position = [header.index(n) for n in catalog_order]
                width = len(header)
                continue
            error = rescued = None
            if len(record) != width:
                error = f"line {start} has {len(record)} fields, header has {width}"
                if len(record) > width:
                    rescued = json.dumps(record[width:], ensure_ascii=False)
                record = record + [None] * (width - len(record))  # type: ignore[list-item]
            out.add(start, [record[pos] for pos in position], error, rescued)
    except BaseException:
        out.abort()
        raise
    return out.close(header or [])


def _records(reader: Any, file: str) -> Iterator[list[str]]:
    while True:
        try:
            yield next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise ExportRejected(f"cannot be parsed as CSV: {exc}", file=file, line=reader.line_num) from None
