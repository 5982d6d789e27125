"""``datastore_search`` over the open Delta tables, read with deltalake + pyarrow (no Spark, no pandas).

A dataset's open table is `<tables root>/<name>` (the lake's location stays out of the public records);
`TableCache` opens it once per published version (keyed by the record, so a table rewritten before
catalog.json is updated keeps serving the rows the catalog describes). Tables that fit the memory budget
are held as Arrow tables — a request then evaluates its condition to row indices and copies only the page
it returns; larger ones stay file-backed and every request scans them (the filter pushed into the Parquet
reader where no ``_id`` is needed before it). Filters, ``q`` and ``sort`` become
pyarrow expressions and kernels; only the returned page is turned into Python values. Tables need the
reader features pyarrow datasets support (no deletion vectors: `jobs.io.spark` turns them off).

``_id`` is CKAN's row id: here the row's 1-based position in the published version of the table, so it
is stable for that version (paging, ``filters``, ``sort`` on it all work) and not across publishes; the
field's ``info`` says so, since a Delta table has no row id of its own to offer as a key.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Mapping
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from jobs.publish.cells import text as cell_text
from jobs.publish.ckan_actions import Catalog
from jobs.publish.ckan_params import (
    TRUE_WORDS,
    DataUnavailable,
    ValidationError,
    boolean,
    integer,
    invalid,
    json_value,
    require,
    string_list,
    text,
)
from jobs.publish.records import OpenDataset

log = logging.getLogger(__name__)

ROWS_DEFAULT = 100
ROWS_MAX = 32000  # CKAN's ckan.datastore.search.rows_max
MEMORY_BYTES_DEFAULT = 512 * 1024 * 1024
#: Parquet on disk is compressed; Arrow in memory is roughly this many times larger
_EXPANSION = 4
_LINK_PARAMS = ("resource_id", "filters", "q", "full_text", "fields", "sort", "include_total", "records_format",
                "distinct")
_FALSE_WORDS = frozenset({"false", "f", "no", "n", "0", "off"})

TableKey = tuple[str, int, str]


def table_key(dataset: OpenDataset) -> TableKey:
    """Which published version of which table a record describes."""
    return (dataset.name, dataset.version, dataset.modified)


SortKeys = tuple[tuple[str, str, str], ...]


class OpenTable:
    """One published version of a table: a dataset to scan, and its Arrow table when held in memory.

    Whole-table sort orders are remembered (a few per table), so paging through a sorted table sorts once.
    """

    max_orders = 8

    def __init__(self, dataset: ds.Dataset, table: pa.Table | None = None):
        self.dataset, self.table = dataset, table
        self.nbytes = table.nbytes if table is not None else 0
        self._orders: OrderedDict[SortKeys, pa.Array] = OrderedDict()
        self._lock = threading.Lock()

    def order(self, keys: SortKeys) -> pa.Array:
        """Row indices of the in-memory table sorted by `keys` (stable, so pages never overlap)."""
        assert self.table is not None
        with self._lock:
            if (found := self._orders.get(keys)) is not None:
                self._orders.move_to_end(keys)
                return found
        order = pc.sort_indices(self.table, sort_keys=list(keys))
        with self._lock:
            self._orders[keys] = order
            while len(self._orders) > self.max_orders:
                self._orders.popitem(last=False)
            self.nbytes = self.table.nbytes + sum(o.nbytes for o in self._orders.values())
        return order


class TableCache:
    """Open Delta tables by `table_key`, in memory when they fit `memory_bytes` (least recently used first out).

    `tables_root` is the folder or object-store URI holding the zone's tables, one per dataset name;
    `storage_options` are passed to deltalake for s3:// tables only (local paths need none).
    """

    def __init__(self, tables_root: str, storage_options: Mapping[str, str] | None = None, *,
                 memory_bytes: int = MEMORY_BYTES_DEFAULT, max_tables: int = 64):
        self.tables_root = tables_root.rstrip("/")
        self.storage_options = dict(storage_options or {})
        self.memory_bytes, self.max_tables = memory_bytes, max_tables
        self._entries: OrderedDict[TableKey, OpenTable] = OrderedDict()
        self._loading: dict[TableKey, threading.Lock] = {}
        self._lock = threading.Lock()

    def open(self, record: OpenDataset) -> OpenTable:
        key = table_key(record)
        with self._lock:
            if (entry := self._entries.get(key)) is not None:
                self._entries.move_to_end(key)
                return entry
            loading = self._loading.setdefault(key, threading.Lock())
        with loading:  # concurrent first requests open the table once
            with self._lock:
                if (entry := self._entries.get(key)) is not None:
                    return entry
            try:
                entry = self._open(record)
            finally:
                with self._lock:
                    self._loading.pop(key, None)
            with self._lock:
                self._entries[key] = entry
                self._evict()
        return entry

    def retain(self, live: set[TableKey]) -> None:
        """Forget versions no catalog record describes any more (after a new publish)."""
        with self._lock:
            for key in [k for k in self._entries if k not in live]:
                del self._entries[key]

    def _evict(self) -> None:
        while len(self._entries) > 1 and (len(self._entries) > self.max_tables
                                          or sum(e.nbytes for e in self._entries.values()) > self.memory_bytes):
            self._entries.popitem(last=False)

    def location(self, record: OpenDataset) -> str:
        """Where the open Delta table of `record` lives."""
        return f"{self.tables_root}/{record.name}"

    def _open(self, record: OpenDataset) -> OpenTable:
        from deltalake import DeltaTable
        from deltalake.exceptions import DeltaError

        location = self.location(record)
        options = self.storage_options if "://" in location else None
        try:
            table = DeltaTable(location, storage_options=options)
            source = table.to_pyarrow_dataset()
            on_disk = sum(pa.table(table.get_add_actions(flatten=True)).column("size_bytes").to_pylist())
            if on_disk * _EXPANSION > self.memory_bytes:
                log.info("datastore: %s (%d bytes of Parquet) is scanned per request", record.name, on_disk)
                return OpenTable(source)
            loaded = with_row_ids(source.to_table()).combine_chunks()  # take() on one chunk per column is cheaper
        except (DeltaError, OSError, pa.ArrowException) as exc:
            log.error("datastore: cannot read table %s of dataset %s: %s", location, record.name, exc)
            raise DataUnavailable(f"dataset {record.name}: its table cannot be read") from exc
        log.info("datastore: %s held in memory (%d rows, %d bytes)", record.name, loaded.num_rows, loaded.nbytes)
        return OpenTable(ds.dataset(loaded), loaded)


ROW_ID = "_id"
_ROW_ID_INFO = {"label": "_id", "notes": "行号：该发布版本中的行序号（1 起），仅在同一版本内稳定 / row number in this "
                "published version, stable within it only"}


def with_row_ids(table: pa.Table, first: int = 1) -> pa.Table:
    """`table` with CKAN's ``_id`` in front: positions counted from `first`."""
    ids = pa.array(range(first, first + table.num_rows), pa.int64())
    return table.add_column(0, ROW_ID, ids)


