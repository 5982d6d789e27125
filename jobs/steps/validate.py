"""Validate: run the resource's Great Expectations suite on each conformed batch, and promote it.

Write-audit-publish: conform leaves a batch's accepted rows in `audit.<resource>`; this step runs the
suite on them and only when no `error` (GX: critical) expectation fails does it MERGE them into silver
(or append, for a resource without a primary key). A failing batch leaves silver untouched, is marked
failed in the ledger and raises `ValidationFailed`, which stops the publish step. `warn` failures are
recorded in the ledger and the summary and do not stop anything. Results go to `ops.validations` (one
row per expectation) and the Data Docs site in the ops zone.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

from pyspark import StorageLevel
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs.catalog.derive import silver_table_schema
from jobs.catalog.model import Resource
from jobs.catalog.suite import render, suite_document, suite_folder, suite_path, with_history, write_suite
from jobs.errors import ConfigurationError, LedgerImbalance, ValidationFailed
from jobs.io import delta, ops
from jobs.io.history import commit_note
from jobs.io.quality import load_suite_file, validate_dataframe
from jobs.settings import Settings
from jobs.sql_text import sql_literal
from jobs.steps.runtime import Runtime, log, runtime
from jobs.transforms import versions

#: silver keeps a Change Data Feed: what each MERGE inserted, updated (before and after) and deleted, for
#: incremental readers (the publish step, an analyst's `table_changes`, delta-rs' `load_cdf`)
SILVER_PROPERTIES = {"delta.enableChangeDataFeed": "true"}


def validate(resource: str, *, settings: Settings | None = None, now: datetime | None = None) -> list[dict]:
    """Validate, then promote to silver, every conformed batch of `resource` that has no validation yet.

    Raises:
        ValidationFailed: an error-severity expectation failed; names the batch and the expectations.
    """
    rt = runtime(settings, now)
    res = rt.resource(resource)
    conformed = ops.batches_ok(rt.settings, res.name, "conform")
    done = ops.batches_done(rt.settings, res.name, "validate")
    pending = [(b.batch_id, b.source_file) for b in ops.ingested_batches(rt.settings, res.name)
               if b.batch_id in conformed - done]
    return validate_batches(rt, res, pending)


def suite_for(settings: Settings, res: Resource) -> tuple[Path, bool]:
    """The resource's suite file, and whether this call generated it.

    A built-in entry's suite is checked in (`expectations/`, `citylake expectations --check`). An entry of an
    extra catalog folder keeps its suite beside it (`<folder>/expectations/`); the first validation of such
    an entry generates the baseline there, or in the ops zone (`<ops>/expectations/`) when the folder is
    read-only, so onboarding never needs a change to the checkout. Nothing checks such a suite in CI, so its
    baseline follows the entry: when the entry changed, the generated expectations are written again (the
    hand-written ones kept) and this counts as generated too.
    """
    primary = suite_path(settings.expectations_dir, res)
    fallback = settings.ops / "expectations" / f"{res.name}.json"
    checked_in = suite_folder(settings.expectations_dir, res) == settings.expectations_dir
    for path in (primary, fallback):
        if path.is_file():
            if checked_in:
                return path, False
            text = path.read_text(encoding="utf-8")
            if render(suite_document(res, json.loads(text))) == text:
                return path, False
            return write_suite(settings.expectations_dir, res, path=path), True
    if checked_in:
        return primary, False  # load_suite_file names the missing checked-in suite
    try:
        return write_suite(settings.expectations_dir, res), True
    except OSError:
        fallback.parent.mkdir(parents=True, exist_ok=True)
        return write_suite(settings.expectations_dir, res, path=fallback), True


def validate_batches(rt: Runtime, res: Resource, pending: list[tuple[str, str]], *,
                     replay_of: Mapping[str, str] | None = None) -> list[dict]:
    """Validate and promote the conformed batches `pending` ((batch id, source file), in order). A batch in
    `replay_of` re-judges the bronze batch it maps to (`jobs.steps.replay`): once promoted, it supersedes
    that batch in silver and in quarantine.

    Raises:
        ValidationFailed: as `validate`.
    """
    spark, settings = rt.spark, rt.settings
    suite, generated = suite_for(settings, res)
    document = load_suite_file(suite)
    if generated:
        log.info("validate %s: no expectation suite yet; the baseline was generated from the entry at %s",
                 res.name, suite)
    audit_path = settings.table_path("audit", res.name)
    results, failures = [], []
    recent = _recent_counts(rt, res)
    for batch, source_file in pending:
        # Read from audit once: the suite, the count, the MERGE and the correction links use this copy.
        rows = delta.read(spark, audit_path).where(F.col("_batch_id") == batch).persist(StorageLevel.MEMORY_AND_DISK)
        try:
            run_name = f"{res.name}-{batch}"
            outcome = validate_dataframe(rows, with_history(document, recent), ops_dir=settings.ops,
                                         run_name=run_name)
            n_rows = rows.count()
            ops.record(spark, settings, "validations", [
                ops.ValidationEntry(resource=res.name, batch_id=batch, run_name=run_name, expectation=o.type,
                                    column=o.column or "", severity=o.severity, success=o.success,
                                    observed=o.observed, recorded_at=rt.now)
                for o in outcome.outcomes
            ], once=batch)
            failed = [f"{o.type}({o.column or ''}): {o.observed}" for o in outcome.failed_errors]
            warned = [f"{o.type}({o.column or ''}): {o.observed}" for o in outcome.failed_warnings]
            promoted = "" if failed else _promote(rt, res, batch, rows, n_rows,
                                                  replay_of=(replay_of or {}).get(batch))
        finally:
            rows.unpersist()
        if not failed:
            recent.insert(0, n_rows)
        status = "failed" if failed else "ok"
        outcome_note = promoted or f"silver unchanged, rows stay in audit.{res.name}"
        detail = "; ".join([*failed, *warned, outcome_note])
        ops.record(spark, settings, "ledger", [ops.LedgerEntry(
            resource=res.name, batch_id=batch, step="validate", source_file=source_file, rows_read=0,
            rows_bronze=0, rows_accepted=n_rows, rows_quarantined=0, rows_warned=len(warned), rows_published=0,
            status=status, detail=detail, recorded_at=rt.now)],
            once=f"{batch}:validate")
        if not failed:
            # Only after the ledger says the batch is in silver: a crash before this leaves rows that the
            # retry MERGEs again (a no-op for content), never a batch that is nowhere.
            delta.delete_where(spark, audit_path, F.col("_batch_id") == batch, note=commit_note(batch, "validate"))
        summary = {"batch_id": batch, "success": not failed, "expectations": len(outcome.outcomes),
                   "failed_errors": failed, "failed_warnings": warned, "data_docs": str(outcome.data_docs),
                   "silver": promoted or "unchanged", "suite": str(suite)}
        if generated:
            summary["suite_generated"] = True  # the baseline of an entry from an extra catalog folder
        log.info("validate %s batch %s: %d expectations, %d error failures, %d warnings; %s", res.name, batch,
                 len(outcome.outcomes), len(failed), len(warned), summary["silver"])
        results.append(summary)
        if failed:
            failures.append(f"batch {batch} ({source_file}): " + "; ".join(failed))
    if failures:
        raise ValidationFailed(f"{res.name}: error-severity expectations failed, silver is unchanged and publishing "
                               "is blocked: " + " | ".join(failures))
    return results


def _recent_counts(rt: Runtime, res: Resource) -> list[int]:
    """Accepted row counts of the resource's validated batches, newest first (for history-relative checks)."""
    found = ops.rows(rt.settings, "ledger", ("rows_accepted", "recorded_at", "batch_id"), resource=res.name,
                     step="validate", status="ok")
    found.sort(key=lambda r: (r["recorded_at"], r["batch_id"]), reverse=True)
    return [int(r["rows_accepted"]) for r in found[:50]]


