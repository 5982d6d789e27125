"""The ops zone's own tables: the ingest manifest, the run ledger and validation results.

They are small Delta tables, appended once per event with a transaction id, so a retried task
records nothing twice. Steps read them to know what is pending: Airflow's task state is not the
record of what happened (a killed task can be reported successful); these tables are.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from datetime import date, datetime
from typing import TYPE_CHECKING, NamedTuple

import pyarrow as pa
from pyspark.sql import functions as F
from pyspark.sql import types as T

from jobs.io import delta, deltars
from jobs.io.tables import remember
from jobs.settings import Settings

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

_PY_TO_SPARK = {str: T.StringType(), int: T.LongType(), datetime: T.TimestampType(), bool: T.BooleanType(),
                float: T.DoubleType()}


@dataclass(frozen=True)
class ManifestEntry:
    """One landing file seen by ingest, and what became of it."""

    resource: str
    file: str
    sha256: str
    size: int
    status: str  # ingested | duplicate | rejected
    batch_id: str
    rows_read: int
    malformed: int
    detail: str
    moved_to: str
    recorded_at: datetime
    #: Location key: the object's ETag (S3) or size and mtime (local) when it was read.
    etag: str = ""
    #: 1 for the first content seen under this name, 2 for the next different content, ...
    version: int = 1
    #: the encoding the catalog declares for the resource's text exports, and the one the file was read
    #: with (a BOM or valid UTF-8 wins over the label; GBK / GB2312 are read as GB18030); empty for XLSX
    #: and for files that were not read (duplicates, rejections before decoding finished)
    declared_encoding: str = ""
    encoding: str = ""


@dataclass(frozen=True)
class LedgerEntry:
    """What one step did to one batch."""

    resource: str
    batch_id: str
    step: str  # ingest | conform | validate | publish | erase
    source_file: str
    rows_read: int
    rows_bronze: int
    rows_accepted: int
    rows_quarantined: int
    rows_warned: int
    rows_published: int
    status: str  # ok | failed | skipped
    detail: str
    recorded_at: datetime


@dataclass(frozen=True)
class DriftEntry:
    """How one file's columns differed from the catalog (JSON lists), for the providing department."""

    resource: str
    department: str
    batch_id: str
    file: str
    policy: str
    action: str  # rejected | rescued | evolved
    added: str
    missing: str
    renamed: str
    retyped: str
    recorded_at: datetime


@dataclass(frozen=True)
class ScorecardEntry:
    """A department's delivery quality for one resource, as of `computed_at` (see jobs.transforms.scorecard)."""

    department: str
    resource: str
    update_cycle: str
    batches: int
    periods: int
    periods_delivered: int
    on_time_rate: float | None
    rows_read: int
    rows_quarantined: int
    quarantine_rate: float | None
    drift_files: int
    expectations_evaluated: int
    expectations_passed: int
    expectation_pass_rate: float | None
    recent_quarantine_rates: str
    trend: str
    computed_at: datetime


@dataclass(frozen=True)
class ValidationEntry:
    """The outcome of one expectation on one batch."""

    resource: str
    batch_id: str
    run_name: str
    expectation: str
    column: str
    severity: str
    success: bool
    observed: str
    recorded_at: datetime


def schema_of(cls: type) -> T.StructType:
    hints = {f.name: f.type for f in fields(cls)}
    names = {"str": str, "int": int, "datetime": datetime, "bool": bool, "float": float}
    return T.StructType([T.StructField(n, _PY_TO_SPARK[names[t.removesuffix(" | None")] if isinstance(t, str) else t],
                                       True) for n, t in hints.items()])


@dataclass(frozen=True)
class ErasureEntry:
    """One phase of an erasure request (`jobs.steps.erase`) for one resource: `started` before anything is
    changed, `done` once every zone and published file is clear. The person is named only by a keyed hash."""

    erasure_id: str
    resource: str
    subject: str  # key | resident_id
    subject_hash: str
    status: str  # started | done
    #: JSON: rows removed per zone table, archived exports rewritten or withdrawn, open versions withdrawn
    removed: str
    detail: str
    #: when VACUUM may delete the files that still hold the person (the time-travel retention from now)
    purge_after: datetime
    recorded_at: datetime


TABLES = {"manifest": ManifestEntry, "ledger": LedgerEntry, "validations": ValidationEntry, "drift": DriftEntry,
          "scorecard": ScorecardEntry, "erasures": ErasureEntry}


def _path(settings: Settings, table: str):  # noqa: ANN202
    return settings.table_path("ops", table)


def arrow_schema_of(cls: type) -> pa.Schema:
    """The same columns as `schema_of`, for delta-rs: Spark's TimestampType is a UTC instant."""
    types = {"StringType()": pa.string(), "LongType()": pa.int64(), "TimestampType()": pa.timestamp("us", tz="UTC"),
             "BooleanType()": pa.bool_(), "DoubleType()": pa.float64()}
    return pa.schema([pa.field(f.name, types[repr(f.dataType)], nullable=True) for f in schema_of(cls)])