# ---------------------------------------------------------------------------------------------- types


def ckan_type(t: pa.DataType) -> str:
    """The PostgreSQL type name CKAN's datastore reports for a column of Arrow type `t`."""
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return "text"
    if pa.types.is_integer(t):
        return "int8" if t.bit_width == 64 or pa.types.is_unsigned_integer(t) else "int4"
    if pa.types.is_floating(t):
        return "float8"
    if pa.types.is_decimal(t):
        return "numeric"
    if pa.types.is_timestamp(t):
        return "timestamptz" if t.tz else "timestamp"
    if pa.types.is_date(t):
        return "date"
    if pa.types.is_boolean(t):
        return "bool"
    if pa.types.is_time(t):
        return "time"
    return "text"


def _is_text(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t)


def _coerce(value: Any, t: pa.DataType, column: str) -> pa.Scalar:
    """A filter value (JSON or query text) as a scalar of the column's type."""
    try:
        if _is_text(t):
            return pa.scalar(str(value), t)
        if isinstance(value, bool) and not pa.types.is_boolean(t):
            raise ValueError("a boolean")
        if pa.types.is_integer(t):
            return pa.scalar(value if isinstance(value, int) else int(str(value).strip()), t)
        if pa.types.is_floating(t):
            return pa.scalar(float(value), t)
        if pa.types.is_decimal(t):
            return pa.scalar(Decimal(str(value).strip()), t)
        if pa.types.is_timestamp(t):
            moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).strip())
            return pa.scalar(moment, t)
        if pa.types.is_date(t):
            return pa.scalar(date.fromisoformat(str(value).strip()[:10]), t)
        if pa.types.is_boolean(t):
            word = str(value).strip().lower()
            if not isinstance(value, bool) and word not in TRUE_WORDS | _FALSE_WORDS:
                raise ValueError("not a boolean")
            return pa.scalar(value if isinstance(value, bool) else word in TRUE_WORDS, t)
        return pa.scalar(value, t)
    except (ValueError, TypeError, ArithmeticError, pa.ArrowException):
        raise invalid("filters", f'invalid value for field "{column}" ({ckan_type(t)}): {value!r}') from None


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else value
    if isinstance(value, bytes):
        return value.hex()
    return value


