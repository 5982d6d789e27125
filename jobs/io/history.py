"""A lake table's history, read from its Delta log by delta-rs (no JVM): which version, when, what
operation, how many rows it added, changed or removed, and which batch of which step wrote it.

Every commit a step makes to a zone table carries a note in Delta's `userMetadata` (`commit_note`), so the
log itself says which batch a version came from: Spark's `DESCRIBE HISTORY` shows the same note. Row
counts come from the commit's `operationMetrics`, whose names differ between Spark and delta-rs and between
operations; `commit_from_log` reads both.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa

from jobs.errors import QueryError
from jobs.io.lake_tables import LakeTable
from jobs.io.spark import TIMEZONE
from jobs.settings import Settings

_NOTE = re.compile(r"(\w+)=(\S+)")


def commit_note(batch: str, step: str) -> str:
    """The `userMetadata` of a step's commit: `batch=<id> step=<step>` (readable, and parsed back here)."""
    return f"batch={batch} step={step}"


def parse_note(note: str | None) -> dict[str, str]:
    """The `key=value` words of a commit note (`{}` for a note in another form, or none)."""
    return dict(_NOTE.findall(note or ""))


@dataclass(frozen=True)
class Commit:
    """One version of a table, as `citylake history` shows it (and `--json` writes it, key by key)."""

    version: int
    timestamp: datetime
    operation: str
    rows_added: int | None
    rows_updated: int | None
    rows_removed: int | None
    batch: str | None
    step: str | None
    note: str | None
    engine: str | None

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "timestamp": self.timestamp.isoformat()}


#: operationMetrics names per count, Spark's and delta-rs' spellings; the first one present wins
_ADDED = ("numTargetRowsInserted", "num_target_rows_inserted", "numOutputRows", "num_added_rows")
_UPDATED = ("numTargetRowsUpdated", "num_target_rows_updated", "numUpdatedRows", "num_updated_rows")
_REMOVED = ("numTargetRowsDeleted", "num_target_rows_deleted", "numDeletedRows", "num_deleted_rows")
#: operations that rewrite files without changing rows: no row counts to show
_ROWLESS = ("OPTIMIZE", "VACUUM START", "VACUUM END", "SET TBLPROPERTIES", "CREATE TABLE", "CREATE OR REPLACE TABLE",
            "ADD COLUMNS", "CHANGE COLUMN", "UPGRADE PROTOCOL", "FSCK")


def _metric(metrics: Mapping[str, Any], names: tuple[str, ...]) -> int | None:
    for name in names:
        value = metrics.get(name)
        if value is not None and value != "":
            return int(value)
    return None


def commit_from_log(entry: Mapping[str, Any]) -> Commit:
    """A `Commit` from one entry of delta-rs' `DeltaTable.history()` (Delta's `commitInfo`)."""
    operation = str(entry.get("operation") or "")
    metrics = entry.get("operationMetrics") or {}
    rowless = operation in _ROWLESS
    # a MERGE reports its inserts as rows added and its updates apart; a plain write's output is all added
    added = None if rowless else _metric(metrics, _ADDED)
    note = entry.get("userMetadata")
    words = parse_note(note)
    engine = entry.get("engineInfo") or entry.get("clientVersion")
    return Commit(version=int(entry["version"]),
                  timestamp=datetime.fromtimestamp(int(entry["timestamp"]) / 1000, UTC),
                  operation=operation, rows_added=added,
                  rows_updated=None if rowless else _metric(metrics, _UPDATED),
                  rows_removed=None if rowless else _metric(metrics, _REMOVED),
                  batch=words.get("batch"), step=words.get("step"), note=note, engine=engine)


def table_history(table: LakeTable, settings: Settings, *, limit: int | None = None) -> list[Commit]:
    """The table's commits, newest first (`limit`: only the newest so many).

    Raises:
        QueryError: `limit` below 1.
    """
    if limit is not None and limit < 1:
        raise QueryError(f"--limit must be at least 1 (got {limit})", table=table.qualified)
    entries = open_table(table, settings).history(limit)
    return sorted((commit_from_log(e) for e in entries), key=lambda c: c.version, reverse=True)


