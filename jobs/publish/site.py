"""A zone's catalog, DCAT-AP document and portal, rebuilt from the datasets' own records.

Each publish writes only its datasets' `record.json`; the zone-wide files are then derived from all
records found, so two resources publishing at the same time cannot erase each other's entries (the
later rebuild sees both records), and a withdrawn or retracted dataset disappears everywhere at once.
"""

from __future__ import annotations

from datetime import datetime

from jobs.io.objects import ObjectStore
from jobs.publish import layout
from jobs.publish.records import OpenDataset, from_json, to_json


def load_records(store: ObjectStore) -> list[OpenDataset]:
    """Every dataset record of the zone, sorted by code."""
    keys = [k for k in store.list("datasets") if k.endswith("/record.json")]
    records = [from_json(store.read_bytes(k).decode("utf-8"))[0] for k in keys]
    return sorted(records, key=lambda d: d.code)


def write_record(store: ObjectStore, dataset: OpenDataset) -> None:
    store.put_bytes(to_json([dataset]).encode("utf-8"), layout.record_key(dataset.name),
                    content_type="application/json; charset=utf-8")


def rebuild(store: ObjectStore, *, base_url: str, now: datetime) -> list[OpenDataset]:
    """Write catalog.json, catalog.jsonld and the portal of the zone from its records."""
    from jobs.publish.dcat import build_catalog, dumps
    from jobs.publish.portal import build_portal

    records = load_records(store)
    store.put_bytes(to_json(records).encode("utf-8"), layout.CATALOG_JSON,
                    content_type="application/json; charset=utf-8")
    store.put_bytes(dumps(build_catalog(records, base_url=base_url)).encode("utf-8"),
                    layout.CATALOG_JSONLD, content_type="application/ld+json; charset=utf-8")
    build_portal(records, store, generated_at=now.strftime("%Y-%m-%d %H:%M:%S"))
    return records