def _promote(rt: Runtime, res: Resource, batch: str, rows: DataFrame, n_rows: int, *,
             replay_of: str | None = None) -> str:
    """Move a validated batch from audit into silver; returns what happened, for the ledger."""
    spark, settings = rt.spark, rt.settings
    silver_path = settings.table_path("silver", res.name)
    note = commit_note(batch, "validate")
    delta.ensure_table(spark, silver_path, silver_table_schema(res), partition_by=res.partition_by,
                       properties=SILVER_PROPERTIES)
    scd2 = res.history == "scd2"
    if scd2 and versions.IS_CURRENT not in delta.read(spark, silver_path).columns:
        raise ConfigurationError(f"{res.name}: the catalog says history: scd2, but silver.{res.name} at {silver_path} "
                                 "was built keeping only the latest values (no version columns); rebuild it from "
                                 "bronze under the new setting, or set history back to latest")
    if res.write_mode == "overwrite":  # a full snapshot (a code list): the batch is the table
        delta.overwrite(rows, silver_path, partition_by=res.partition_by, user_metadata=note)
        done = f"replaced silver with {n_rows} rows"
    elif res.write_mode == "append" and replay_of is not None:
        # an event log keeps no key: the replayed batch's rows replace the original's, in one commit
        delta.replace_where(rows, silver_path, f"_batch_id IN ({sql_literal(replay_of)}, {sql_literal(batch)})",
                            note=note)
        done = f"replaced the rows of batch {replay_of} in silver with {n_rows} re-judged rows"
    elif res.write_mode == "append" or delta.is_empty(spark, silver_path):
        # Nothing to match against (first load) or no key: an idempotent append is the cheap, exact path;
        # the batch itself has no duplicate keys (conform quarantines them).
        delta.append_once(versions.first_versions(rows) if scd2 else rows, silver_path, txn_app_id=f"silver:{batch}",
                          partition_by=res.partition_by, note=note)
        done = f"appended {n_rows} rows to silver" + (" (first versions)" if scd2 else "")
    elif scd2:
        staged = versions.staged_versions(rows, delta.read(spark, silver_path), res)
        merged = delta.merge_versions(spark, staged, silver_path, condition=versions.merge_condition(res),
                                      close=versions.closing_update(), note=note)
        changed, added = merged["updated"], merged["inserted"] - merged["updated"]
        done = (f"merged into silver: {added} new record(s), {changed} new version(s) (earlier ones closed), "
                f"{n_rows - added - changed} unchanged or older than the current version")
    else:
        merged = delta.upsert(spark, rows, silver_path, keys=res.primary_key, newer_than="_ingested_at",
                              note=note)
        if merged["source"] != n_rows:
            raise LedgerImbalance(f"{res.name} batch {batch}: validated {n_rows} rows, the MERGE read "
                                  f"{merged['source']}")
        done = f"merged into silver: {merged['inserted']} inserted, {merged['updated']} updated"
    corrected = link_corrections(rt, res, batch, rows)
    done += f"; {corrected} earlier quarantined row(s) marked corrected" if corrected else ""
    if replay_of is not None:
        done += "; " + supersede(rt, res, replay_of, batch)
    return done


