"""Conform: each ingested, not yet conformed bronze batch -> audit (typed, accepted rows) + quarantine.

All row rules run in one pass (`jobs.transforms.conform`); the evaluated batch is persisted once and
read three times (counts, quarantine append, audit append). Accepted rows wait in `audit.<resource>`
until validation passes and moves them into silver (write-audit-publish: a batch that fails an
`error` expectation never touches silver). The ledger entry is written last and only when rows read
= rows accepted + rows quarantined. A batch with more quarantined rows than the
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
from jobs.io.history import commit_note
from jobs.rules.divisions import LEVEL_OF_ZH, DivisionIndex, packaged_index
from jobs.settings import Settings
from jobs.steps.runtime import Runtime, log, runtime
from jobs.transforms import versions
from jobs.transforms.conform import (
    accepted_rows,
    conform_batch,
    quarantined_rows,
    referencing_items,
    silver_unique_items,
)


def conform(resource: str, *, settings: Settings | None = None, now: datetime | None = None) -> list[dict]:
    """Conform every pending batch of `resource`, oldest first.

    Raises:
        LedgerImbalance: a batch's counts do not add up (nothing is recorded for it).
        DirtyBatch: a batch exceeded the resource's error limit (its rows are quarantined, none merged).
    """
    rt = runtime(settings, now)
    res = rt.resource(resource)
    done = ops.batches_done(rt.settings, res.name, "conform")
    pending = [b for b in ops.ingested_batches(rt.settings, res.name) if b.batch_id not in done]
    # What the rules look up elsewhere (silver values, the city's division list, referenced tables) does
    # not change while this step runs: read it once, not once per batch.
    lookups = {"existing": silver_values(rt, res), "divisions": division_index(rt, res),
               "referenced": referenced_values(rt, res)} if pending else {}
    results = [conform_one(rt, res, batch, lookups) for batch in pending]
    if not results:
        log.info("conform %s: nothing pending", resource)
    dirty = [f"batch {r['batch_id']} ({r['source_file']}): {r['detail']}" for r in results if r["status"] == "failed"]
    if dirty:
        raise DirtyBatch(f"{res.name}: too many bad rows, nothing of these batches reached silver (see "
                         f"quarantine.{res.name}; the department must correct and re-send): " + " | ".join(dirty))
    return results


def conform_one(rt: Runtime, res: Resource, batch: ops.IngestedBatch, lookups: dict, *,
                replay_of: str | None = None) -> dict:
    """Conform one batch; rows are judged as of the day they were ingested (so a re-run agrees).
    `lookups` are `conform_batch`'s `existing`, `divisions` and `referenced`. With `replay_of`, `batch` is a
    replay (`jobs.steps.replay`): the rows are bronze's batch `replay_of`, judged again under the catalog
    as it is now and written under the replay's own batch id."""
    batch_id, source_file, rows_read, ingested_on = batch
    spark, settings = rt.spark, rt.settings
    bronze = delta.read(spark, settings.table_path("bronze", res.name)).where(
        F.col("_batch_id") == (replay_of or batch_id))
    if replay_of is not None:
        bronze = bronze.withColumn("_batch_id", F.lit(batch_id))
    evaluated = conform_batch(bronze, res, as_of=ingested_on, **lookups).persist(StorageLevel.MEMORY_AND_DISK)
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

        quarantine = quarantined_rows(evaluated).select(
            "*", F.lit(rt.now).cast("timestamp").alias("_quarantined_at"),
            F.lit(None).cast("string").alias("_corrected_by_batch"),
            F.lit(None).cast("timestamp").alias("_corrected_at"))
        delta.append_once(quarantine, settings.table_path("quarantine", res.name), txn_app_id=f"quarantine:{batch_id}",
                          merge_schema=True, note=commit_note(batch_id, "conform"))
        too_dirty = res.error_limit.exceeded(quarantined, total)
        if too_dirty is not None:
            return _refuse(rt, res, batch, total, quarantined, warned, too_dirty)

        audit_path = settings.table_path("audit", res.name)
        delta.ensure_table(spark, audit_path, silver_schema(res))
        delta.append_once(accepted_rows(evaluated), audit_path, txn_app_id=f"audit:{batch_id}",
                          note=commit_note(batch_id, "conform"))
    finally:
        evaluated.unpersist()

    # Read back what landed: the quarantine and audit tables must account for every row.
    in_quarantine = (delta.read(spark, settings.table_path("quarantine", res.name))
                     .where(F.col("_batch_id") == batch_id).count())
    in_audit = delta.read(spark, audit_path).where(F.col("_batch_id") == batch_id).count()
    if in_quarantine + in_audit != rows_read:
        raise LedgerImbalance(f"{res.name} batch {batch_id} ({source_file}): read {rows_read} != "
                              f"accepted {in_audit} + quarantined {in_quarantine}")
    detail = (f"{in_audit} accepted rows wait in audit.{res.name} for validation"
              + (f"; a replay of batch {replay_of} under the catalog as it is now" if replay_of else ""))
    ops.record(spark, settings, "ledger", [ops.LedgerEntry(
        resource=res.name, batch_id=batch_id, step="conform", source_file=source_file, rows_read=rows_read,
        rows_bronze=total, rows_accepted=accepted, rows_quarantined=quarantined, rows_warned=warned,
        rows_published=0, status="ok", detail=detail, recorded_at=rt.now)], once=f"{batch_id}:conform")
    log.info("conform %s batch %s: read %d, accepted %d, quarantined %d, warned %d", res.name, batch_id, rows_read,
             accepted, quarantined, warned)
    return {"batch_id": batch_id, "source_file": source_file, "rows_read": rows_read, "rows_accepted": accepted,
            "rows_quarantined": quarantined, "rows_warned": warned, "status": "ok", "detail": detail}


