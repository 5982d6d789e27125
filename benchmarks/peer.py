"""A single-node peer of citylake's four steps, for `make bench`: the same export, the same catalog entry.

What a data engineer would write with DuckDB and delta-rs instead of Spark, kept small and honest:
- parse: pyarrow's CSV reader decodes GB18030 (DuckDB reads UTF-8 only without an extension) into string
  columns, quoted line breaks allowed, and names them by the catalog's titles;
- type and check, in one DuckDB query: every typed item cast with the catalog's formats, required items
  present, lengths within the catalog's limits, the first row of each primary key kept; a row failing any
  check goes to quarantine;
- write Delta with delta-rs: bronze (every source column as a string), silver and quarantine;
- publish: the accepted rows without the items the catalog drops (masked items are not masked), written to
  the four downloads by the same
  Arrow writers citylake uses (no engine here writes XLSX), so the line compares engines, not file writers.

What it does not do (citylake does): lineage columns and checksums, the ~25 rules with their reasons, the
MERGE on the key, GX results and Data Docs, masking and the PII gate, ledger and manifest commits.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv

from jobs.catalog.derive import spark_type
from jobs.catalog.model import DataItem, Resource
from jobs.io.excel import java_to_strftime
from jobs.publish.downloads import OutColumn, write_downloads

_SQL_TYPES = {"integer": "BIGINT", "decimal": "DOUBLE", "boolean": "BOOLEAN"}


@dataclass(frozen=True)
class PeerRun:
    seconds: dict[str, float]  # ingest, conform, validate, publish
    rows_accepted: int
    rows_quarantined: int


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _typed(item: DataItem) -> str:
    """The SQL that types one item (NULL where the text does not parse)."""
    col = _quote(item.name)
    if item.type in ("date", "timestamp"):
        formats = [java_to_strftime(f) for f in item.formats] or (["%Y-%m-%d"] if item.type == "date"
                                                                  else ["%Y-%m-%d %H:%M:%S"])
        parsed = "coalesce(" + ", ".join(f"try_strptime({col}, '{f}')" for f in formats) + ")"
        return f"CAST({parsed} AS DATE)" if item.type == "date" else parsed
    if item.type in _SQL_TYPES:
        return f"TRY_CAST({col} AS {_SQL_TYPES[item.type]})"
    return col


def run_peer(res: Resource, csv_path: Path, work: Path) -> PeerRun:
    """The four steps on `csv_path`, each timed."""
    import duckdb
    from deltalake import write_deltalake

    seconds: dict[str, float] = {}
    started = time.perf_counter()
    raw = pacsv.read_csv(
        csv_path, read_options=pacsv.ReadOptions(encoding="gb18030", block_size=1 << 24),
        parse_options=pacsv.ParseOptions(newlines_in_values=True),
        convert_options=pacsv.ConvertOptions(column_types={i.title: pa.string() for i in res.items},
                                             strings_can_be_null=False))
    by_title = {i.title: i.name for i in res.items}
    raw = raw.rename_columns([by_title.get(t, re.sub(r"\W", "_", t)) for t in raw.column_names])
    write_deltalake(str(work / "bronze"), raw, mode="overwrite")
    seconds["ingest"] = time.perf_counter() - started

    started = time.perf_counter()
    con = duckdb.connect()
    con.register("raw", raw)
    failures = []
    for item in res.items:
        col = _quote(item.name)
        present = f"nullif(trim({col}), '') IS NOT NULL"
        if item.type != "string":
            failures.append(f"({present} AND {_typed(item)} IS NULL)")
        if item.required:
            failures.append(f"NOT ({present})")
        if item.length:
            failures.append(f"length({col}) > {item.length}")
    key = ", ".join(_quote(k) for k in res.primary_key)
    typed = ", ".join(f"{_typed(i)} AS {_quote(i.name)}" for i in res.items)
    con.execute(f"""CREATE TABLE checked AS SELECT *, ({' OR '.join(failures) or 'false'}) AS _bad,
                    row_number() OVER (PARTITION BY {key} ORDER BY _row) > 1 AS _dup
                    FROM (SELECT *, row_number() OVER () AS _row FROM raw)""")
    silver = con.sql(f"SELECT {typed} FROM checked WHERE NOT _bad AND NOT _dup ORDER BY _row").to_arrow_table()
    quarantine = con.sql("SELECT * EXCLUDE (_bad, _dup) FROM checked WHERE _bad OR _dup").to_arrow_table()
    write_deltalake(str(work / "quarantine"), quarantine, mode="overwrite")
    seconds["conform"] = time.perf_counter() - started

    started = time.perf_counter()
    write_deltalake(str(work / "silver"), silver, mode="overwrite")
    seconds["validate"] = time.perf_counter() - started

    started = time.perf_counter()
    kept = [i for i in res.items if i.publish != "drop"]  # as published, without masking them
    columns = [OutColumn(i.name, i.title, spark_type(i).simpleString()) for i in kept]
    published = silver.select([i.name for i in kept])
    write_downloads(published.to_batches(max_chunksize=65_536), columns, work / "open", res.name)
    seconds["publish"] = time.perf_counter() - started
    return PeerRun(seconds, silver.num_rows, quarantine.num_rows)
