"""Publish: silver -> the resource's open tables (detail and aggregates) in the zone its open type allows.

Gates, in order: the open type (无条件开放 -> public zone, 有条件开放 -> restricted zone, 不予开放 ->
nothing leaves the lake, and anything published earlier under another type is retracted); every
conformed batch validated without error failures; per field de-identification and k-anonymity; then
each table is released (`jobs.steps.release`) behind the PII gate. Finally the zone's catalog.json,
catalog.jsonld, portal and `<zone>.catalog` table are rebuilt from the datasets' records.
"""

from __future__ import annotations

import json
from datetime import datetime

from pyspark import StorageLevel
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs.catalog.model import DataItem, Resource
from jobs.catalog.opendata import ZONES
from jobs.errors import NotReady, ValidationFailed
from jobs.io import delta, ops
from jobs.io.objects import ObjectStore, store_for
from jobs.io.tables import forget
from jobs.publish import layout, site
from jobs.publish.records import ChartSpec, FieldInfo
from jobs.sample.canaries import canary_values
from jobs.settings import Settings
from jobs.steps.catalog_sync import sync_zone_catalog
from jobs.steps.release import OpenTable, Released, release
from jobs.steps.runtime import Runtime, log, runtime
from jobs.transforms import versions
from jobs.transforms.aggregate import CELL_ROWS, aggregate
from jobs.transforms.kanonymity import SUPPRESSED, mark_small_groups
from jobs.transforms.masking import technique, to_open, warn_starred_addresses

UPDATED = FieldInfo("data_updated_at", "数据更新时间", "timestamp", "该记录最近一次入湖时间", "none")
#: the version columns of a detail table whose entry opens its history (`open: {history: true}`)
VERSION_FIELDS = (FieldInfo("valid_from", "版本生效时间", "timestamp", "该版本记录入湖（生效）的时间", "none"),
                  FieldInfo("valid_to", "版本失效时间", "timestamp", "被下一版本取代的时间；为空表示现行版本", "none"))


def _check_validated(rt: Runtime, res: Resource) -> list[str]:
    """Batch ids covered by this publish; raises when one is unvalidated or failed."""
    conformed = ops.batches_ok(rt.settings, res.name, "conform")
    validated = {r["batch_id"]: r["status"] for r in ops.rows(rt.settings, "ledger", ("batch_id", "status"),
                                                               resource=res.name, step="validate")}
    missing = sorted(conformed - validated.keys())
    if missing:
        raise NotReady(f"{res.name}: batches {', '.join(missing)} are conformed but not validated; run validate first")
    failed = sorted(b for b, s in validated.items() if s != "ok")
    if failed:
        raise ValidationFailed(f"{res.name}: batches {', '.join(failed)} failed validation; "
                               "fix or re-deliver them before publishing (see ops.validations and Data Docs)")
    return sorted(conformed)


def zone_store(settings: Settings, zone: str) -> ObjectStore:
    return store_for(settings.open_uri if zone == "open" else settings.restricted_uri, settings)


def _published_type(item: DataItem) -> str:
    """The item's type once de-identified: most generalisations and every pseudonym are text."""
    if item.publish == "pseudonymize":
        return "string"
    if item.publish == "generalize":
        to = item.generalize.get("to")
        return "date" if to == "date" else item.type if to == "round" else "string"
    return item.type


def _detail(res: Resource, silver: DataFrame, lineage: str, key: str | None) -> tuple[OpenTable, DataFrame]:
    """The de-identified detail table, k-anonymous over the declared quasi-identifiers, and the marked
    frame (persisted by the caller) it filters."""
    warn_starred_addresses(silver, res)
    marked = mark_small_groups(to_open(silver, res, pseudonym_key=key),
                               quasi_identifiers=res.open.quasi_identifiers, k=res.open.k)
    published = [i for i in res.items if i.publish != "drop"]
    fields = tuple(FieldInfo(i.name, i.title, _published_type(i), i.description, technique(i))
                   for i in published) + (UPDATED,) + (VERSION_FIELDS if res.open.history else ())
    allowed = {i.name: i.allow_identifiers for i in published if i.allow_identifiers}
    order = (res.primary_key or tuple(i.name for i in published)) + (("valid_from",) if res.open.history else ())
    dropped = tuple(FieldInfo(i.name, i.title, i.type, i.description, technique(i))
                    for i in res.items if i.publish == "drop")
    table = OpenTable(res.name, res.code, res.title, res.title_en, res.summary, "detail",
                      marked.where(~F.col(SUPPRESSED)).drop(SUPPRESSED), tuple(order), fields, allowed, lineage,
                      suppressed_fields=dropped)
    return table, marked


def _aggregates(res: Resource, silver: DataFrame, lineage: str) -> list[tuple[OpenTable, DataFrame]]:
    out = []
    for agg in res.open.aggregates:
        cells = aggregate(silver, agg)
        fields = tuple(FieldInfo(d.name, d.title, res.item(d.source).type if not d.generalize else "string",
                                 f"{res.item(d.source).title}" + (f"（{d.generalize['to']}）" if d.generalize else ""),
                                 "aggregation") for d in agg.dimensions) + tuple(
            FieldInfo(m.name, m.title, "integer" if m.agg in ("count", "count_distinct") else "decimal",
                      f"{m.agg}({m.of or '*'})" + (f" in {'/'.join(m.values)}" if m.values else ""), "aggregation")
            for m in agg.measures)
        chart = ChartSpec(agg.chart[0], agg.chart[1], agg.title) if agg.chart else None
        table = OpenTable(agg.name, agg.code, agg.title, agg.title_en, agg.summary, "aggregate",
                          cells.where(F.col(CELL_ROWS) >= agg.min_count).drop(CELL_ROWS),
                          tuple(d.name for d in agg.dimensions), fields, {}, lineage, chart)
        out.append((table, cells))
    return out