def json_column(values: pa.ChunkedArray) -> list[Any]:
    """A column of a page as JSON values, converted by Arrow where it can (Python datetimes with zone info
    and Decimals cost ten times more than the rest of a request).

    Decimals become exact numbers (Decimal, integers when the scale is 0), dates ``YYYY-MM-DD``, timestamps ISO 8601 as
    Python's isoformat writes them (``2026-11-01T08:00:00``, ``+00:00`` for zoned columns, which are UTC).
    """
    t = values.type
    try:
        if pa.types.is_decimal(t):  # exact: the same digits as every download (Decimal, written as a number)
            if t.scale == 0:
                return pc.cast(values, pa.int64()).to_pylist()
            return [None if v is None else Decimal(v) for v in pc.cast(values, pa.string()).to_pylist()]
        if pa.types.is_date(t):
            return pc.cast(values, pa.string()).to_pylist()
        if pa.types.is_timestamp(t) and t.unit != "s":
            whole = pc.cast(values, pa.timestamp("s", tz="UTC" if t.tz else None))  # refuses to drop fractions
            text_ = pc.strftime(whole, format="%Y-%m-%dT%H:%M:%S").to_pylist()
            return [v + "+00:00" if v is not None and t.tz else v for v in text_]
    except pa.ArrowInvalid:
        pass  # sub-second timestamps, decimals beyond int64: Python below
    if _is_text(t) or pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t):
        return values.to_pylist()
    return [_json_value(v) for v in values.to_pylist()]


# ---------------------------------------------------------------------------------------------- query


def _condition(schema: pa.Schema, filters: Any, q: Any) -> tuple[pc.Expression | None, list[str]]:
    """The rows `filters` and `q` select, and the columns that takes."""
    parts: list[pc.Expression] = []
    used: list[str] = []
    if filters not in (None, ""):
        if not isinstance(filters, dict):
            raise invalid("filters", "Not a JSON object")
        for column, wanted in filters.items():
            if column not in schema.names:
                raise invalid("filters", f'field "{column}" not in resource')
            values = wanted if isinstance(wanted, list) else [wanted]
            used.append(column)
            t = schema.field(column).type
            concrete = [_coerce(v, t, column) for v in values if v is not None]
            field = pc.field(column)
            expr = (field.isin(pa.array([s.as_py() for s in concrete], t)) if len(concrete) > 1
                    else field == concrete[0] if concrete else pc.scalar(False))
            parts.append(expr | field.is_null() if None in values else expr)
    if isinstance(q, dict):
        for column, words in q.items():
            if column not in schema.names:
                raise invalid("q", f'field "{column}" not in resource')
            used.append(column)
            field = pc.field(column) if _is_text(schema.field(column).type) else pc.field(column).cast(pa.string())
            parts.extend(_contains(field, w) for w in str(words).split())
    elif q not in (None, ""):
        texts = [n for n in schema.names if _is_text(schema.field(n).type)]
        used.extend(texts)
        for word in str(q).split():
            hits = [_contains(pc.field(n), word) for n in texts]
            parts.append(_any(hits) if hits else pc.scalar(False))
    return (_all(parts) if parts else None), list(dict.fromkeys(used))


