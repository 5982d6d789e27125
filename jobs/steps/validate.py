"""Validate: run the resource's Great Expectations suite on each conformed, not yet validated batch.

Results go to `ops.validations` (one row per expectation) and the Data Docs site in the ops zone. An
`error` (GX: critical) failure marks the batch failed in the ledger and raises `ValidationFailed`,
which stops the publish step.
"""

from __future__ import annotations

from datetime import datetime

from pyspark import StorageLevel
from pyspark.sql import functions as F

from jobs.catalog.suite import suite_path
from jobs.errors import ValidationFailed
from jobs.io import delta, ops
from jobs.io.quality import load_suite_file, validate_dataframe
from jobs.settings import Settings
from jobs.steps.runtime import log, runtime


def validate(resource: str, *, settings: Settings | None = None, now: datetime | None = None) -> list[dict]:
    """Validate every conformed batch of `resource` that has no validation yet.

    Raises:
        ValidationFailed: an error-severity expectation failed; names the batch and the expectations.
    """
    rt = runtime(settings, now)
    res = rt.resource(resource)
    spark, settings = rt.spark, rt.settings
    document = load_suite_file(suite_path(settings.expectations_dir, res))
    conformed = ops.batches_ok(spark, settings, res.name, "conform")
    done = ops.batches_done(spark, settings, res.name, "validate")
    pending = [(b.batch_id, b.source_file) for b in ops.ingested_batches(spark, settings, res.name)
               if b.batch_id in conformed - done]
    results, failures = [], []
    for batch, source_file in pending:
        rows = (delta.read(spark, settings.table_path("silver", res.name)).where(F.col("_batch_id") == batch)
                .persist(StorageLevel.MEMORY_AND_DISK))
        try:
            run_name = f"{res.name}-{batch}"
            outcome = validate_dataframe(rows, document, ops_dir=settings.ops, run_name=run_name)
            n_rows = rows.count()
        finally:
            rows.unpersist()
        ops.record(spark, settings, "validations", [
            ops.ValidationEntry(resource=res.name, batch_id=batch, run_name=run_name, expectation=o.type,
                                column=o.column or "", severity=o.severity, success=o.success, observed=o.observed,
                                recorded_at=rt.now)
            for o in outcome.outcomes
        ], txn_app_id=f"validations:{batch}")
        failed = [f"{o.type}({o.column or ''}): {o.observed}" for o in outcome.failed_errors]
        warned = [f"{o.type}({o.column or ''}): {o.observed}" for o in outcome.failed_warnings]
        status = "failed" if failed else "ok"
        ops.record(spark, settings, "ledger", [ops.LedgerEntry(
            resource=res.name, batch_id=batch, step="validate", source_file=source_file, rows_read=0,
            rows_bronze=0, rows_accepted=n_rows, rows_quarantined=0, rows_warned=len(warned), rows_published=0,
            status=status, detail="; ".join(failed + warned), recorded_at=rt.now)],
            txn_app_id=f"ledger:{batch}:validate")
        summary = {"batch_id": batch, "success": not failed, "expectations": len(outcome.outcomes),
                   "failed_errors": failed, "failed_warnings": warned, "data_docs": str(outcome.data_docs)}
        log.info("validate %s batch %s: %d expectations, %d error failures, %d warnings", res.name, batch,
                 len(outcome.outcomes), len(failed), len(warned))
        results.append(summary)
        if failed:
            failures.append(f"batch {batch} ({source_file}): " + "; ".join(failed))
    if failures:
        raise ValidationFailed(f"{res.name}: error-severity expectations failed, publishing is blocked: "
                               + " | ".join(failures))
    return results
