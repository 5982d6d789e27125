"""Release one open table version into its zone: Delta table, downloads, PII gate, `latest/`, record.

The order makes a leak withdrawable: the new table version and its files are published first, then the
PII gate reads back everything published; a hit restores the table to its previous version, deletes the
new version's files and raises — `latest/`, the record and so the catalog, API and portal still show the
previous version. Only a clean version moves `latest/` and the record, and old versions are pruned.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
from pyspark.sql import DataFrame

from jobs.catalog.model import UPDATE_CYCLES, Department, Resource
from jobs.errors import PersonalDataLeak
from jobs.io import delta, deltars
from jobs.io.objects import LocalStore, ObjectStore
from jobs.io.tables import forget
from jobs.publish import layout, site
from jobs.publish.downloads import OutColumn, json_value, write_downloads
from jobs.publish.field_dictionary import write_field_dictionary
from jobs.publish.records import (
    MEDIA_TYPES,
    ChartSpec,
    DatasetKind,
    Distribution,
    FieldInfo,
    OpenDataset,
    Publisher,
    from_json,
)
from jobs.publish.scanner import Finding, scan_file, scan_frame
from jobs.steps.runtime import Runtime, log

PREVIEW_ROWS = {"detail": 20, "aggregate": 500}


@dataclass(frozen=True)
class OpenTable:
    """One table a resource publishes: its detail table or one of its aggregates."""

    name: str
    code: str
    title: str
    title_en: str
    summary: str
    kind: DatasetKind
    frame: DataFrame
    order_by: tuple[str, ...]
    fields: tuple[FieldInfo, ...]
    #: identifier kinds the PII gate accepts per column (by name)
    allowed: Mapping[str, tuple[str, ...]]
    #: what the content derives from (the silver version), stored in the Delta commit
    lineage: str
    chart: ChartSpec | None = None
    #: fields of the source left out of the table (stated in the field dictionary as suppressed)
    suppressed_fields: tuple[FieldInfo, ...] = ()


@dataclass(frozen=True)
class Released:
    name: str
    status: str  # published | unchanged | withdrawn
    version: int
    rows: int
    dataset: OpenDataset | None = None


def _restore(rt: Runtime, path: str, previous: int | None) -> None:
    if previous is None:
        forget(rt.spark, path)
    else:
        rt.spark.sql(f"RESTORE TABLE delta.`{path}` TO VERSION AS OF {previous}")


def _scan_published(rt: Runtime, table: OpenTable, path: str, store: ObjectStore, keys: Mapping[str, str],
                    scratch: Path, canaries: Sequence[str]) -> list[Finding]:
    """Read back the open table and every file as stored, and look for identifiers."""
    findings = scan_frame(delta.read(rt.spark, path), where=f"table {table.name}", allowed=table.allowed,
                          canaries=canaries)
    titles = {f.name: f.title for f in table.fields}
    by_label = {**table.allowed, **{titles[c]: kinds for c, kinds in table.allowed.items() if c in titles}}
    for fmt, key in keys.items():
        if isinstance(store, LocalStore):
            local = store.path(key)
        else:
            local = scratch / f"readback-{Path(key).name}"
            local.write_bytes(store.read_bytes(key))
        findings += scan_file(local, fmt, allowed=by_label, canaries=canaries)
    return findings


def built_from_note(res: Resource, table: OpenTable) -> str:
    """What an open table version is built from, kept in its commit: the silver version (`table.lineage`) and
    a digest of the table's definition (columns, field techniques, order, the entry's open policy), so a
    catalog change to what is published rebuilds the table although silver did not change."""
    definition = repr((table.frame.schema.simpleString(), table.fields, table.order_by, sorted(table.allowed.items()),
                       res.open))
    digest = hashlib.sha256(definition.encode("utf-8")).hexdigest()[:16]
    return json.dumps({**json.loads(table.lineage), "definition": digest})


def release(rt: Runtime, res: Resource, dept: Department, table: OpenTable, store: ObjectStore, zone: str, *,
            canaries: Sequence[str] = ()) -> Released:
    """Publish `table` as a new version in `store` (zone `zone`), or leave it when nothing changed.

    Raises:
        PersonalDataLeak: the PII gate found identifiers in what was published; the version is withdrawn.
    """
    spark, settings = rt.spark, rt.settings
    path = settings.table_path(zone, table.name)
    built_from = built_from_note(res, table)
    if delta.exists(spark, path) and delta.last_user_metadata(spark, path) == built_from \
            and store.exists(layout.record_key(table.name)):
        log.info("publish %s: %s.%s is already built from silver as it is", res.name, zone, table.name)
        # the record already states the row count: no scan of the table to say that nothing changed
        current = from_json(store.read_bytes(layout.record_key(table.name)).decode("utf-8"))[0]
        return Released(table.name, "unchanged", current.version, current.rows, current)
    previous = delta.version(spark, path) if delta.exists(spark, path) else None
    # Written in download order: the files are then made from the table version itself, read once by delta-rs
    # as Arrow batches in the order Spark's range partitions wrote them, with no second sort and no rows
    # through Python objects.
    delta.overwrite(table.frame.orderBy(*table.order_by), path, user_metadata=built_from)
    version = delta.version(spark, path)
    titles = {f.name: f.title for f in table.fields}
    schema = table.frame.schema
    columns = [OutColumn(f.name, titles.get(f.name, f.name), f.dataType.simpleString()) for f in schema]
    preview: list[dict[str, Any]] = []

    def batches() -> Iterator[pa.RecordBatch]:
        for batch in deltars.ordered_batches(path, settings, version=version, columns=[c.name for c in columns]):
            if len(preview) < PREVIEW_ROWS[table.kind]:
                preview.extend({k: json_value(v) for k, v in row.items()}
                               for row in batch.slice(0, PREVIEW_ROWS[table.kind] - len(preview)).to_pylist())
            yield batch

    with tempfile.TemporaryDirectory(prefix="citylake-publish-") as tmp:
        scratch = Path(tmp)
        written = write_downloads(batches(), columns, scratch / "files", f"{layout.code_stem(table.code)}_"
                                  f"{rt.now:%Y%m%d}", sheet_title=table.title)
        keys = {w.format: layout.version_file(table.name, version, table.code, rt.now, w.format) for w in written}
        for w in written:
            store.put_file(w.path, keys[w.format], content_type=MEDIA_TYPES[w.format], sha256=w.sha256)
        dictionary = write_field_dictionary(table.fields, table.suppressed_fields, scratch / "fields.csv")
        store.put_file(dictionary, layout.fields_file(table.name, version, table.code),
                       content_type="text/csv; charset=utf-8")
        manifest = [{"format": w.format, "file": Path(keys[w.format]).name, "size": w.size, "sha256": w.sha256,
                     "rows": w.rows} for w in written]
        store.put_bytes(json.dumps({"dataset": table.name, "code": table.code, "version": version,
                                    "published_at": rt.now.isoformat(), "files": manifest},
                                   ensure_ascii=False, indent=1).encode("utf-8"),
                        f"{layout.version_prefix(table.name, version)}/manifest.json",
                        content_type="application/json; charset=utf-8")
        findings = _scan_published(rt, table, path, store, keys, scratch, canaries)
    if findings:
        store.delete_prefix(layout.version_prefix(table.name, version) + "/")
        _restore(rt, path, previous)
        raise PersonalDataLeak(
            f"{res.name}: personal identifiers in published {zone}.{table.name} version {version}, which was "
            f"withdrawn (the previous version stays served): " + "; ".join(str(f) for f in findings[:10]))
    rows_published = written[0].rows
    for w in written:
        store.copy(keys[w.format], layout.latest_file(table.name, table.code, w.format))
    store.copy(layout.fields_file(table.name, version, table.code), layout.latest_fields(table.name, table.code))
    dataset = OpenDataset(
        name=table.name, code=table.code, title=table.title, title_en=table.title_en, summary=table.summary,
        publisher=Publisher(key=dept.key, code=dept.code, name=dept.name, name_en=dept.name_en),
        theme=res.theme, open_type=res.open_type, update_cycle=res.update_cycle,
        update_cycle_zh=UPDATE_CYCLES[res.update_cycle], kind=table.kind, source=res.name,
        issued=res.published or rt.now.date().isoformat(), modified=rt.now.isoformat(timespec="seconds"),
        version=version, rows=rows_published, fields=table.fields,
        distributions=tuple(Distribution(
            format=w.format, media_type=MEDIA_TYPES[w.format], file_name=Path(keys[w.format]).name,
            path=keys[w.format], latest_path=layout.latest_file(table.name, table.code, w.format),
            size=w.size, sha256=w.sha256, rows=w.rows) for w in written),
        keywords=tuple(dict.fromkeys(k for k in (res.theme, *(res.classification.path.split(" / ")
                                                             if res.classification else ())) if k)),
        preview=tuple(preview), chart=table.chart,
        withheld_fields=table.suppressed_fields)
    site.write_record(store, dataset)
    _prune(store, table.name, keep=settings.keep_versions)
    log.info("publish %s: %s.%s version %d, %d rows, files in %s", res.name, zone, table.name, version,
             rows_published, store.url(layout.version_prefix(table.name, version)))
    return Released(table.name, "published", version, rows_published, dataset)


def _prune(store: ObjectStore, name: str, *, keep: int) -> None:
    versions = layout.versions_in(store.list(layout.dataset_prefix(name)), name)
    for old in versions[:-keep] if keep > 0 else []:
        store.delete_prefix(layout.version_prefix(name, old) + "/")
