"""`citylake sql`: a query over the lake's tables by an engine of choice, printed as a table, JSON or CSV.

Two engines answer to the same table names (`silver.citizen_appeals`, `ops.ledger`, ...):

- `duckdb` (the default without a cluster): DuckDB in this process over delta-rs. Spark takes 8-14 s to
  start before the first row; every lake table also reads through delta-rs (no deletion vectors, see
  `jobs.io.spark`), so an analyst's question needs no JVM. Each zone is a DuckDB schema and each table
  the query names a view over `DeltaTable(...).to_pyarrow_dataset()`: Arrow dataset scans are lazy and
  DuckDB pushes projections and filters into them, so only the named tables are opened, and of those only
  the columns and files the query needs are read. DuckDB's own extensions are never installed or loaded
  (no download at run time); its Python replacement scans are off, so a name is a lake table or an error.
- `spark` (the default in production, or `--engine spark`): the session of `jobs.io.spark`, its tables
  named by `jobs.io.tables.register_tables` (or by the Hive metastore).

Both hand their result to the same Arrow renderers, so `--json` and `--csv` read the same whichever engine
ran. JSON is an array with one object per line; decimals are exact strings (`"12.50"`: a JSON number would
be read back as a binary float by most parsers), other numbers and booleans JSON's own, non-finite floats
`"NaN"` / `"Infinity"`, dates and times ISO 8601 (`2026-11-26T09:00:00+08:00`: zoned timestamps in the
session time zone of `jobs.io.spark`, as Spark shows them), binary as hex, nested values as arrays and
objects. CSV has a header row and the same text per cell (nested values as JSON text, null as empty).
"""

from __future__ import annotations

import csv
import json
import math
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, TextIO

import pyarrow as pa

from jobs.errors import QueryError
from jobs.io.lake_tables import LakeLister, LakeTable, find_table, lake_tables, lister_for, zone_tables
from jobs.io.spark import TIMEZONE
from jobs.io.tables import ZONES
from jobs.settings import Settings

if TYPE_CHECKING:
    import duckdb

Engine = Literal["duckdb", "spark"]
#: `--as-of`: a table version, an instant, or None for the current version
AsOf = int | datetime | None
Output = Literal["table", "json", "csv"]

#: rows of the table output unless `--limit` says otherwise (Spark's `show` prints 20; analysts asked for more)
TABLE_ROWS = 50
BATCH_ROWS = 65_536


def default_engine(settings: Settings) -> Engine:
    """DuckDB when no cluster is configured (embedded profile, no metastore), else Spark: a metastore or a
    production lake is where Spark's names and permissions are the reference."""
    return "duckdb" if settings.profile == "embedded" and not settings.metastore_url else "spark"


def run_query(query: str, settings: Settings, *, engine: Engine | None = None, output: Output = "table",
              limit: int | None = None, as_of: AsOf = None, out: TextIO) -> None:
    """Run `query` and print its result to `out`.

    Args:
        query: SQL over `<zone>.<table>` names (DuckDB's dialect, or Spark SQL with `engine="spark"`).
        engine: None picks `default_engine(settings)`.
        output: "table" (aligned columns, at most `limit` rows, default `TABLE_ROWS`, with a note of the total
            when cut), "json" or "csv" (every row unless `limit` is given).
        as_of: read the tables the query names as they were: a version number (the query must name one
            table: versions are per table) or an instant (every named table at the version current then).
            DuckDB only; Spark SQL has its own `VERSION AS OF n` / `TIMESTAMP AS OF '...'` after a table name.

    Raises:
        QueryError: a table the lake does not hold, SQL the engine cannot parse or bind, a failed conversion.
    """
    engine = engine or default_engine(settings)
    if engine == "spark":
        if as_of is not None:
            raise QueryError("--as-of reads through delta-rs (DuckDB); with Spark, write the time travel into the "
                             "query: SELECT ... FROM silver.t VERSION AS OF 3 (or TIMESTAMP AS OF '2026-06-30')")
        _run_spark(query, settings, output=output, limit=limit, out=out)
        return
    import duckdb

    with duckdb_connection(settings) as con:
        tables: list[LakeTable] = []
        try:
            con.extract_statements(query)  # a syntax error is reported before any table is opened
            tables = attach_named_tables(con, query, settings, as_of=as_of)
            relation = con.sql(query)
            if relation is not None:
                write_result(relation.to_arrow_reader(BATCH_ROWS), out, output=output, limit=limit)
        except (duckdb.Error, FileNotFoundError, OSError) as exc:
            if as_of is not None and _missing_file(exc):
                raise QueryError(
                    f"{', '.join(t.qualified for t in tables)} as of {as_of}: a data file of that version is gone, "
                    f"vacuumed {settings.vacuum_retain_hours} h after a later version replaced it "
                    f"(CITYLAKE_VACUUM_RETAIN_HOURS); versions within CITYLAKE_TIME_TRAVEL_DAYS="
                    f"{settings.time_travel_days} stay readable ({str(exc).splitlines()[0]})") from None
            if not isinstance(exc, duckdb.Error) or isinstance(exc, _engine_failures()):
                raise
            hint = (f"\n(lake tables are named <zone>.<table>; zones: {', '.join(ZONES)})"
                    if isinstance(exc, duckdb.CatalogException) else "")
            raise QueryError(f"{exc}{hint}") from None