def withdraw(rt: Runtime, zone: str, store: ObjectStore, names: list[str]) -> list[str]:
    """Remove these datasets from a zone (files, table, record) and rebuild its catalog; returns zone.name."""
    for name in names:
        store.delete_prefix(layout.dataset_prefix(name) + "/")
        forget(rt.spark, rt.settings.table_path(zone, name))
    if names:
        records = site.rebuild(store, base_url=rt.settings.open_base_url, now=rt.now)
        sync_zone_catalog(rt.spark, rt.settings.table_path(zone, "catalog"), records, rt.settings.open_base_url)
    return [f"{zone}.{name}" for name in names]


def _retract(rt: Runtime, res: Resource, keep_zone: str | None) -> list[str]:
    """Withdraw this resource's datasets from every zone its open type no longer allows."""
    gone = []
    for zone in {z for z in ZONES.values() if z and z != keep_zone}:
        store = zone_store(rt.settings, zone)
        gone += withdraw(rt, zone, store, [d.name for d in site.load_records(store) if d.source == res.name])
    if gone:
        log.warning("publish %s: open type is now %s; retracted %s", res.name, res.open_type, ", ".join(gone))
    return gone


def publish(resource: str, *, settings: Settings | None = None, now: datetime | None = None) -> dict:
    """Publish the open tables and files of `resource` to the zone of its open type.

    Raises:
        NotReady / ValidationFailed: the silver data is not (successfully) validated.
        PersonalDataLeak: an identifier reached a published table or file; that version was withdrawn.
        ConfigurationError: a field is to be pseudonymised and no key is configured.
    """
    rt = runtime(settings, now)
    res = rt.resource(resource)
    spark, settings = rt.spark, rt.settings
    zone = res.zone
    retracted = _retract(rt, res, zone)
    if zone is None:
        log.warning("publish %s: open type %s, nothing leaves the lake", res.name, res.open_type)
        return {"resource": res.name, "status": "skipped", "reason": f"open type {res.open_type}",
                "retracted": retracted}
    batches = _check_validated(rt, res)
    silver_path = settings.table_path("silver", res.name)
    if not delta.exists(spark, silver_path):
        raise NotReady(f"{res.name}: no silver table at {silver_path}; ingest and conform first")
    # Each open table records the silver version it was built from: nothing new in silver, nothing to do
    # (so re-running a DAG on unchanged landing content changes no table and no file).
    lineage = json.dumps({"silver_version": delta.version(spark, silver_path)})
    # an scd2 resource publishes its current rows, or (detail only) every version when the entry opens its
    # history; aggregates always count the current records
    every_version = delta.read(spark, silver_path)
    silver = versions.current(every_version, res)
    store = zone_store(settings, zone)
    dept = rt.catalog.departments[res.provider]
    released: list[Released] = []
    suppressed: dict[str, int] = {}
    plans: list[tuple[OpenTable, DataFrame | None]] = []
    if res.open.detail:
        plans.append(_detail(res, every_version if res.open.history else silver, lineage, settings.pseudonym_key))
    plans += _aggregates(res, silver, lineage)
    for table, source in plans:
        source = source.persist(StorageLevel.MEMORY_AND_DISK) if source is not None else None
        try:
            result = release(rt, res, dept, table, store, zone, canaries=canary_values())
            if source is not None and result.status == "published":
                if SUPPRESSED in source.columns:
                    suppressed[table.name] = source.where(F.col(SUPPRESSED)).count()
                elif CELL_ROWS in source.columns:
                    suppressed[table.name] = source.where(F.col(CELL_ROWS) < _min_count(res, table.name)).count()
            released.append(result)
        finally:
            if source is not None:
                source.unpersist()
    if any(r.status == "published" for r in released):
        records = site.rebuild(store, base_url=settings.open_base_url, now=rt.now)
        sync_zone_catalog(spark, settings.table_path(zone, "catalog"), records, settings.open_base_url)
    latest = batches[-1] if batches else "none"
    # an unchanged table is not a publish: nothing is written, not even to the ledger
    entries = [ops.LedgerEntry(
        resource=res.name, batch_id=latest, step="publish", source_file="", rows_read=0, rows_bronze=0,
        rows_accepted=0, rows_quarantined=0, rows_warned=0, rows_published=r.rows, status="ok",
        detail=f"{zone}.{r.name} v{r.version} {r.status}; covers {len(batches)} batch(es)"
               + (f"; {suppressed[r.name]} suppressed (k-anonymity / small cells)" if suppressed.get(r.name) else ""),
        recorded_at=rt.now) for r in released if r.status == "published"]
    if entries:
        ops.record(spark, settings, "ledger", entries, once=f"publish:{rt.now.isoformat()}")
    status = "published" if any(r.status == "published" for r in released) else "unchanged"
    return {"resource": res.name, "status": status, "zone": zone, "zone_uri": store.uri,
            "rows": released[0].rows if released else 0, "retracted": retracted,
            "tables": {r.name: {"status": r.status, "version": r.version, "rows": r.rows,
                                "suppressed": suppressed.get(r.name, 0)} for r in released}}


def _min_count(res: Resource, name: str) -> int:
    return next(a.min_count for a in res.open.aggregates if a.name == name)
