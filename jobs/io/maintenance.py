"""Table maintenance by delta-rs: compaction (optionally Z-ordered), VACUUM and a checkpoint, no JVM.

Daily appends and MERGEs leave many small files, and every reader and MERGE pays per file; a long log
makes every snapshot slower to load. Maintenance rewrites only what needs it: a table is compacted when it
holds at least `MIN_SMALL_FILES` files below `TARGET_FILE_BYTES` (or when Z-order columns are asked for),
vacuumed of files a later version replaced more than the retention ago, and checkpointed so a reader
replays one Parquet file instead of every JSON commit.

delta-rs does this in the task's own process, whoever wrote the table: Spark's tables (bronze to open)
and delta-rs' own (ops). Compaction commits with `dataChange = false`, so readers, the Change Data Feed
and streaming consumers see no change of content. Writers of the same resource never run at once with it:
the maintenance task takes the resource's Airflow pool (`jobs.catalog.pools`); an ops table's concurrent
appender and a compaction that loses a commit race are retried (`COMMIT_ATTEMPTS`).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from jobs.errors import ConfigurationError
from jobs.io.history import open_table
from jobs.io.lake_tables import LakeTable
from jobs.settings import Settings

log = logging.getLogger("citylake")

#: files below this size count as small (Delta's OPTIMIZE writes up to 1 GiB; 128 MiB is a common target)
TARGET_FILE_BYTES = 128 * 1024 * 1024
#: compact when a table (or a partition) holds at least this many small files
MIN_SMALL_FILES = 8
#: the longest time-travel window citylake accepts (Delta's default `delta.logRetentionDuration`); maintenance
#: sets each table's log retention to the VACUUM retention (`_keep_log_as_long_as_files`)
LOG_RETENTION_DAYS = 30
COMMIT_ATTEMPTS = 3


@dataclass(frozen=True)
class Maintained:
    """What maintenance did to one table."""

    table: str
    version_before: int
    version_after: int
    files_before: int
    files_after: int
    compacted: bool
    files_vacuumed: int
    checkpoint: int | None
    seconds: float

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        what = [f"{self.files_before} -> {self.files_after} files" if self.compacted else
                f"{self.files_before} files, not compacted"]
        what.append(f"{self.files_vacuumed} vacuumed")
        if self.checkpoint is not None:
            what.append(f"checkpoint at v{self.checkpoint}")
        return f"{self.table}: " + ", ".join(what) + f" ({self.seconds:.1f} s)"


def check_retention(settings: Settings) -> int:
    """The VACUUM retention in hours, checked against the time-travel window promised to analysts.

    Raises:
        ConfigurationError: a retention shorter than the window (VACUUM would delete files of versions the
            window promises), or a window longer than the log is kept.
    """
    window_hours = settings.time_travel_days * 24
    if settings.time_travel_days < 0 or settings.vacuum_retain_hours < 0:
        raise ConfigurationError("CITYLAKE_TIME_TRAVEL_DAYS and CITYLAKE_VACUUM_RETAIN_HOURS must not be negative")
    if settings.vacuum_retain_hours < window_hours:
        raise ConfigurationError(
            f"CITYLAKE_VACUUM_RETAIN_HOURS={settings.vacuum_retain_hours} is shorter than the time-travel window "
            f"CITYLAKE_TIME_TRAVEL_DAYS={settings.time_travel_days} ({window_hours} h): VACUUM would delete the "
            "files of versions analysts were promised; raise the retention or shorten the window")
    if settings.time_travel_days > LOG_RETENTION_DAYS:
        raise ConfigurationError(
            f"CITYLAKE_TIME_TRAVEL_DAYS={settings.time_travel_days} is longer than the {LOG_RETENTION_DAYS} days "
            "a table's log is kept (delta.logRetentionDuration); older versions could not be read")
    return settings.vacuum_retain_hours


def small_files(dt: Any) -> int:
    """Active files below `TARGET_FILE_BYTES`."""
    import pyarrow as pa
    import pyarrow.compute as pc

    sizes = pa.table(dt.get_add_actions(flatten=True)).column("size_bytes")
    return int(pc.sum(pc.less(sizes, TARGET_FILE_BYTES)).as_py() or 0)


def drop_stale_checksums(location: str) -> int:
    """Remove the Hadoop checksum sidecars (`.<file>.crc`) delta-rs leaves stale in a local table folder.

    Spark writes local files through Hadoop's checksummed file system, which keeps a `.crc` beside each
    file and verifies it on every read. delta-rs rewrites `_delta_log/_last_checkpoint` without it, so
    Spark's next read of the table fails the checksum and falls back to listing the log (an exception in
    the log and a slower snapshot); the data files it compacted and vacuumed leave sidecars of files that
    are gone. Object stores have no sidecars. Returns how many were removed."""
    folder = Path(location)
    if "://" in location or not folder.is_dir():
        return 0
    removed = 0
    stale = [folder / "_delta_log" / "._last_checkpoint.crc"]
    stale += [crc for crc in folder.rglob(".*.crc") if not crc.with_name(crc.name[1:-4]).exists()]
    for crc in dict.fromkeys(stale):
        if crc.exists():
            crc.unlink()
            removed += 1
    return removed


def log_retention(retain_hours: int) -> str:
    return f"interval {retain_hours} hours"


def _keep_log_as_long_as_files(dt: Any, retain_hours: int) -> None:
    """Keep a table's log commits exactly as long as VACUUM keeps its files (`delta.logRetentionDuration`).

    A commit's add actions carry each file's column statistics: the minimum and maximum values, a resident ID
    among them. Delta's default keeps commits 30 days, so a row erased and vacuumed would still be readable
    in the log for weeks; with the log kept as long as the files, both go at the same maintenance run. The
    time-travel window is never shortened by this: the retention is at least the window (`check_retention`)."""
    wanted = log_retention(retain_hours)
    if dt.metadata().configuration.get("delta.logRetentionDuration") != wanted:
        dt.alter.set_table_properties({"delta.logRetentionDuration": wanted}, raise_if_not_exists=False)


#: a commit (`<version>.json`) or Spark's checksum of the table's state after it (`<version>.crc`)
VERSION_FILE = re.compile(r"^(\d{20})\.(json|crc)$")


def stale_version_checksums(names: Iterable[str]) -> list[str]:
    """The `_delta_log` checksum files whose commit is gone.

    Spark writes `<version>.crc` beside each commit: the table's state after it, and for a small table every
    file's statistics, so the minimum or maximum of a column (a resident ID) is in it. delta-rs removes
    expired commits and checkpoints but not these, so they would outlive the rows a VACUUM and an erasure
    removed; they serve no reader once their commit is gone."""
    listed = list(names)
    commits = {m[1] for n in listed if (m := VERSION_FILE.match(n)) and m[2] == "json"}
    return [n for n in listed if (m := VERSION_FILE.match(n)) and m[2] == "crc" and m[1] not in commits]


def drop_stale_version_checksums(location: str, settings: Settings) -> int:
    """Delete `stale_version_checksums` of the table at `location` (a folder or an object-store URI)."""
    if "://" not in location:
        log_dir = Path(location) / "_delta_log"
        stale = stale_version_checksums(p.name for p in log_dir.iterdir()) if log_dir.is_dir() else []
        for name in stale:
            (log_dir / name).unlink(missing_ok=True)
            (log_dir / f".{name}.crc").unlink(missing_ok=True)  # Hadoop's sidecar of the checksum file
        return len(stale)
    from jobs.io.objects import store_for

    store = store_for(re.sub(r"^s3a://", "s3://", location), settings)
    stale = stale_version_checksums(k.rsplit("/", 1)[-1] for k in store.list("_delta_log/"))
    for name in stale:
        store.delete_prefix(f"_delta_log/{name}")
    return len(stale)


def maintain_table(table: LakeTable, settings: Settings, *, z_order: Sequence[str] = (),
                   vacuum: bool = True) -> Maintained:
    """Compact (when worth it), vacuum and checkpoint one table.

    Raises:
        ConfigurationError: see `check_retention`.
        DeltaError: the table cannot be maintained by delta-rs (e.g. a protocol feature it lacks), noted with
            the table's name.
    """
    from deltalake.exceptions import CommitFailedError, DeltaError

    retain = check_retention(settings)
    started = time.monotonic()
    dt = open_table(table, settings)
    before, files_before = dt.version(), len(dt.file_uris())
    compacted = False
    try:
        if z_order or small_files(dt) >= MIN_SMALL_FILES:
            for attempt in range(1, COMMIT_ATTEMPTS + 1):
                try:
                    metrics = (dt.optimize.z_order(list(z_order)) if z_order else
                               dt.optimize.compact(target_size=TARGET_FILE_BYTES))
                    compacted = bool(metrics.get("numFilesRemoved"))
                    break
                except CommitFailedError:  # a concurrent ops append won the commit: compact the new snapshot
                    if attempt == COMMIT_ATTEMPTS:
                        raise
                    dt = open_table(table, settings)
        _keep_log_as_long_as_files(dt, retain)
        # full: the change-feed files of MERGEs and DELETEs are no remove actions, only a listing finds them
        vacuumed = dt.vacuum(retention_hours=retain, enforce_retention_duration=False, dry_run=False, full=True) \
            if vacuum else []
        dt = open_table(table, settings)
        checkpoint = None
        if dt.version() > 0:
            dt.create_checkpoint()
            checkpoint = dt.version()
            dt.cleanup_metadata()  # commits older than the log retention, now covered by the checkpoint
            drop_stale_version_checksums(table.location, settings)
        drop_stale_checksums(table.location)
    except DeltaError as exc:
        exc.add_note(f"while maintaining {table.qualified} at {table.location}")
        raise
    done = Maintained(table.qualified, before, dt.version(), files_before, len(dt.file_uris()), compacted,
                      len(vacuumed), checkpoint, round(time.monotonic() - started, 2))
    log.info("maintain %s", done.describe())
    return done
