"""Erase: remove one person's records from every zone on request (PIPL art. 47), with a record that proves it.

For each resource that may hold the person, in this order, so a crash is finished by running the same
request again (an unfinished erasure of the same person resumes instead of finding nothing):
1. refuse, changing nothing, when a batch is still between ingest and validate (its counts are in flight);
2. find the person's rows in bronze, audit, silver (every version of an `scd2` record) and quarantine, by
   value and by lineage (the bronze line a typed row came from), and record `started` in `ops.erasures`;
3. empty the person's lines in the archived exports (CSV / JSON lines: every other record keeps its bytes
   and line number; an XLSX export is withdrawn whole, bronze keeps its other rows) and withdraw rejected
   exports that name them;
4. DELETE the rows from each zone table in one commit each, noted `batch=<erasure> step=erase`, and write
   the ledger's `erase` entries (per bronze batch: rows removed, accepted or quarantined as judged);
5. republish the resource's open tables from the cleaned silver and withdraw every earlier version of its
   detail tables (their files held the person); a resource that cannot be published now has them withdrawn;
6. record `done` with what was removed and `purge_after`: the older table versions and change-feed files
   still hold the person until VACUUM deletes them, which maintenance does once the time-travel retention
   has passed (log commits included, `jobs.io.maintenance`).

The request is recorded as a keyed hash (`jobs.transforms.erasure.subject_hash`), never as the value.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pyspark.sql import Column
from pyspark.sql import functions as F

from jobs.catalog.model import Resource
from jobs.errors import BadData, ConfigurationError, ErasureRefused, NotReady
from jobs.io import delta, ops
from jobs.io.history import commit_note
from jobs.io.landing import Landing, landing_for
from jobs.publish import layout, site
from jobs.steps.runtime import Runtime, log, runtime
from jobs.transforms.erasure import (
    Subject,
    blank_records,
    check_personal,
    key_subject,
    lineage_condition,
    matches,
    resident_id_items,
    resident_subject,
    subject_hash,
)

#: the zones a resource's rows live in before publishing, in the order they are erased
ZONES = ("bronze", "audit", "silver", "quarantine")


@dataclass
class Found:
    """Where one resource holds the person."""

    res: Resource
    #: zone -> rows matched now
    rows: dict[str, int] = field(default_factory=dict)
    #: (bronze batch, line) of every record of the person, from any zone's lineage
    lines: set[tuple[str, int]] = field(default_factory=set)

    @property
    def total(self) -> int:
        return sum(self.rows.values())


def erase(*, resource: str | None = None, key: str | None = None, resident_id: str | None = None,
          settings=None, now: datetime | None = None) -> dict:  # noqa: ANN001 - Settings
    """Erase the person named by `resident_id` (every resource with resident-ID items, or `resource` only) or
    by `key` (of `resource`).

    Raises:
        ErasureRefused: the request names nothing the lake holds, a resource without personal items, a
            malformed value, or a resource with batches in flight; nothing was changed.
        ConfigurationError: no secret key to hash the request with (CITYLAKE_PSEUDONYM_KEY).
    """
    rt = runtime(settings, now)
    if (key is None) == (resident_id is None):
        raise ErasureRefused("name the person by --key (with --resource) or by --resident-id, not both")
    if not rt.settings.pseudonym_key:
        raise ConfigurationError("an erasure is recorded as a keyed hash of the request: set CITYLAKE_PSEUDONYM_KEY "
                                 "(or the Airflow connection citylake_pseudonym) first; nothing was changed")
    if key is not None:
        if resource is None:
            raise ErasureRefused("--key needs --resource (the resource whose primary key it is)")
        res = rt.resource(resource)
        subject = key_subject(res, key)
        check_personal(res, subject)
        candidates = [res]
    else:
        subject = resident_subject(resident_id or "")
        if resource is not None:
            res = rt.resource(resource)
            check_personal(res, subject)
            candidates = [res]
        else:
            candidates = [r for _, r in sorted(rt.catalog.resources.items()) if resident_id_items(r)]
    digest = subject_hash(subject, rt.settings.pseudonym_key)
    unfinished = _unfinished(rt, digest)
    erasure_id = next(iter(unfinished.values()), None) or f"erasure-{rt.now:%Y%m%dT%H%M%S}-{digest[:8]}"
    found = [f for f in (_find(rt, r, subject) for r in candidates) if f.total or f.res.name in unfinished]
    if not found:
        where = candidates[0].name if len(candidates) == 1 else f"any of {len(candidates)} resources with resident IDs"
        raise ErasureRefused(f"no row of {where} holds {subject.describe()}; nothing was changed")
    for f in found:
        _check_settled(rt, f.res)
    purge_after = rt.now + timedelta(hours=rt.settings.vacuum_retain_hours)
    results = [_erase_resource(rt, f, subject, digest, erasure_id, purge_after, resumed=f.res.name in unfinished)
               for f in found]
    log.info("erase %s: %s", erasure_id, "; ".join(f"{r['resource']}: {r['rows']}" for r in results))
    return {"erasure_id": erasure_id, "subject": subject.kind, "subject_hash": digest,
            "purge_after": purge_after.isoformat(timespec="seconds"),
            "purge": (f"older table versions and change-feed files keep the rows until the first maintenance run "
                      f"after {purge_after:%Y-%m-%d %H:%M} (CITYLAKE_VACUUM_RETAIN_HOURS="
                      f"{rt.settings.vacuum_retain_hours}); `citylake maintain` then deletes them"),
            "resources": results}


def _unfinished(rt: Runtime, digest: str) -> dict[str, str]:
    """resource -> erasure id of an earlier request for the same person that started and did not finish."""
    entries = ops.rows(rt.settings, "erasures", ("erasure_id", "resource", "status"), subject_hash=digest)
    done = {(e["erasure_id"], e["resource"]) for e in entries if e["status"] == "done"}
    return {e["resource"]: e["erasure_id"] for e in entries
            if e["status"] == "started" and (e["erasure_id"], e["resource"]) not in done}


#: SQL of the bronze batch a row's batch id stands for (a replay `<batch>-r<mark>` reads its original)
_BATCH = r"regexp_extract(`_batch_id`, '^([^-]+)', 1)"


def _find(rt: Runtime, res: Resource, subject: Subject) -> Found:
    found = Found(res)
    for zone in ZONES:
        path = rt.settings.table_path(zone, res.name)
        if not delta.exists(rt.spark, path):
            continue
        table = delta.read(rt.spark, path)
        hits = table.where(matches(res, subject, table.columns)).select(
            F.expr(_BATCH).alias("batch"), "_row_number").collect()
        found.rows[zone] = len(hits)
        found.lines.update((h.batch, int(h._row_number)) for h in hits)
    return found


def _check_settled(rt: Runtime, res: Resource) -> None:
    """Raises ErasureRefused when a batch is between ingest and validate: its ledger counts are not final."""
    conformed = ops.batches_done(rt.settings, res.name, "conform")
    ok = ops.batches_ok(rt.settings, res.name, "conform")
    validated = ops.batches_done(rt.settings, res.name, "validate")
    busy = [b.batch_id for b in ops.ingested_batches(rt.settings, res.name) if b.batch_id not in conformed]
    busy += sorted(ok - validated)
    if busy:
        raise ErasureRefused(f"{res.name} has batches in flight ({', '.join(busy)}): run its DAG to the end first, "
                             "then erase; nothing was changed")


def _where(res: Resource, subject: Subject, columns: list[str], lines: set[tuple[str, int]]) -> Column:
    return matches(res, subject, columns) | F.expr(lineage_condition(sorted(lines), batch_expr=_BATCH))



def _erase_resource(rt: Runtime, found: Found, subject: Subject, digest: str, erasure_id: str,
                    purge_after: datetime, *, resumed: bool) -> dict:
    spark, settings, res = rt.spark, rt.settings, found.res
    note = commit_note(erasure_id, "erase")

    def record(status: str, removed: dict, detail: str) -> None:
        ops.record(rt.metastore_spark, settings, "erasures", [ops.ErasureEntry(
            erasure_id=erasure_id, resource=res.name, subject=subject.kind, subject_hash=digest, status=status,
            removed=json.dumps(removed, ensure_ascii=False, sort_keys=True), detail=detail, purge_after=purge_after,
            recorded_at=rt.now)], once=f"{erasure_id}:{status}")

    record("started", {f"{z}.{res.name}": n for z, n in found.rows.items()}, "rows found before anything changed")
    files = _clean_landing(rt, found, subject)
    removed: dict[str, int] = {}
    by_batch: dict[str, dict[str, int]] = {}
    for zone in ZONES:
        path = settings.table_path(zone, res.name)
        if not delta.exists(spark, path):
            continue
        table = delta.read(spark, path)
        condition = _where(res, subject, table.columns, found.lines)
        if zone in ("bronze", "quarantine"):  # per batch, for the ledger
            for row in table.where(condition).groupBy("_batch_id").count().collect():
                by_batch.setdefault(row._batch_id, {})[zone] = int(row["count"])
        if table.where(condition).isEmpty():  # a resumed erasure: this zone was cleared before the crash
            removed[f"{zone}.{res.name}"] = 0
            continue
        before = delta.version(spark, path)
        delta.delete_where(spark, path, condition, note=note)
        removed[f"{zone}.{res.name}"] = int(delta.metrics_since(spark, path, before).get("numDeletedRows", 0))
    entries = [ops.LedgerEntry(
        resource=res.name, batch_id=batch, step="erase", source_file="", rows_read=counts.get("bronze", 0),
        rows_bronze=counts.get("bronze", 0), rows_accepted=counts.get("bronze", 0) - counts.get("quarantine", 0),
        rows_quarantined=counts.get("quarantine", 0), rows_warned=0, rows_published=0, status="ok",
        detail=f"{erasure_id}: the person's rows removed on request ({counts.get('bronze', 0)} of bronze, "
               f"{counts.get('quarantine', 0)} of quarantine)", recorded_at=rt.now)
        for batch, counts in sorted(by_batch.items()) if counts.get("bronze")]
    if entries:
        ops.record(rt.metastore_spark, settings, "ledger", entries, once=f"{erasure_id}:erase")
    # open tables derive from silver alone: unchanged silver, nothing published held the person
    published = _republish(rt, res) if removed.get(f"silver.{res.name}") or resumed \
        else {"republished": "silver held none of the rows", "withdrawn": []}
    summary = {"resource": res.name, "rows": removed, "files": files, **published}
    record("done", {**removed, **{f"landing:{k}": v for k, v in files.items()},
                    **{f"withdrawn:{v}": "version" for v in published["withdrawn"]}},
           f"bytes kept in older table versions until VACUUM after {purge_after:%Y-%m-%d %H:%M}")
    return summary


def _clean_landing(rt: Runtime, found: Found, subject: Subject) -> dict[str, str]:
    """Archived exports: the person's lines emptied (CSV, JSON lines) or the export withdrawn (XLSX); rejected
    exports that contain the person's values are withdrawn. Returns file -> what was done."""
    res, landing = found.res, landing_for(rt.settings)
    done: dict[str, str] = {}
    if found.lines:
        starts: dict[str, list[int]] = {}
        batches = sorted({b for b, _ in found.lines})
        bronze = delta.read(rt.spark, rt.settings.table_path("bronze", res.name))
        for row in bronze.where(F.col("_batch_id").isin(batches)).select("_batch_id", "_row_number").collect():
            starts.setdefault(row._batch_id, []).append(int(row._row_number))
        archived = ops.rows(rt.settings, "manifest", ("batch_id", "moved_to", "status"), resource=res.name)
        for entry in archived:
            if entry["batch_id"] not in batches or entry["status"] not in ("ingested", "duplicate"):
                continue
            target = entry["moved_to"]
            if not target or not landing.exists(target):
                continue
            erased = sorted(n for b, n in found.lines if b == entry["batch_id"])
            done[target] = _blank_archived(landing, target, starts.get(entry["batch_id"], []), erased, res)
    for entry in ops.rows(rt.settings, "manifest", ("moved_to",), resource=res.name, status="rejected"):
        target = entry["moved_to"]
        if target and landing.exists(target) and _names_subject(landing.read_bytes(target), subject, res):
            for key in (target, target + ".reason.txt", target + res.source.marker_suffix):
                landing.remove(key)
            done[target] = "rejected export withdrawn"
    return done


