"""Ingest: landing files -> bronze, exactly once per file content.

Per complete file (see `jobs.io.landing`): fetch it (S3: streamed to a scratch file) and hash it;
content already ingested -> recorded as a duplicate and archived; otherwise parse it strictly into a
staged Parquet file, append it to bronze with the transaction id `bronze:<batch>` (a retry after a
crash adds nothing), check bronze holds every row, then record the manifest and ledger entries and
archive the file. A file that cannot be read, or whose columns the drift policy refuses, is rejected
whole. Column drift is reported to the ops zone (table `ops.drift` and a JSON file per batch).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import NamedTuple

from pyspark.sql import Column
from pyspark.sql import functions as F

from jobs.catalog.derive import bronze_schema
from jobs.catalog.drift import DriftReport, bronze_column_for
from jobs.catalog.model import Resource
from jobs.errors import ExportRejected, FilesRejected, LedgerImbalance, SchemaMismatch
from jobs.io import delta, ops
from jobs.io.decoding import codec_for
from jobs.io.excel import stage_xlsx
from jobs.io.exports import StagedExport, stage_csv, staged_ddl
from jobs.io.history import commit_note
from jobs.io.jsonlines import stage_jsonl
from jobs.io.landing import LandedFile, Landing, landing_for
from jobs.progress import progress
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
    drift: str = ""


#: How each source format is read into a staged Parquet file.
STAGERS = {"csv": stage_csv, "jsonl": stage_jsonl, "xlsx": stage_xlsx}


def batch_id_for(sha256: str) -> str:
    """Batches are named by content, so every retry of the same file names the same batch."""
    return sha256[:16]


def ingest(resource: str, *, settings: Settings | None = None, now: datetime | None = None,
           landing: Landing | None = None) -> list[dict]:
    """Ingest every complete landing file of `resource` into bronze.

    Returns:
        One summary dict per file (status ingested / duplicate).

    Raises:
        FilesRejected: some files were rejected whole (after all files were looked at; `outcomes` lists
            every file, the rejected ones too).
    """
    rt = runtime(settings, now)
    res = rt.resource(resource)
    landing = landing or landing_for(rt.settings)
    outcomes = []
    files, waiting = landing.survey(res)
    if not files:
        log.info("ingest %s: no complete files in %s/%s%s", resource, landing.uri, landing.folder(res),
                 f" ({len(waiting)} not yet marked complete)" if waiting else "")
    # The manifest is read once; entries this call records are added to it, so a second copy of a file
    # delivered in the same run is still recognised as a duplicate.
    seen: list = _manifest_rows(rt, res.name)
    with progress(f"ingest {res.name}", total=len(files), unit="files") as advance:
        for file in files:
            outcome = _ingest_file(rt, res, landing, file, seen)
            log.info("ingest %s: %s %s (%s rows) %s", resource, file.relative, outcome.status, outcome.rows_read,
                     outcome.detail)
            outcomes.append(asdict(outcome))
            advance(1)
    rejected = [o for o in outcomes if o["status"] == "rejected"]
    if rejected:
        # Only after every file was looked at: the readable ones are in bronze and the next run conforms them.
        raise FilesRejected(
            f"{res.name}: {len(rejected)} of {len(outcomes)} file(s) rejected whole and moved to "
            f"{landing.folder(res)}/rejected/ (the department must correct and re-send them): "
            + " | ".join(o["detail"] for o in rejected), outcomes=outcomes)
    return outcomes


class _Seen(NamedTuple):
    file: str
    sha256: str
    size: int
    status: str


def _manifest_rows(rt: Runtime, resource: str) -> list:
    return [_Seen(**r) for r in ops.rows(rt.settings, "manifest", _Seen._fields, resource=resource)]


def _ingest_file(rt: Runtime, res: Resource, landing: Landing, file: LandedFile, seen: list) -> FileOutcome:
    settings = rt.settings
    scratch = settings.lake / "_staging" / res.name
    with landing.fetch(file, scratch / "download") as got:
        sha = got.sha256
        batch = batch_id_for(sha)
        version = _version(seen, file.relative, sha)
        first = next((r.file for r in seen if r.sha256 == sha and r.size == file.size and r.status == "ingested"),
                     None)
        if first is not None:
            moved = landing.archive(file, batch, res)
            detail = f"same content as {first}, already ingested as batch {batch}"
            seen.append(_manifest(rt, res.name, file, sha, "duplicate", batch, 0, 0, detail, moved, version))
            return FileOutcome(file.relative, "duplicate", batch, 0, 0, detail)

        staged_path = scratch / f"{batch}.parquet"
        try:
            staged = STAGERS[res.source.format](got.path, res, staged_path)
        except ExportRejected as exc:
            staged_path.unlink(missing_ok=True)
            outcome, entry = _reject(rt, res, landing, file, sha, batch, version, exc.at(file.relative))
            seen.append(entry)
            return outcome

    try:
        in_bronze, drift = _append_bronze(rt, res, file, sha, batch, staged)
    finally:
        staged_path.unlink(missing_ok=True)
    if in_bronze != staged.rows:
        raise LedgerImbalance(f"batch {batch} of {file.relative}: read {staged.rows} rows but bronze holds {in_bronze}")

    # Record first, move last: a crash in between leaves the file in landing, and the retry then
    # records it as a duplicate of its own batch instead of losing track of it.
    target = landing.archive_target(file, batch)
    details = [f"{staged.malformed} record(s) with a wrong field count"] if staged.malformed else []
    if staged.encoding and codec_for(staged.encoding) != codec_for(res.source.encoding):
        details.append(f"declared encoding {res.source.encoding}, read as {staged.encoding}")
    if drift is not None and drift.drifted:
        details.append(f"column drift ({drift.policy}): {drift.describe()}")
    detail = "; ".join(details)
    seen.append(_manifest(rt, res.name, file, sha, "ingested", batch, staged.rows, staged.malformed, detail, target,
                          version, encoding=staged.encoding))
    ops.record(rt.spark, settings, "ledger", [ops.LedgerEntry(
        resource=res.name, batch_id=batch, step="ingest", source_file=file.relative, rows_read=staged.rows,
        rows_bronze=in_bronze, rows_accepted=0, rows_quarantined=0, rows_warned=0, rows_published=0,
        status="ok", detail=detail, recorded_at=rt.now)], once=f"{batch}:ingest")
    landing.archive(file, batch, res)
    return FileOutcome(file.relative, "ingested", batch, staged.rows, staged.malformed, detail,
                       drift.describe() if drift is not None and drift.drifted else "")


def _append_bronze(rt: Runtime, res: Resource, file: LandedFile, sha: str, batch: str,
                   staged: StagedExport) -> tuple[int, DriftReport | None]:
    """Append the staged rows to bronze exactly once; returns the rows bronze holds for the batch."""
    spark, settings = rt.spark, rt.settings
    bronze_path = settings.table_path("bronze", res.name)
    delta.ensure_table(spark, bronze_path, bronze_schema(res), partition_by=["_ingest_date"])
    drift = staged.drift
    evolved = list(drift.added) if drift is not None and res.source.drift == "evolve" else []
    rescued: Column = F.col("_rescued")
    if evolved:  # uncatalogued columns become bronze columns; what is left stays in `_rescued`
        keep = F.array(*[F.lit(label) for label in evolved])
        rescued = F.map_filter("_rescued", lambda k, _v: ~F.array_contains(keep, k))
        rescued = F.when(F.size(rescued) > 0, rescued)
    frame = spark.read.schema(staged_ddl(res)).parquet(str(staged.path)).select(
        *[F.col(f"`{n}`") for n in res.item_names],
        F.lit(file.relative).alias("_source_file"),
        F.lit(sha).alias("_source_sha256"),
        F.col("_row_number"),
        F.col("_parse_error"),
        rescued.alias("_rescued"),
        F.lit(batch).alias("_batch_id"),
        F.lit(rt.now).cast("timestamp").alias("_ingested_at"),
        F.lit(rt.now.date()).alias("_ingest_date"),
        *[F.col("_rescued")[label].alias(bronze_column_for(label)) for label in evolved],
    )
    delta.append_once(frame, bronze_path, txn_app_id=f"bronze:{batch}", partition_by=["_ingest_date"],
                      merge_schema=bool(evolved), note=commit_note(batch, "ingest"))
    if drift is not None and drift.drifted:
        _record_drift(rt, res, file.relative, batch, drift, "evolved" if evolved else "rescued")
    return delta.read(spark, bronze_path).where(F.col("_batch_id") == batch).count(), drift


def _reject(rt: Runtime, res: Resource, landing: Landing, file: LandedFile, sha: str, batch: str, version: int,
            exc: ExportRejected) -> tuple[FileOutcome, ops.ManifestEntry]:
    moved = landing.reject(file, str(exc), res)
    entry = _manifest(rt, res.name, file, sha, "rejected", batch, 0, 0, str(exc), moved, version)
    drift = getattr(exc, "drift", None) if isinstance(exc, SchemaMismatch) else None
    if isinstance(drift, DriftReport):
        _record_drift(rt, res, file.relative, batch, drift, "rejected")
    log.error("ingest %s: rejected %s", res.name, exc)
    return FileOutcome(file.relative, "rejected", batch, 0, 0, str(exc),
                       drift.describe() if isinstance(drift, DriftReport) else ""), entry


def _record_drift(rt: Runtime, res: Resource, file: str, batch: str, drift: DriftReport, action: str) -> None:
    """The drift report goes to `ops.drift` and, as JSON, to `ops/drift/<department>/<resource>/`."""
    report = {"resource": res.name, "resource_title": res.title, "department": res.provider, "file": file,
              "batch_id": batch, "action": action, "recorded_at": rt.now.isoformat(), **drift.as_dict()}
    folder = rt.settings.ops / "drift" / res.provider / res.name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{batch}.json").write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    listed = {k: json.dumps(v, ensure_ascii=False) for k, v in drift.as_dict().items()}
    ops.record(rt.spark, rt.settings, "drift", [ops.DriftEntry(
        resource=res.name, department=res.provider, batch_id=batch, file=file, policy=drift.policy, action=action,
        added=listed["added"], missing=listed["missing"], renamed=listed["renamed"], retyped=listed["retyped"],
        recorded_at=rt.now)], once=f"{batch}:{file}")


def _version(seen: list, relative: str, sha: str) -> int:
    """The version number of this content under this name (a re-sent file with new content is +1)."""
    shas: list[str] = []
    for row in seen:
        if row.file == relative and row.sha256 not in shas:
            shas.append(row.sha256)
    return shas.index(sha) + 1 if sha in shas else len(shas) + 1


def _manifest(rt: Runtime, resource: str, file: LandedFile, sha: str, status: str, batch: str,
              rows: int, malformed: int, detail: str, moved: str, version: int, *,
              encoding: str = "") -> ops.ManifestEntry:
    res = rt.resource(resource)
    entry = ops.ManifestEntry(resource=resource, file=file.relative, sha256=sha, size=file.size, status=status,
                              batch_id=batch, rows_read=rows, malformed=malformed, detail=detail, moved_to=moved,
                              recorded_at=rt.now, etag=file.etag, version=version,
                              declared_encoding="" if res.source.format == "xlsx" else res.source.encoding,
                              encoding=encoding)
    ops.record(rt.spark, rt.settings, "manifest", [entry], once=f"{sha}:{file.relative}:{status}")
    return entry