def _contains(field: pc.Expression, word: str) -> pc.Expression:
    """Substring match, case-insensitive only when `word` has case (Chinese has none; the folding costs 2x)."""
    return pc.match_substring(field, word, ignore_case=word.lower() != word.upper())


def _any(exprs: list[pc.Expression]) -> pc.Expression:
    out = exprs[0]
    for e in exprs[1:]:
        out = out | e
    return out


def _all(exprs: list[pc.Expression]) -> pc.Expression:
    out = exprs[0]
    for e in exprs[1:]:
        out = out & e
    return out


def _sort_keys(sort: str, names: list[str]) -> SortKeys:
    """``col [asc|desc], ...`` with PostgreSQL's null order (CKAN's datastore is PostgreSQL): nulls sort
    as the largest value, last ascending and first descending."""
    keys: list[tuple[str, str, str]] = []
    for part in (p.strip() for p in sort.split(",")):
        if not part:
            continue
        column, _, direction = part.rpartition(" ") if part.lower().endswith((" asc", " desc")) else (part, "", "asc")
        column = column.strip().strip('"')
        if column not in names:
            raise invalid("sort", f'field "{column}" not in resource')
        descending = direction.lower() == "desc"
        keys.append((column, "descending", "at_start") if descending else (column, "ascending", "at_end"))
    return tuple(keys)


def _page(opened: OpenTable, condition: pc.Expression | None, columns: list[str], sort_keys: SortKeys,
          offset: int, limit: int, *, count: bool, needs_ids: bool, reads: list[str]) -> tuple[pa.Table, int | None]:
    """The rows [offset, offset + limit) of the matching rows in sort order, and how many match.

    A table too big to hold is scanned; ``_id`` (its rows' positions) then costs a scan without the
    filter pushed down when the request filters or sorts on it, and a position count per batch otherwise.
    """
    if opened.table is not None:
        return _page_in_memory(opened, opened.table, condition, columns, sort_keys, offset, limit)
    source = opened.dataset
    needs_ids = needs_ids or bool(sort_keys) and ROW_ID in columns  # sorted: the positions before sorting
    if needs_ids or sort_keys:
        needed = [c for c in dict.fromkeys([*columns, *(k[0] for k in sort_keys)]) if c != ROW_ID]
        whole = with_row_ids(source.to_table(columns=needed)) if needs_ids else source.to_table(
            filter=condition, columns=needed)
        held = OpenTable(ds.dataset(whole), whole)
        return _page_in_memory(held, whole, condition if needs_ids else None, columns, sort_keys, offset, limit)
    total = source.count_rows(filter=condition) if count else None
    stored = [c for c in columns if c != ROW_ID]
    batches: list[pa.Table] = []
    skip, wanted, seen = offset, limit, 0
    for batch in source.to_batches(columns=list(dict.fromkeys([*stored, *reads]))):
        if wanted <= 0:
            break
        part = pa.Table.from_batches([batch])
        positions = (pc.indices_nonzero(ds.dataset(part).to_table(columns={"m": condition}).column("m"))
                     if condition is not None else pa.array(range(part.num_rows), pa.uint64()))
        if skip >= len(positions):
            skip, seen = skip - len(positions), seen + part.num_rows
            continue
        chosen = positions[skip:skip + wanted]
        ids = pc.add(pc.cast(chosen, pa.int64()), seen + 1)
        batches.append(part.select(stored).take(chosen).add_column(0, ROW_ID, ids))
        skip, wanted, seen = 0, wanted - len(chosen), seen + part.num_rows
    schema = pa.schema([pa.field(ROW_ID, pa.int64()), *(source.schema.field(c) for c in stored)])
    page = pa.concat_tables(batches) if batches else schema.empty_table()
    return page.select(columns), total


