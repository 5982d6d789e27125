"""Appends to (and small reads of) the shared ops tables by delta-rs (the `deltalake` package) instead of Spark.

Every task of every resource appends to the same few ops tables (ledger, manifest, validations...). On S3,
Spark's Delta commits are safe for one writer only (`S3SingleDriverLogStore`: check, then a plain PUT), so
two drivers committing the same version at once lose one commit silently. delta-rs commits with an atomic
put-if-absent (a conditional PUT on S3, a no-replace rename on a local disk), so concurrent appenders all
land; the loser of a race retries on the next version. Spark still reads these tables; only their writes
go through here, because a single Spark writer would bring the race back.

The rows are a handful per call, so a few milliseconds of Python replace a Spark job per append. The same
holds for the lookups every step starts with (which batches are ingested, conformed, validated): a
filtered read of one small table here costs milliseconds, where Spark plans a snapshot, a scan and a
collect (0.3-0.8 s each on two cores).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pyarrow as pa

from jobs.settings import Settings


def storage_options(settings: Settings) -> dict[str, str]:
    """deltalake (object_store) options for s3:// tables, from the same settings as the boto3 client."""
    options = {"AWS_REGION": settings.s3_region}
    if settings.s3_endpoint:
        options["AWS_ENDPOINT_URL"] = settings.s3_endpoint
        options["AWS_FORCE_PATH_STYLE"] = "true"
        if settings.s3_endpoint.startswith("http://"):
            options["AWS_ALLOW_HTTP"] = "true"
    if settings.s3_access_key and settings.s3_secret_key:
        options["AWS_ACCESS_KEY_ID"] = settings.s3_access_key
        options["AWS_SECRET_ACCESS_KEY"] = settings.s3_secret_key
    return options


def table_uri(location: str | Path) -> str:
    """delta-rs speaks `s3://` where Hadoop speaks `s3a://`; local paths stay as they are."""
    parsed = urlparse(str(location))
    if parsed.scheme in ("s3a", "s3n"):
        return f"s3://{parsed.netloc}{parsed.path}"
    return str(location)


def utc(value: datetime) -> datetime:
    """The UTC instant Delta stores. A naive datetime is the driver process's local time, exactly as PySpark
    converts it in `createDataFrame` and back in `collect`, so both writers record the same instant."""
    return value.astimezone(UTC)


def append_once(rows: list[dict[str, Any]], schema: pa.Schema, location: str | Path, settings: Settings, *,
                txn_app_id: str, txn_version: int = 1) -> bool:
    """Append `rows` unless a write with the same transaction id already committed; True when written.

    The transaction id is Delta's own (`txn` action), the same one Spark's `txnAppId` option writes, so
    tables written before by Spark keep their idempotency record.
    """
    from deltalake.exceptions import CommitFailedError

    uri = table_uri(location)
    options = storage_options(settings) if uri.startswith("s3://") else None
    timestamps = {f.name for f in schema if pa.types.is_timestamp(f.type)}
    data = pa.Table.from_pylist(
        [{k: utc(v) if k in timestamps and v is not None else v for k, v in row.items()} for row in rows],
        schema=schema)
    for attempt in range(1, CREATE_RACE_ATTEMPTS + 1):
        try:
            return _append_unless_done(uri, data, options, txn_app_id, txn_version)
        except CommitFailedError:
            # two writers created the table at once: the loser appends to the winner's table
            if attempt == CREATE_RACE_ATTEMPTS:
                raise
    raise AssertionError("unreachable")