def open_table(table: LakeTable, settings: Settings, *, as_of: int | datetime | None = None) -> Any:
    """delta-rs' `DeltaTable` of a lake table, at its latest version or `as_of` one (a version number, or
    the version that was current at an instant).

    Raises:
        QueryError: a version the table never had, or an instant before its first commit; the message names
            the table and the versions it has.
    """
    from deltalake import DeltaTable
    from deltalake.exceptions import DeltaError

    from jobs.io.deltars import storage_options, table_uri

    uri = table_uri(table.location)
    options = storage_options(settings) if uri.startswith("s3://") else None
    current = DeltaTable(uri, storage_options=options)
    if as_of is None:
        return current
    latest = current.version()
    if isinstance(as_of, int):
        if not 0 <= as_of <= latest:
            raise QueryError(f"{table.qualified} has no version {as_of}: its versions are 0 to {latest} "
                             f"(`citylake history {table.qualified}` lists them)", table=table.qualified)
        target = as_of
    else:
        # a naive instant is in the session time zone, as Spark reads `TIMESTAMP AS OF '2026-06-30 12:00'`
        instant = as_of if as_of.tzinfo else as_of.replace(tzinfo=ZoneInfo(TIMEZONE))
        # The version whose commit time (the one `citylake history` shows) is the last at or before the
        # instant. delta-rs and Spark go by the commit files' modification times instead, a few milliseconds
        # later, so the commit time itself would read the version before the one history names.
        commits = sorted((int(e["version"]), int(e["timestamp"])) for e in current.history())
        then = [version for version, ms in commits if ms <= instant.timestamp() * 1000]
        if not then:
            oldest, ms = commits[0]
            written = datetime.fromtimestamp(ms / 1000, UTC).astimezone(instant.tzinfo).isoformat()
            if oldest == 0:
                raise QueryError(f"{table.qualified} did not exist at {instant.isoformat()}: its first version was "
                                 f"written at {written}", table=table.qualified)
            raise QueryError(f"{table.qualified} keeps no version from {instant.isoformat()}: the oldest it keeps "
                             f"is {oldest}, written at {written}", table=table.qualified)
        target = max(then)
    try:
        current.load_as_version(target)
    except DeltaError as exc:  # e.g. the version's log was cleaned up after its retention
        kept = min((int(e["version"]) for e in DeltaTable(uri, storage_options=options).history()), default=latest)
        why = (f"its commit was removed with the files it named, {settings.vacuum_retain_hours} h after a later "
               f"version replaced them (CITYLAKE_VACUUM_RETAIN_HOURS); versions within CITYLAKE_TIME_TRAVEL_DAYS="
               f"{settings.time_travel_days} stay readable, the oldest kept now is {kept}"
               if "log segment" in str(exc) else str(exc))
        raise QueryError(f"{table.qualified} cannot be read as of {as_of}: {why}", table=table.qualified) from None
    return current


def commits_arrow(commits: list[Commit]) -> pa.Table:
    """The commits as one Arrow table, for the renderers `citylake sql` prints with (table, JSON or CSV)."""
    columns = {
        "version": pa.array([c.version for c in commits], pa.int64()),
        "timestamp": pa.array([c.timestamp for c in commits], pa.timestamp("ms", "UTC")),
        "operation": pa.array([c.operation for c in commits], pa.string()),
        "rows_added": pa.array([c.rows_added for c in commits], pa.int64()),
        "rows_updated": pa.array([c.rows_updated for c in commits], pa.int64()),
        "rows_removed": pa.array([c.rows_removed for c in commits], pa.int64()),
        "batch": pa.array([c.batch for c in commits], pa.string()),
        "step": pa.array([c.step for c in commits], pa.string()),
        "engine": pa.array([c.engine for c in commits], pa.string()),
    }
    return pa.table(columns)