def _missing_file(exc: BaseException) -> bool:
    """A scan that found a file of the table's log missing (Arrow's or DuckDB's wording of it)."""
    import duckdb

    if isinstance(exc, FileNotFoundError):
        return True
    scan = isinstance(exc, duckdb.IOException | duckdb.InvalidInputException | OSError)
    return scan and any(s in str(exc) for s in ("No such file", "FileNotFound", "not found", "NoSuchKey"))


def _engine_failures() -> tuple[type[Exception], ...]:
    """DuckDB errors that say nothing about the query (a file that cannot be read, memory, a bug): these
    keep their own type and traceback instead of becoming a usage error."""
    import duckdb

    return (duckdb.IOException, duckdb.HTTPException, duckdb.InternalException, duckdb.OutOfMemoryException,
            duckdb.FatalException, duckdb.InterruptException, duckdb.PermissionException)


def _run_spark(query: str, settings: Settings, *, output: Output, limit: int | None, out: TextIO) -> None:
    from pyspark.errors import AnalysisException

    from jobs.io.spark import get_spark
    from jobs.io.tables import register_tables

    spark = get_spark(settings)
    register_tables(spark, settings)
    try:
        frame = spark.sql(query)
        if output == "table":
            frame.show(TABLE_ROWS if limit is None else limit, truncate=False)
            return
        table = (frame.limit(limit) if limit is not None else frame).toArrow()
    except AnalysisException as exc:  # parse errors too (ParseException is one)
        raise QueryError(str(exc)) from None
    write_result(table.to_reader(), out, output=output, limit=limit)


# ------------------------------------------------------------------------------------------------ DuckDB


