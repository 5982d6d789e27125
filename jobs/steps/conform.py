"""Conform: each ingested, not yet conformed bronze batch -> silver (MERGE) + quarantine.

All row rules run in one pass (`jobs.transforms.conform`); the evaluated batch is persisted once and
read three times (counts, quarantine append, silver MERGE). The ledger entry is written last and
only when rows read = rows accepted + rows quarantined. A batch with more quarantined rows than the
resource's `error_limit` is quarantined but not merged: the ledger marks it failed and conform raises
`DirtyBatch` once every pending batch has been looked at.
"""

from __future__ import annotations

from datetime import datetime

from pyspark import StorageLevel
from pyspark.sql import functions as F

from jobs.catalog.derive import silver_schema
from jobs.catalog.model import Resource
from jobs.errors import DirtyBatch, LedgerImbalance
from jobs.io import delta, ops
from jobs.io.frames import single_row
from jobs.settings import Settings
from jobs.steps.runtime import Runtime, log, runtime
from jobs.transforms.conform import accepted_rows, conform_batch, quarantined_rows


def conform(resource: str, *, settings: Settings | None = None, now: datetime | None = None) -> list[dict]:
    """Conform every pending batch of `resource`, oldest first.

    Raises:
        LedgerImbalance: a batch's counts do not add up (nothing is recorded for it).
        DirtyBatch: a batch exceeded the resource's error limit (its rows are quarantined, none merged).
    """
    rt = runtime(settings, now)
    res = rt.resource(resource)
    done = ops.batches_done(rt.spark, rt.settings, res.name, "conform")
    results = []
    for batch in ops.ingested_batches(rt.spark, rt.settings, res.name):
        if batch.batch_id not in done:
            results.append(conform_one(rt, res, batch))
    if not results:
        log.info("conform %s: nothing pending", resource)
    dirty = [f"batch {r['batch_id']} ({r['source_file']}): {r['detail']}" for r in results if r["status"] == "failed"]
    if dirty:
        raise DirtyBatch(f"{res.name}: too many bad rows, nothing of these batches reached silver (see "
                         f"quarantine.{res.name}; the department must correct and re-send): " + " | ".join(dirty))
    return results


def conform_one(rt: Runtime, res: Resource, batch: ops.IngestedBatch) -> dict:
    """Conform one batch; rows are judged as of the day they were ingested (so a re-run agrees)."""
    batch_id, source_file, rows_read, ingested_on = batch
    spark, settings = rt.spark, rt.settings
    bronze = delta.read(spark, settings.table_path("bronze", res.name)).where(F.col("_batch_id") == batch_id)
    evaluated = conform_batch(bronze, res, as_of=ingested_on).persist(StorageLevel.MEMORY_AND_DISK)
    try:
        counts = single_row(evaluated.agg(
            F.count(F.lit(1)).alias("total"),
            F.count_if(F.size("_errors") > 0).alias("quarantined"),
            F.count_if((F.size("_errors") == 0) & (F.size("_warnings") > 0)).alias("warned"),
        ))
        total, quarantined, warned = int(counts.total), int(counts.quarantined), int(counts.warned)
        accepted = total - quarantined
        if total != rows_read:
            raise LedgerImbalance(f"{res.name} batch {batch_id} ({source_file}): manifest says {rows_read} rows read, "
                                  f"bronze holds {total}")

        quarantine = quarantined_rows(evaluated).withColumn("_quarantined_at", F.lit(rt.now).cast("timestamp"))
        delta.append_once(quarantine, settings.table_path("quarantine", res.name), txn_app_id=f"quarantine:{batch_id}")
        too_dirty = res.error_limit.exceeded(quarantined, total)
        if too_dirty is not None:
            return _refuse(rt, res, batch, total, quarantined, warned, too_dirty)

        silver_path = settings.table_path("silver", res.name)
        delta.ensure_table(spark, silver_path, silver_schema(res))
        merged = delta.upsert(spark, accepted_rows(evaluated), silver_path, keys=res.primary_key,
                              newer_than="_ingested_at") if res.primary_key else None
        if merged is None:
            delta.append_once(accepted_rows(evaluated), silver_path, txn_app_id=f"silver:{batch_id}")
    finally:
        evaluated.unpersist()

    # Read back what landed: the quarantine table and the MERGE's source must account for every row.
    in_quarantine = (delta.read(spark, settings.table_path("quarantine", res.name))
                     .where(F.col("_batch_id") == batch_id).count())
    merged_source = merged["source"] if merged else accepted
    if in_quarantine + merged_source != rows_read:
        raise LedgerImbalance(f"{res.name} batch {batch_id} ({source_file}): read {rows_read} != "
                              f"accepted {merged_source} + quarantined {in_quarantine}")
    detail = f"merged: {merged}" if merged else ""
    ops.record(spark, settings, "ledger", [ops.LedgerEntry(
        resource=res.name, batch_id=batch_id, step="conform", source_file=source_file, rows_read=rows_read,
        rows_bronze=total, rows_accepted=accepted, rows_quarantined=quarantined, rows_warned=warned,
        rows_published=0, status="ok", detail=detail, recorded_at=rt.now)], txn_app_id=f"ledger:{batch_id}:conform")
    log.info("conform %s batch %s: read %d, accepted %d, quarantined %d, warned %d", res.name, batch_id, rows_read,
             accepted, quarantined, warned)
    return {"batch_id": batch_id, "source_file": source_file, "rows_read": rows_read, "rows_accepted": accepted,
            "rows_quarantined": quarantined, "rows_warned": warned, "status": "ok", "detail": detail}


def _refuse(rt: Runtime, res: Resource, batch: ops.IngestedBatch, total: int, quarantined: int, warned: int,
            why: str) -> dict:
    """Record a batch over the error limit. Its rows are still counted as the rules judged them (read =
    accepted + quarantined holds), but status `failed` means the accepted ones were held back from silver."""
    in_quarantine = (delta.read(rt.spark, rt.settings.table_path("quarantine", res.name))
                     .where(F.col("_batch_id") == batch.batch_id).count())
    if in_quarantine != quarantined or total != batch.rows_read:
        raise LedgerImbalance(f"{res.name} batch {batch.batch_id} ({batch.source_file}): read {batch.rows_read}, "
                              f"bronze {total}, quarantined {in_quarantine} (expected {quarantined})")
    detail = f"error limit exceeded: {why}; {total - quarantined} good rows held back, not merged"
    ops.record(rt.spark, rt.settings, "ledger", [ops.LedgerEntry(
        resource=res.name, batch_id=batch.batch_id, step="conform", source_file=batch.source_file,
        rows_read=batch.rows_read, rows_bronze=total, rows_accepted=total - quarantined, rows_quarantined=quarantined,
        rows_warned=warned, rows_published=0, status="failed", detail=detail, recorded_at=rt.now)],
        txn_app_id=f"ledger:{batch.batch_id}:conform")
    log.error("conform %s batch %s: %s", res.name, batch.batch_id, detail)
    return {"batch_id": batch.batch_id, "source_file": batch.source_file, "rows_read": batch.rows_read,
            "rows_accepted": total - quarantined, "rows_quarantined": quarantined, "rows_warned": warned,
            "status": "failed", "detail": detail}