def supersede(rt: Runtime, res: Resource, original: str, replay: str) -> str:
    """After a replay's rows are in silver: the original batch's rows the replay now rejects leave silver (an
    `scd2` record's current version is closed instead), where the original batch still holds them; and
    the original's open quarantine records are marked as re-judged by the replay, whose own records are
    now the open ones. Idempotent, so a retried validate repeats it harmlessly."""
    from delta.tables import DeltaTable

    spark, settings = rt.spark, rt.settings
    quarantine_path = settings.table_path("quarantine", res.name)
    silver_path = settings.table_path("silver", res.name)
    retired = 0
    if res.primary_key and res.write_mode == "merge" and delta.exists(spark, quarantine_path):
        rejected = (delta.read(spark, quarantine_path).where(F.col("_batch_id") == replay)
                    .select(*[F.col(f"`{k}`").cast("string").alias(k) for k in res.primary_key])
                    .dropna(subset=list(res.primary_key)).distinct())
        cond = " AND ".join([f"t._batch_id = {sql_literal(original)}",
                             *(f"cast(t.`{k}` AS string) = s.`{k}`" for k in res.primary_key)])
        before = delta.version(spark, silver_path)
        with delta.noted(spark, commit_note(replay, "validate")) as session:
            merge = DeltaTable.forPath(session, silver_path).alias("t").merge(rejected.alias("s"), cond)
            if res.history == "scd2":
                merge = merge.whenMatchedUpdate(
                    condition=f"t.{versions.IS_CURRENT}",
                    set={versions.VALID_TO: F.lit(rt.now).cast("timestamp"), versions.IS_CURRENT: F.lit(False)})
            else:
                merge = merge.whenMatchedDelete()
            merge.execute()
        metrics = delta.metrics_since(spark, silver_path, before)
        retired = metrics.get("numTargetRowsDeleted", 0) + metrics.get("numTargetRowsUpdated", 0)
    superseded = 0
    if delta.exists(spark, quarantine_path):
        before = delta.version(spark, quarantine_path)
        with delta.noted(spark, commit_note(replay, "validate")) as session:
            DeltaTable.forPath(session, quarantine_path).update(
                condition=(F.col("_batch_id") == original) & F.col("_corrected_by_batch").isNull(),
                set={"_corrected_by_batch": F.lit(replay), "_corrected_at": F.lit(rt.now).cast("timestamp")})
        superseded = delta.metrics_since(spark, quarantine_path, before).get("numUpdatedRows", 0)
    return (f"replay of batch {original}: {retired} of its row(s) now rejected left silver, "
            f"{superseded} of its quarantine record(s) re-judged")


def link_corrections(rt: Runtime, res: Resource, batch: str, accepted: DataFrame) -> int:
    """Mark open quarantine records whose key this batch now delivered correctly (linked, never deleted).

    A record quarantined as a duplicate key is never corrected this way: the row it duplicated was accepted
    in its own batch, so a later delivery of that key updates the record, it does not repair the copy."""
    spark = rt.spark
    path = rt.settings.table_path("quarantine", res.name)
    if not res.primary_key or not delta.exists(spark, path):
        return 0
    from delta.tables import DeltaTable

    keys = accepted.select(*[F.col(f"`{k}`").cast("string").alias(k) for k in res.primary_key]).distinct()
    cond = " AND ".join(f"t.`{k}` = s.`{k}`" for k in res.primary_key)
    before = delta.version(spark, path)
    with delta.noted(spark, commit_note(batch, "validate")) as session:
        (DeltaTable.forPath(session, str(path)).alias("t")
         .merge(keys.alias("s"), f"{cond} AND t._corrected_by_batch IS NULL AND t._batch_id != '{batch}' "
                                 "AND NOT exists(t.reasons, r -> r.rule = 'duplicate_key')")
         .whenMatchedUpdate(set={"_corrected_by_batch": F.lit(batch),
                                 "_corrected_at": F.lit(rt.now).cast("timestamp")})
         .execute())
    return delta.metrics_since(spark, path, before).get("numTargetRowsUpdated", 0)