@contextmanager
def duckdb_connection(settings: Settings) -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory DuckDB with one empty schema per zone, closed afterwards."""
    import duckdb

    con = duckdb.connect(config={"autoinstall_known_extensions": False, "autoload_known_extensions": False,
                                 "python_enable_replacements": False})
    try:
        con.execute(f"SET TimeZone = '{TIMEZONE}'")
        for zone in ZONES:
            con.execute(f"CREATE SCHEMA {ident(zone)}")
        yield con
    finally:
        con.close()


def ident(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def named_tables(con: duckdb.DuckDBPyConnection, query: str) -> list[tuple[str, str]] | None:
    """(schema, table) of every table the statements name, from DuckDB's own parse tree: nothing is bound,
    so a misspelt column or a `USING` join does not hide the tables (`duckdb.get_table_names` binds against
    dummy tables and fails on both). None when DuckDB cannot serialise a statement (EXPLAIN, COPY, PIVOT...)."""
    tree = json.loads(con.execute("SELECT json_serialize_sql(?::VARCHAR)", [query]).fetchall()[0][0])
    if tree.get("error"):
        return None
    found: list[tuple[str, str]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "BASE_TABLE" and node.get("catalog_name", "") in ("", "memory"):
                found.append((node.get("schema_name", ""), node.get("table_name", "")))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(tree)
    return found


def attach_named_tables(con: duckdb.DuckDBPyConnection, query: str, settings: Settings, *,
                        as_of: AsOf = None) -> list[LakeTable]:
    """Make the lake tables `query` names readable as `zone.table` (as of `as_of`) and return them.

    A query that names no table of a zone (`SHOW TABLES`, `information_schema`, a bare `appeals`) or that
    DuckDB cannot analyse gets every table of the lake, so listings and DuckDB's "did you mean" see them all.

    Raises:
        QueryError: `zone.table` where the zone holds no such table; the message names it and the near misses.
            With `as_of`: a query that names no lake table, a version with more than one table, a version or
            instant a table does not have.
    """
    lister = lister_for(settings)
    named = named_tables(con, query)
    wanted = [(s.lower(), t) for s, t in named or [] if s.lower() in ZONES]
    if not wanted:
        if as_of is not None:
            raise QueryError("--as-of needs a query that names its lake tables (zone.table)")
        tables = lake_tables(settings, ZONES, lister=lister)
    else:
        tables = [_lake_table(settings, zone, name, lister) for zone, name in dict.fromkeys(wanted)]
    if isinstance(as_of, int) and len(tables) > 1:
        raise QueryError(f"--as-of {as_of} is a version, and versions are per table, but the query names "
                         f"{', '.join(t.qualified for t in tables)}; give an instant (--as-of 2026-06-30T12:00) "
                         "to read them all as they were then")
    for table in tables:
        attach(con, table, settings, as_of=as_of)
    return tables


def lake_table(settings: Settings, qualified: str) -> LakeTable:
    """The lake table `zone.name`.

    Raises:
        QueryError: not of the form `zone.name`, an unknown zone, or no such table (with the near misses).
    """
    zone, dot, name = qualified.partition(".")
    if not dot or not name or zone.lower() not in ZONES:
        raise QueryError(f"{qualified!r} is not a lake table: name it <zone>.<table>, zones: {', '.join(ZONES)}",
                         table=qualified)
    return _lake_table(settings, zone.lower(), name, lister_for(settings))


def parse_as_of(text: str) -> int | datetime:
    """`--as-of`: a version number (`3`) or an ISO 8601 date or instant (`2026-06-30`, `2026-06-30T12:00`,
    `2026-06-30T12:00:00+08:00`); a date is its midnight, a time without an offset is in the session zone.

    Raises:
        QueryError: neither.
    """
    text = text.strip()
    if text.isdigit():
        return int(text)
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise QueryError(f"--as-of {text!r}: give a version number (e.g. 3) or an ISO 8601 date or time "
                         "(e.g. 2026-06-30 or 2026-06-30T12:00:00+08:00)") from None


def _lake_table(settings: Settings, zone: str, name: str, lister: LakeLister) -> LakeTable:
    found = find_table(settings, zone, name, lister=lister)
    if found is not None:
        return found
    import difflib

    held = [t.name for t in zone_tables(settings, zone, lister=lister)]
    close = difflib.get_close_matches(name.lower(), held, n=3)
    hint = (f"; did you mean {', '.join(f'{zone}.{c}' for c in close)}?" if close else
            f"; {zone} holds {', '.join(held[:20])}{' ...' if len(held) > 20 else ''}" if held else
            f"; {zone} holds no table yet")
    raise QueryError(f"unknown table {zone}.{name}: no Delta table at {settings.table_path(zone, name)}{hint}",
                     table=f"{zone}.{name}")


def attach(con: duckdb.DuckDBPyConnection, table: LakeTable, settings: Settings, *, as_of: AsOf = None) -> None:
    """`zone.name` as a view over the table's current version, or the one `as_of` names (an Arrow dataset
    registered as `zone__name`).

    Raises:
        QueryError: delta-rs cannot read the table (a reader feature it lacks); Spark can.
        DeltaError: any other failure to open it (a damaged log is not the query's fault), noted with the table.
    """
    from deltalake.exceptions import DeltaError, DeltaProtocolError

    from jobs.io.deltars import table_uri
    from jobs.io.history import open_table

    uri = table_uri(table.location)
    try:
        dataset = open_table(table, settings, as_of=as_of).to_pyarrow_dataset()
    except DeltaProtocolError as exc:
        raise QueryError(f"{table.qualified}: delta-rs cannot read this table ({exc}); "
                         "run the query with --engine spark", table=table.qualified) from None
    except DeltaError as exc:
        exc.add_note(f"while opening {table.qualified} at {uri}")
        raise
    arrow_name = f"{table.zone}__{table.name}"
    con.register(arrow_name, dataset)
    con.execute(f"CREATE OR REPLACE VIEW {ident(table.zone)}.{ident(table.name)} AS SELECT * FROM {ident(arrow_name)}")


# ---------------------------------------------------------------------------------------------- output


def write_result(reader: pa.RecordBatchReader, out: TextIO, *, output: Output, limit: int | None) -> int:
    """Print the rows of `reader` to `out` in `output`; returns how many were printed."""
    schema = _session_zone(reader.schema)
    batches = (b.cast(schema) if b.schema != schema else b for b in reader)
    if output == "table":
        return _write_table(schema, batches, out, limit=TABLE_ROWS if limit is None else limit)
    if output == "json":
        return _write_json(schema, _limited(batches, limit), out)
    return _write_csv(schema, _limited(batches, limit), out)


def _session_zone(schema: pa.Schema) -> pa.Schema:
    """Zoned timestamps in the session time zone (Spark hands them over in UTC, DuckDB in its own zone)."""
    def zoned(t: pa.DataType) -> pa.DataType:
        return pa.timestamp(t.unit, TIMEZONE) if pa.types.is_timestamp(t) and t.tz else t

    return pa.schema([f.with_type(zoned(f.type)) for f in schema])


def _limited(batches: Iterator[pa.RecordBatch], limit: int | None) -> Iterator[pa.RecordBatch]:
    left = limit
    for batch in batches:
        if left is None:
            yield batch
            continue
        if left <= 0:
            return  # stops reading: DuckDB computes no further
        yield batch.slice(0, left)
        left -= min(left, batch.num_rows)


def _write_table(schema: pa.Schema, batches: Iterator[pa.RecordBatch], out: TextIO, *, limit: int) -> int:
    """Spark's `show(truncate=False)` layout, wide (CJK) characters counted as two columns."""
    kept: list[pa.RecordBatch] = []
    total = 0
    for batch in batches:
        if total < limit:
            kept.append(batch.slice(0, limit - total))
        total += batch.num_rows
    shown = pa.Table.from_batches(kept, schema=schema) if kept else schema.empty_table()
    columns = [[_NULL if v is None else _show(v, f.type) for v in shown.column(i).to_pylist()]
               for i, f in enumerate(schema)]
    header = list(schema.names)
    widths = [max([_width(h), *(_width(v) for v in col)]) for h, col in zip(header, columns, strict=True)]
    rule = "+" + "+".join("-" * w for w in widths) + "+"

    def line(cells: Sequence[str]) -> str:
        return "|" + "|".join(c + " " * (w - _width(c)) for c, w in zip(cells, widths, strict=True)) + "|"

    print("\n".join([rule, line(header), rule, *(line(row) for row in zip(*columns, strict=True)), rule]), file=out)
    note = f"({total} row{'' if total == 1 else 's'}"
    print(note + (f", showing {shown.num_rows})" if shown.num_rows < total else ")"), file=out)
    return shown.num_rows


def _write_json(schema: pa.Schema, batches: Iterator[pa.RecordBatch], out: TextIO) -> int:
    keys = _unique(schema.names)
    rows = 0
    out.write("[")
    for batch in batches:
        columns = [_json_column(batch.column(i), f.type) for i, f in enumerate(schema)]
        for values in zip(*columns, strict=True):
            out.write(("," if rows else "") + "\n" + json.dumps(dict(zip(keys, values, strict=True)),
                                                                 ensure_ascii=False, allow_nan=False))
            rows += 1
    out.write("\n]\n" if rows else "]\n")
    return rows


def _write_csv(schema: pa.Schema, batches: Iterator[pa.RecordBatch], out: TextIO) -> int:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(schema.names)
    rows = 0
    for batch in batches:
        columns = [[_csv_cell(v) for v in _json_column(batch.column(i), f.type)] for i, f in enumerate(schema)]
        writer.writerows(zip(*columns, strict=True))
        rows += batch.num_rows
    return rows


def _unique(names: Sequence[str]) -> list[str]:
    """JSON keys: a repeated column name (`a.id, b.id`) becomes `id_1`, `id_2`, ... instead of overwriting."""
    seen: dict[str, int] = {}
    keys = []
    for name in names:
        key, n = name, seen.get(name, 0)
        while key in seen:
            n += 1
            key = f"{name}_{n}"
        seen[name] = n
        seen.setdefault(key, 0)
        keys.append(key)
    return keys


def _json_column(values: pa.Array, t: pa.DataType) -> list[Any]:
    """A column as JSON values; JSON-native types straight from Arrow, the rest value by value."""
    if pa.types.is_integer(t) or pa.types.is_boolean(t) or pa.types.is_string(t) or pa.types.is_large_string(t):
        return values.to_pylist()
    convert = _json_converter(t)
    return [None if v is None else convert(v) for v in values.to_pylist()]


def _json_converter(t: pa.DataType) -> Callable[[Any], Any]:
    """value -> JSON value for one Arrow type (nested types convert their children by their own types)."""
    if pa.types.is_map(t):
        key, item = _json_converter(t.key_type), _json_converter(t.item_type)
        if pa.types.is_string(t.key_type) or pa.types.is_large_string(t.key_type):
            return lambda pairs: {k: None if v is None else item(v) for k, v in pairs}
        return lambda pairs: [{"key": key(k), "value": None if v is None else item(v)} for k, v in pairs]
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        element = _json_converter(t.value_type)
        return lambda values: [None if v is None else element(v) for v in values]
    if pa.types.is_struct(t):
        fields = [(f.name, _json_converter(f.type)) for f in t]
        return lambda row: {name: None if row[name] is None else convert(row[name]) for name, convert in fields}
    if pa.types.is_decimal(t):
        return lambda d: format(d, "f")
    if pa.types.is_floating(t):
        return lambda x: x if math.isfinite(x) else _non_finite(x)
    if pa.types.is_temporal(t) and not pa.types.is_interval(t) and not pa.types.is_duration(t):
        return lambda v: v.isoformat()
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t):
        return lambda b: b.hex()
    if pa.types.is_interval(t):
        return lambda i: {"months": i.months, "days": i.days, "nanoseconds": i.nanoseconds}
    return lambda v: v if isinstance(v, str | int | float | bool) else str(v)