def read_rows(location: str | Path, settings: Settings, *, columns: Sequence[str],
              equal: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """The rows of a (small) table whose columns equal `equal`, as dicts; no rows when there is no table.

    Timestamps come back as naive local times, as PySpark's `collect` returns them, so code that compares
    them with values Spark read sees the same thing.
    """
    data = read_table(location, settings, columns=columns, equal=equal)
    if data is None:
        return []
    return [{k: local_time(v) if isinstance(v, datetime) else v for k, v in row.items()} for row in data.to_pylist()]


def read_table(location: str | Path, settings: Settings, *, columns: Sequence[str] | None,
               equal: dict[str, str] | None = None) -> pa.Table | None:
    """The columns (None: all) of a table's rows whose columns equal `equal`, as one Arrow table (columnar,
    for aggregating in Arrow rather than in Python); None when there is no table."""
    from deltalake import DeltaTable
    from deltalake.exceptions import TableNotFoundError

    uri = table_uri(location)
    options = storage_options(settings) if uri.startswith("s3://") else None
    try:
        table = DeltaTable(uri, storage_options=options)
    except TableNotFoundError:
        return None
    import pyarrow.compute as pc

    condition = None
    for key, value in (equal or {}).items():
        condition = pc.field(key) == value if condition is None else condition & (pc.field(key) == value)
    # One thread: these tables are small, and a threaded scan leaves Arrow's scanner threads alive into the
    # interpreter's shutdown, where they abort the process ("terminate called without an active exception",
    # exit 134) about one run in three after the work is done.
    return table.to_pyarrow_dataset().to_table(columns=list(columns) if columns is not None else None,
                                               filter=condition, use_threads=False)


def local_time(value: datetime) -> datetime:
    """A Delta timestamp (a UTC instant) as the naive local time PySpark's `collect` gives for it."""
    return value.astimezone().replace(tzinfo=None) if value.tzinfo is not None else value


def ordered_batches(location: str | Path, settings: Settings, *, version: int, columns: Sequence[str],
                    batch_rows: int = 65_536) -> Iterator[pa.RecordBatch]:
    """Record batches of one table version, file by file in the order Spark's writer numbered them.

    A table written from a globally sorted frame (`orderBy` before the write) holds one range of the sort
    per file, `part-00000-...` first, so reading the files in their part order reads the rows sorted. Memory
    is one batch at a time, whatever the table's size.
    """
    from deltalake import DeltaTable

    uri = table_uri(location)
    options = storage_options(settings) if uri.startswith("s3://") else None
    dataset = DeltaTable(uri, version=version, storage_options=options).to_pyarrow_dataset()
    for fragment in sorted(dataset.get_fragments(), key=lambda f: _part_order(f.path)):
        yield from fragment.to_batches(columns=list(columns), batch_size=batch_rows)


def _part_order(path: str) -> tuple[int, str]:
    """`.../part-00012-<uuid>.c000.snappy.parquet` -> (12, path); files not named so come last, by path."""
    match = re.search(r"part-(\d+)", path.rsplit("/", 1)[-1])
    return (int(match.group(1)) if match else 1 << 62, path)


def overwrite(data: pa.Table, location: str | Path, settings: Settings) -> None:
    """Replace a small table's content and schema in one commit (readers see the old or the new)."""
    from deltalake import write_deltalake

    uri = table_uri(location)
    options = storage_options(settings) if uri.startswith("s3://") else None
    write_deltalake(uri, data, mode="overwrite", schema_mode="overwrite", storage_options=options)


def create_if_missing(schema: pa.Schema, location: str | Path, settings: Settings) -> None:
    """An empty table with `schema`, unless one is there (a lost creation race is fine: it exists)."""
    from deltalake import write_deltalake
    from deltalake.exceptions import DeltaError

    uri = table_uri(location)
    options = storage_options(settings) if uri.startswith("s3://") else None
    try:
        write_deltalake(uri, schema.empty_table(), mode="ignore", storage_options=options)
    except DeltaError:
        from deltalake import DeltaTable

        DeltaTable(uri, storage_options=options)  # raises unless another writer created it


#: delta-rs retries conflicting appends itself; only creating a table can lose a race outright
CREATE_RACE_ATTEMPTS = 3


def _append_unless_done(uri: str, data: pa.Table, options: dict[str, str] | None, txn_app_id: str,
                        txn_version: int) -> bool:
    from deltalake import CommitProperties, DeltaTable, Transaction, write_deltalake
    from deltalake.exceptions import TableNotFoundError

    try:
        done = DeltaTable(uri, storage_options=options).transaction_version(txn_app_id)
    except TableNotFoundError:
        done = None
    if done is not None and done >= txn_version:
        return False
    write_deltalake(uri, data, mode="append", schema_mode="merge", storage_options=options,
                    commit_properties=CommitProperties(app_transactions=[Transaction(txn_app_id, txn_version)]))
    return True