def _page_in_memory(opened: OpenTable, table: pa.Table, condition: pc.Expression | None, columns: list[str],
                    sort_keys: SortKeys, offset: int, limit: int) -> tuple[pa.Table, int]:
    """Work on row indices, so only the returned page is copied: the condition is evaluated as one boolean
    column (not a filtered copy of every column), sorting reads only the sort columns of matching rows."""
    if condition is None:
        if sort_keys:
            return table.select(columns).take(opened.order(sort_keys)[offset:offset + limit]), table.num_rows
        return table.select(columns).slice(offset, limit), table.num_rows
    mask = opened.dataset.to_table(columns={"match": condition}).column("match")
    matches = pc.indices_nonzero(mask)  # nulls do not match, as in SQL
    if sort_keys:
        keyed = table.select([k[0] for k in sort_keys]).take(matches)
        chosen = matches.take(pc.sort_indices(keyed, sort_keys=list(sort_keys))[offset:offset + limit])
    else:
        chosen = matches[offset:offset + limit]
    return table.select(columns).take(chosen), len(matches)


def _links(path: str, params: Mapping[str, Any], offset: int, limit: int) -> dict[str, str]:
    base: dict[str, str] = {}
    for name in _LINK_PARAMS:
        value = params.get(name)
        if value is None or value == "":
            continue
        base[name] = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    base["limit"] = str(limit)
    links = {"start": f"{path}?{urlencode(base)}",
             "next": f"{path}?{urlencode({**base, 'offset': offset + limit})}"}
    if offset > 0:
        links["prev"] = f"{path}?{urlencode({**base, 'offset': max(offset - limit, 0)})}"
    return links


#: the parameters CKAN's datastore_search schema declares; any other is refused after the resource lookup
PARAMETERS = frozenset({"resource_id", "id", "filters", "q", "full_text", "plain", "distinct", "language", "limit",
                        "offset", "fields", "sort", "include_total", "total_estimation_threshold", "records_format"})
RECORDS_FORMATS = ("objects", "lists", "csv", "tsv")