def txn_id(table: str, entries: Sequence, once: str) -> str:
    """The idempotency id of one append to a shared ops table: `<table>:<resource>:<once>`.

    Every resource appends to the same ops tables, and batch ids are content hashes: the same file delivered
    to two resources makes the same batch id in both. An id without the resource would let the first
    resource's entry stand for the second's (its ledger rows silently never written), so the resource is
    part of every id, taken from the entries themselves rather than trusted to each caller. Entries about
    several resources at once (the scorecard) are scoped by a digest of their sorted names.
    """
    resources = sorted({e.resource for e in entries})
    if not resources:
        raise ValueError(f"no entries to record in ops.{table} ({once})")
    scope = resources[0] if len(resources) == 1 else \
        "resources-" + hashlib.sha256("\n".join(resources).encode("utf-8")).hexdigest()[:16]
    return f"{table}:{scope}:{once}"


def record(spark: SparkSession | None, settings: Settings, table: str, entries: list, *, once: str) -> None:
    """Append entries to an ops table exactly once per resource and `once` (see `txn_id`).

    Written by delta-rs (`jobs.io.deltars`): tasks of all resources append here at the same time, and
    delta-rs commits atomically on S3 where Spark's Delta writer does not. A table written by an older
    citylake gains new columns (schema merge) instead of failing.
    """
    location = _path(settings, table)
    deltars.append_once([asdict(e) for e in entries], arrow_schema_of(TABLES[table]), location, settings,
                        txn_app_id=txn_id(table, entries, once))
    remember(spark, location)


def create_tables(spark: SparkSession, settings: Settings) -> dict[str, str]:
    """Create every ops table that does not exist yet (empty, by delta-rs) and return zone.table -> location.

    Run once by `citylake metastore`, so the shared tables exist and are named before tasks of many
    resources append to them at once.
    """
    out = {}
    for table, cls in TABLES.items():
        location = _path(settings, table)
        deltars.create_if_missing(arrow_schema_of(cls), location, settings)
        out[f"ops.{table}"] = location
    return out


def read(spark: SparkSession, settings: Settings, table: str, resource: str | None = None) -> DataFrame:
    df = delta.read_or_empty(spark, _path(settings, table), schema_of(TABLES[table]))
    return df.where(F.col("resource") == resource) if resource else df


def arrow(settings: Settings, table: str, columns: Sequence[str], **equal: str) -> pa.Table:
    """`rows` as one Arrow table (empty, with the table's types, when the ops table does not exist yet)."""
    found = deltars.read_table(_path(settings, table), settings, columns=columns, equal=equal)
    return found if found is not None else arrow_schema_of(TABLES[table]).empty_table().select(list(columns))


def rows(settings: Settings, table: str, columns: Sequence[str], **equal: str) -> list[dict]:
    """The entries of ops `table` whose columns equal `equal` (e.g. `resource=`, `step=`), read by delta-rs:
    the lookups a step starts with cost milliseconds instead of a Spark job each."""
    return deltars.read_rows(_path(settings, table), settings, columns=columns, equal=equal)


class IngestedBatch(NamedTuple):
    batch_id: str
    source_file: str
    rows_read: int
    ingested_on: date


def ingested_batches(settings: Settings, resource: str) -> list[IngestedBatch]:
    """Every ingested batch of a resource, oldest first: batches one ingest call recorded at the same instant
    in the order it ingested them, their files' name order (a backlog of daily exports, oldest day first), so
    validate MERGEs a later export after an earlier one."""
    found = rows(settings, "manifest", ("batch_id", "file", "rows_read", "recorded_at"), resource=resource,
                 status="ingested")
    found.sort(key=lambda r: (r["recorded_at"], r["file"], r["batch_id"]))
    erased = erased_rows(settings, resource)
    return [IngestedBatch(r["batch_id"], r["file"], r["rows_read"] - erased.get(r["batch_id"], 0),
                          r["recorded_at"].date()) for r in found]


def erased_rows(settings: Settings, resource: str) -> dict[str, int]:
    """Rows of each bronze batch an erasure removed (ledger step `erase`): bronze holds that many fewer than
    the file had, which a replay of the batch must expect."""
    out: dict[str, int] = {}
    for r in rows(settings, "ledger", ("batch_id", "rows_bronze"), resource=resource, step="erase"):
        out[r["batch_id"]] = out.get(r["batch_id"], 0) + int(r["rows_bronze"])
    return out


def batches_ok(settings: Settings, resource: str, step: str) -> set[str]:
    """Batch ids that `step` finished successfully (a failed batch goes no further)."""
    return {r["batch_id"] for r in rows(settings, "ledger", ("batch_id",), resource=resource, step=step, status="ok")}


def batches_done(settings: Settings, resource: str, step: str) -> set[str]:
    """Batch ids that `step` recorded as finished (status ok or failed, i.e. not to be redone)."""
    return {r["batch_id"] for r in rows(settings, "ledger", ("batch_id",), resource=resource, step=step)}