def _non_finite(x: float) -> str:
    """JSON has no number for NaN and the infinities; Spark writes them as these strings."""
    return "NaN" if math.isnan(x) else ("Infinity" if x > 0 else "-Infinity")


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


_NULL = "NULL"


def _show(value: Any, t: pa.DataType) -> str:
    """A cell as Spark's `show` writes it: `[a, b]`, `{f1, f2}`, `{k -> v}`, times without the zone."""
    if pa.types.is_map(t):
        return "{" + ", ".join(f"{_cell(k, t.key_type)} -> {_cell(v, t.item_type)}" for k, v in value) + "}"
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        return "[" + ", ".join(_cell(v, t.value_type) for v in value) + "]"
    if pa.types.is_struct(t):
        return "{" + ", ".join(_cell(value[f.name], f.type) for f in t) + "}"
    if pa.types.is_boolean(t):
        return "true" if value else "false"
    if pa.types.is_decimal(t):
        return format(value, "f")
    if pa.types.is_timestamp(t):  # zoned ones are in the session time zone already (`_session_zone`)
        text = value.strftime("%Y-%m-%d %H:%M:%S")
        return text + f".{value.microsecond:06d}".rstrip("0") if value.microsecond else text
    if pa.types.is_floating(t):
        return _non_finite(value) if not math.isfinite(value) else repr(value)
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t):
        return "[" + " ".join(f"{b:02X}" for b in value) + "]"
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _cell(value: Any, t: pa.DataType) -> str:
    return _NULL if value is None else _show(value, t)


def _width(text: str) -> int:
    """Terminal columns of `text`: East Asian wide and full-width characters take two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)