def datastore_search(catalog: Catalog, tables: TableCache, params: Mapping[str, Any], *,
                     path: str = "/api/3/action/datastore_search") -> dict[str, Any]:
    """Rows of a dataset's table. Parameters: resource_id (or id), filters, q (or full_text), plain, language,
    distinct, fields, sort, limit (default 100, at most 32000), offset, include_total,
    total_estimation_threshold, records_format (objects|lists|csv|tsv). ``_id`` is the row's position in
    the published version."""
    if params.get("id") not in (None, ""):  # CKAN renames id to resource_id before validating
        params = {**params, "resource_id": params["id"]}
    resource_id = require(params, "resource_id")
    record = catalog.datastore_dataset(resource_id)
    if unknown := sorted(k for k in params if k not in PARAMETERS):
        raise ValidationError({"__extras": [f'invalid value "{k}"' for k in unknown]})
    limit = integer(params, "limit", ROWS_DEFAULT, maximum=ROWS_MAX)
    offset = integer(params, "offset", 0)
    records_format = text(params, "records_format", "objects")
    if records_format not in RECORDS_FORMATS:
        raise invalid("records_format", f"Value must be one of {list(RECORDS_FORMATS)}")
    integer(params, "total_estimation_threshold", 0)  # validated; every total here is exact
    opened = tables.open(record)
    schema = opened.dataset.schema
    if ROW_ID not in schema.names:
        schema = pa.schema([pa.field(ROW_ID, pa.int64()), *schema])
    columns = string_list(params, "fields") or list(schema.names)
    if unknown := [c for c in columns if c not in schema.names]:
        raise invalid("fields", f'field "{unknown[0]}" not in resource')
    distinct = boolean(params, "distinct", False)
    if distinct:  # SELECT DISTINCT over the chosen fields: a row id would make every row distinct
        columns = [c for c in columns if c != ROW_ID] or columns
    q = json_value(params, "q") if "q" in params else text(params, "full_text") or None
    filters = json_value(params, "filters")
    condition, reads = _condition(schema, filters, q)
    sort = text(params, "sort").strip()
    sort_keys = _sort_keys(sort, list(schema.names))
    include_total = boolean(params, "include_total", True)
    needs_ids = ROW_ID in reads or any(k[0] == ROW_ID for k in sort_keys)
    total: int | None
    try:
        if distinct:
            page, total = _distinct_page(opened, condition, columns, sort_keys, offset, limit)
        else:
            page, total = _page(opened, condition, columns, sort_keys, offset, limit, count=include_total,
                                needs_ids=needs_ids, reads=[r for r in reads if r != ROW_ID])
    except (OSError, pa.ArrowException) as exc:
        log.error("datastore: reading %s failed: %s", tables.location(record), exc)
        raise DataUnavailable(f"dataset {record.name}: its table cannot be read") from exc
    info = {f.name: f for f in record.fields}
    fields = []
    for c in columns:
        field: dict[str, Any] = {"id": c, "type": "int" if c == ROW_ID else ckan_type(schema.field(c).type)}
        if c == ROW_ID:
            field["info"] = dict(_ROW_ID_INFO)
        elif c in info:
            field["info"] = {"label": info[c].title, "notes": info[c].description}
        fields.append(field)
    result: dict[str, Any] = {
        "resource_id": resource_id, "fields": fields, "records": _records(page, columns, records_format),
        "limit": limit, "offset": offset, "records_format": records_format,
        "include_total": include_total, "total_estimation_threshold": None, "total_was_estimated": False,
        "_links": _links(path, params, offset, limit),
    }
    if include_total and total is not None:
        result["total"] = total
    for name, value in (("filters", filters), ("q", q), ("sort", sort)):
        if value:
            result[name] = value
    if distinct:
        result["distinct"] = True
    return result


def _records(page: pa.Table, columns: list[str], records_format: str) -> Any:
    """The page as CKAN writes it: objects, lists, or one CSV/TSV text without a header (PostgreSQL's COPY)."""
    if records_format in ("csv", "tsv"):
        out = io.StringIO()
        writer = csv.writer(out, delimiter="," if records_format == "csv" else "\t", lineterminator="\n")
        texts = [cell_text(page.column(c).combine_chunks()).to_pylist() for c in columns]
        writer.writerows(zip(*texts, strict=True))
        return out.getvalue()
    values = [json_column(page.column(c)) for c in columns]
    rows = [list(r) for r in zip(*values, strict=True)] if values else []
    return [dict(zip(columns, r, strict=True)) for r in rows] if records_format == "objects" else rows


def _distinct_page(opened: OpenTable, condition: pc.Expression | None, columns: list[str], sort_keys: SortKeys,
                   offset: int, limit: int) -> tuple[pa.Table, int]:
    """Distinct combinations of `columns` among the matching rows (first seen first unless sorted)."""
    if any(k[0] not in columns for k in sort_keys):
        raise invalid("sort", "with distinct, sort only on the fields returned")
    source = opened.dataset
    stored = [c for c in columns if c in source.schema.names]
    if not stored or len(stored) != len(columns):
        raise invalid("distinct", "only on stored fields (not _id)")
    matched = source.to_table(filter=condition, columns=stored) if condition is not None else \
        source.to_table(columns=stored)
    unique = matched.group_by(stored, use_threads=False).aggregate([]).select(columns)
    if sort_keys:
        unique = unique.take(pc.sort_indices(unique, sort_keys=list(sort_keys)))
    return unique.slice(offset, limit), unique.num_rows