def _blank_archived(landing: Landing, key: str, starts: list[int], erased: list[int], res: Resource) -> str:
    if res.source.format == "xlsx":
        landing.remove(key)
        return "withdrawn whole (bronze keeps its other rows)"
    data = landing.read_bytes(key)
    zipped = key.endswith(".gz")
    text = gzip.decompress(data) if zipped else data
    cleaned = blank_records(text, starts, erased)
    if cleaned != text:
        landing.replace_bytes(key, gzip.compress(cleaned, mtime=0) if zipped else cleaned)
    return f"{len(erased)} record(s) emptied"


def _names_subject(data: bytes, subject: Subject, res: Resource) -> bool:
    text = gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data
    for encoding in ("utf-8", res.source.encoding or "gb18030", "gb18030"):
        try:
            decoded = text.decode(encoding)
        except (UnicodeDecodeError, LookupError):
            continue
        return all(p in decoded or p.lower() in decoded for p in subject.parts)
    return False


def _republish(rt: Runtime, res: Resource) -> dict:
    """Publish the resource again from the cleaned silver; then every earlier version of its detail tables
    goes. When it cannot be published now, its detail tables are withdrawn until the next publish."""
    from jobs.steps.publish import publish, withdraw, zone_store

    zone = res.zone
    if zone is None:
        return {"republished": "not published (open type)", "withdrawn": []}
    store = zone_store(rt.settings, zone)
    mine = [d for d in site.load_records(store) if d.source == res.name and d.kind == "detail"]
    if not mine:
        return {"republished": "nothing published yet", "withdrawn": []}
    try:
        outcome = publish(res.name, settings=rt.settings, now=rt.now)
        status = outcome["status"]
    except (BadData, NotReady) as exc:
        log.warning("erase %s: cannot republish now (%s); its detail tables are withdrawn", res.name, exc)
        return {"republished": f"withdrawn: {exc}", "withdrawn": withdraw(rt, zone, store, [d.name for d in mine])}
    withdrawn = []
    current = {name: table["version"] for name, table in outcome.get("tables", {}).items()}
    for d in mine:
        for version in layout.versions_in(store.list(layout.dataset_prefix(d.name)), d.name):
            if version != current.get(d.name):
                store.delete_prefix(layout.version_prefix(d.name, version) + "/")
                withdrawn.append(f"{zone}.{d.name} v{version}")
    return {"republished": status, "withdrawn": withdrawn}
