"""Publish: silver -> `open.<resource>`, its CSV download, field dictionary and `open.catalog` row.

Gates, in order: the resource's open type (only 无条件开放 reaches the public zone); every conformed
batch validated without error failures; the PII scanner finds nothing in what would be published.
"""

from __future__ import annotations

import json
from datetime import datetime

from pyspark import StorageLevel
from pyspark.sql import functions as F
from pyspark.sql import types as T

from jobs.catalog.model import UPDATE_CYCLES, Resource
from jobs.errors import NotReady, PersonalDataLeak, ValidationFailed
from jobs.io import delta, ops
from jobs.publish.exports import write_csv, write_field_dictionary
from jobs.publish.scanner import scan_frame
from jobs.settings import Settings
from jobs.steps.runtime import Runtime, log, runtime
from jobs.transforms.masking import technique, to_open

CATALOG_SCHEMA = T.StructType([
    T.StructField("code", T.StringType()), T.StructField("name", T.StringType()),
    T.StructField("title", T.StringType()), T.StructField("title_en", T.StringType()),
    T.StructField("provider", T.StringType()), T.StructField("provider_name", T.StringType()),
    T.StructField("theme", T.StringType()), T.StructField("summary", T.StringType()),
    T.StructField("open_type", T.StringType()), T.StructField("update_cycle", T.StringType()),
    T.StructField("rows", T.LongType()), T.StructField("fields", T.StringType()),
    T.StructField("download", T.StringType()), T.StructField("published_at", T.TimestampType()),
])


def _check_validated(rt: Runtime, res: Resource) -> list[str]:
    """Batch ids covered by this publish; raises when one is unvalidated or failed."""
    ledger = ops.read(rt.spark, rt.settings, "ledger", res.name)
    conformed = ops.batches_ok(rt.spark, rt.settings, res.name, "conform")
    validated = {r.batch_id: r.status for r in ledger.where(F.col("step") == "validate").collect()}
    missing = sorted(conformed - validated.keys())
    if missing:
        raise NotReady(f"{res.name}: batches {', '.join(missing)} are conformed but not validated; run validate first")
    failed = sorted(b for b, s in validated.items() if s != "ok")
    if failed:
        raise ValidationFailed(f"{res.name}: batches {', '.join(failed)} failed validation; "
                               "fix or re-deliver them before publishing (see ops.validations and Data Docs)")
    return sorted(conformed)


def publish(resource: str, *, settings: Settings | None = None, now: datetime | None = None) -> dict:
    """Publish the open table and files of `resource`.

    Raises:
        NotReady / ValidationFailed: the silver data is not (successfully) validated.
        PersonalDataLeak: an identifier would reach the open table.
    """
    rt = runtime(settings, now)
    res = rt.resource(resource)
    spark, settings = rt.spark, rt.settings
    if not res.is_open:
        log.warning("publish %s: open type %s, nothing goes to the public zone", res.name, res.open_type)
        return {"resource": res.name, "status": "skipped", "reason": f"open type {res.open_type}"}
    batches = _check_validated(rt, res)
    silver_path = settings.table_path("silver", res.name)
    if not delta.exists(spark, silver_path):
        raise NotReady(f"{res.name}: no silver table at {silver_path}; ingest and conform first")
    # The open table records the silver version it was built from: nothing new in silver, nothing to do
    # (so re-running a DAG on unchanged landing content changes no table).
    source = json.dumps({"silver_version": delta.version(spark, silver_path)})
    open_path = settings.table_path("open", res.name)
    if delta.last_user_metadata(spark, open_path) == source:
        log.info("publish %s: open.%s is already built from silver as it is; nothing to do", res.name, res.name)
        return {"resource": res.name, "status": "unchanged", "rows": delta.read(spark, open_path).count()}

    opened = to_open(delta.read(spark, silver_path), res).persist(StorageLevel.MEMORY_AND_DISK)
    try:
        findings = scan_frame(opened)
        if findings:
            raise PersonalDataLeak(f"{res.name}: personal identifiers in columns about to be published: "
                                   + ", ".join(f"{f.column} ({f.count} {f.kind})" for f in findings))
        delta.overwrite(opened, open_path, user_metadata=source)
        rows = delta.read(spark, open_path).count()
        folder = settings.open_files / res.name
        csv_path = write_csv(delta.read(spark, open_path), res, folder / f"{res.name}.csv")
        write_field_dictionary(res, opened.columns, folder / f"{res.name}.fields.csv")
    finally:
        opened.unpersist()

    _upsert_catalog_row(rt, res, rows, opened.columns, str(csv_path))
    latest = batches[-1] if batches else "none"
    ops.record(spark, settings, "ledger", [ops.LedgerEntry(
        resource=res.name, batch_id=latest, step="publish", source_file="", rows_read=0, rows_bronze=0,
        rows_accepted=0, rows_quarantined=0, rows_warned=0, rows_published=rows, status="ok",
        detail=f"open.{res.name} covers {len(batches)} batch(es)", recorded_at=rt.now)],
        txn_app_id=f"ledger:publish:{res.name}:{rt.now.isoformat()}")
    log.info("publish %s: %d rows to open.%s and %s", res.name, rows, res.name, csv_path)
    return {"resource": res.name, "status": "published", "rows": rows, "csv": str(csv_path)}


def _upsert_catalog_row(rt: Runtime, res: Resource, rows: int, columns: list[str], download: str) -> None:
    dept = rt.catalog.departments[res.provider]
    items = [res.item(c) for c in columns if c in res.item_names]
    fields = [{"name": i.name, "title": i.title, "type": i.type, "deidentification": technique(i)} for i in items]
    row = (res.code, res.name, res.title, res.title_en, res.provider, dept.name, res.theme, res.summary,
           res.open_type, UPDATE_CYCLES[res.update_cycle], rows, json.dumps(fields, ensure_ascii=False), download,
           rt.now)
    path = rt.settings.table_path("open", "catalog")
    delta.ensure_table(rt.spark, path, CATALOG_SCHEMA)
    delta.upsert(rt.spark, rt.spark.createDataFrame([row], CATALOG_SCHEMA), path, keys=["code"])