def division_index(rt: Runtime, res: Resource) -> DivisionIndex | None:
    """The division codes `cn_division` accepts: the packaged reference with the city's own list from
    silver laid over it, when the catalog has a resource that `provides: divisions` and its silver table
    exists; None (the packaged reference alone) otherwise or when `res` applies no `cn_division` rule."""
    provider = rt.catalog.provider_of("divisions")
    if provider is None or "cn_division" not in res.uses_rule:
        return None
    path = rt.settings.table_path("silver", provider.name)
    if not delta.exists(rt.spark, path):
        return None
    rows = versions.current(delta.read(rt.spark, path), provider) \
        .select(F.col("code").cast("string"), F.col("level").cast("string")).collect()
    listed = [(r[0], LEVEL_OF_ZH[r[1]]) for r in rows if r[1] in LEVEL_OF_ZH]
    index = packaged_index().with_city_list(listed, source=f"silver.{provider.name}")
    log.info("cn_division of %s reads %d codes of silver.%s over the packaged reference", res.name, len(listed),
             provider.name)
    return index


def referenced_values(rt: Runtime, res: Resource) -> dict:
    """For each item of `res` with a `references` rule, the values of the referenced item in that
    resource's silver table; an item whose table does not exist yet is left out (not judged) and logged."""
    out = {}
    for name, (other, item) in sorted(referencing_items(res).items()):
        path = rt.settings.table_path("silver", other)
        if not delta.exists(rt.spark, path):
            log.warning("%s.%s references silver.%s, which does not exist yet: not checked in this batch",
                        res.name, name, other)
            continue
        out[name] = versions.current(delta.read(rt.spark, path), rt.catalog.resource(other)) \
            .select(F.col(f"`{item}`").cast("string").alias("value")).where(F.col("value").isNotNull())
    return out


def silver_values(rt: Runtime, res: Resource) -> dict:
    """Silver's (value, key) pairs of the items whose `unique` rule looks at silver."""
    items = silver_unique_items(res)
    silver_path = rt.settings.table_path("silver", res.name)
    if not items or not delta.exists(rt.spark, silver_path):
        return {}
    silver = versions.current(delta.read(rt.spark, silver_path), res)
    key = F.concat_ws("|", *[F.col(f"`{k}`").cast("string") for k in res.primary_key])
    return {name: silver.select(F.col(f"`{name}`").cast("string").alias("value"), key.alias("key"))
            .where(F.col("value").isNotNull()) for name in items}


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
        once=f"{batch.batch_id}:conform")
    log.error("conform %s batch %s: %s", res.name, batch.batch_id, detail)
    return {"batch_id": batch.batch_id, "source_file": batch.source_file, "rows_read": batch.rows_read,
            "rows_accepted": total - quarantined, "rows_quarantined": quarantined, "rows_warned": warned,
            "status": "failed", "detail": detail}
