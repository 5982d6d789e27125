"""Ingest: landing files -> bronze, exactly once per file content.

Per file: hash it; content already ingested -> recorded as a duplicate and archived; otherwise
parse it strictly into a staged Parquet file, append it to bronze with the transaction id
`bronze:<batch>` (a retry after a crash adds nothing), check bronze holds every row, then record the
manifest and ledger entries and archive the file. A file that cannot be read is rejected whole.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime

from pyspark.sql import functions as F

from jobs.catalog.derive import bronze_schema
from jobs.errors import ExportRejected, LedgerImbalance
from jobs.io import delta, ops
from jobs.io.exports import stage_csv
from jobs.io.jsonlines import stage_jsonl
from jobs.io.landing import LandedFile, LocalLanding
from jobs.settings import Settings
from jobs.steps.runtime import Runtime, log, runtime


@dataclass(frozen=True)
class FileOutcome:
    file: str
    status: str
    batch_id: str
    rows_read: int
    malformed: int
    detail: str


#: How each source format is read into a staged Parquet file.
STAGERS = {"csv": stage_csv, "jsonl": stage_jsonl}


def batch_id_for(sha256: str) -> str:
    """Batches are named by content, so every retry of the same file names the same batch."""
    return sha256[:16]


def ingest(resource: str, *, settings: Settings | None = None, now: datetime | None = None) -> list[dict]:
    """Ingest every pending landing file of `resource` into bronze.

    Returns:
        One summary dict per file (status ingested / duplicate / rejected).
    """
    rt = runtime(settings, now)
    res = rt.resource(resource)
    landing = LocalLanding(rt.settings.landing)
    outcomes = []
    files = landing.pending(res)
    if not files:
        log.info("ingest %s: no files in %s", resource, landing.folder(res))
    for file in files:
        outcome = _ingest_file(rt, res, landing, file)
        log.info("ingest %s: %s %s (%s rows) %s", resource, file.relative, outcome.status, outcome.rows_read,
                 outcome.detail)
        outcomes.append(asdict(outcome))
    return outcomes


def _already_ingested(rt: Runtime, resource: str, sha256: str) -> str | None:
    rows = (ops.read(rt.spark, rt.settings, "manifest", resource)
            .where((F.col("sha256") == sha256) & (F.col("status") == "ingested")).select("file").limit(1).collect())
    return rows[0].file if rows else None


def _ingest_file(rt: Runtime, res, landing: LocalLanding, file: LandedFile) -> FileOutcome:  # noqa: ANN001
    spark, settings = rt.spark, rt.settings
    sha = landing.sha256(file)
    batch = batch_id_for(sha)
    first = _already_ingested(rt, res.name, sha)
    if first is not None:
        moved = landing.archive(file, batch)
        detail = f"same content as {first}, already ingested as batch {batch}"
        _manifest(rt, res.name, file, sha, "duplicate", batch, 0, 0, detail, moved)
        return FileOutcome(file.relative, "duplicate", batch, 0, 0, detail)

    staged_path = settings.lake / "_staging" / res.name / f"{batch}.parquet"
    try:
        staged = STAGERS[res.source.format](file.path, res, staged_path)
    except ExportRejected as exc:
        moved = landing.reject(file, str(exc))
        _manifest(rt, res.name, file, sha, "rejected", batch, 0, 0, str(exc), moved)
        log.error("ingest %s: rejected %s", res.name, exc)
        return FileOutcome(file.relative, "rejected", batch, 0, 0, str(exc))

    bronze_path = settings.table_path("bronze", res.name)
    delta.ensure_table(spark, bronze_path, bronze_schema(res), partition_by=["_ingest_date"])
    frame = spark.read.parquet(str(staged_path)).select(
        *[F.col(f"`{n}`") for n in res.item_names],
        F.lit(file.relative).alias("_source_file"),
        F.lit(sha).alias("_source_sha256"),
        F.col("_row_number"),
        F.col("_parse_error"),
        F.col("_rescued"),
        F.lit(batch).alias("_batch_id"),
        F.lit(rt.now).cast("timestamp").alias("_ingested_at"),
        F.lit(rt.now.date()).alias("_ingest_date"),
    )
    delta.append_once(frame, bronze_path, txn_app_id=f"bronze:{batch}", partition_by=["_ingest_date"])
    in_bronze = delta.read(spark, bronze_path).where(F.col("_batch_id") == batch).count()
    staged_path.unlink(missing_ok=True)
    if in_bronze != staged.rows:
        raise LedgerImbalance(f"batch {batch} of {file.relative}: read {staged.rows} rows but bronze holds {in_bronze}")

    # Record first, move last: a crash in between leaves the file in landing, and the retry then
    # records it as a duplicate of its own batch instead of losing track of it.
    target = str(landing.archive_target(file, batch).relative_to(landing.root))
    detail = f"{staged.malformed} record(s) with a wrong field count" if staged.malformed else ""
    _manifest(rt, res.name, file, sha, "ingested", batch, staged.rows, staged.malformed, detail, target)
    ops.record(spark, settings, "ledger", [ops.LedgerEntry(
        resource=res.name, batch_id=batch, step="ingest", source_file=file.relative, rows_read=staged.rows,
        rows_bronze=in_bronze, rows_accepted=0, rows_quarantined=0, rows_warned=0, rows_published=0,
        status="ok", detail=detail, recorded_at=rt.now)], txn_app_id=f"ledger:{batch}:ingest")
    landing.archive(file, batch)
    return FileOutcome(file.relative, "ingested", batch, staged.rows, staged.malformed, detail)


def _manifest(rt: Runtime, resource: str, file: LandedFile, sha: str, status: str, batch: str,
              rows: int, malformed: int, detail: str, moved: str) -> None:
    entry = ops.ManifestEntry(resource=resource, file=file.relative, sha256=sha, size=file.size, status=status,
                              batch_id=batch, rows_read=rows, malformed=malformed, detail=detail, moved_to=moved,
                              recorded_at=rt.now)
    ops.record(rt.spark, rt.settings, "manifest", [entry], txn_app_id=f"manifest:{sha}:{file.relative}:{status}")
