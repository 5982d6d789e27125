"""Maintain: compact, vacuum and checkpoint the lake's tables, one resource (or the ops zone) at a time.

The unit is a resource because its writers are: the maintenance DAG runs each resource's task in that
resource's Airflow pool, so it never rewrites a table one of the resource's steps is writing. The ops
tables, appended by every task, are maintained apart (`OPS`); their appenders and a compaction resolve a
lost commit race by retrying. All of it runs through delta-rs (`jobs.io.maintenance`), no Spark session.
"""

from __future__ import annotations

from datetime import datetime

from jobs.catalog.lineage import published_tables
from jobs.catalog.model import Resource
from jobs.io.lake_tables import LakeTable, find_table, lake_tables, lister_for
from jobs.io.maintenance import check_retention, maintain_table
from jobs.settings import Settings
from jobs.steps.runtime import runtime

#: the target naming the ops tables, which belong to no resource
OPS = "ops"
#: the zones a resource's own tables live in (published ones are added from the catalog)
RESOURCE_ZONES = ("bronze", "audit", "silver", "quarantine")


def resource_tables(res: Resource, settings: Settings) -> list[tuple[LakeTable, tuple[str, ...]]]:
    """The resource's tables the lake holds, each with the columns to Z-order it by (silver: `cluster_by`)."""
    lister = lister_for(settings)
    wanted = [(zone, res.name) for zone in RESOURCE_ZONES] + [
        tuple(t.split(".", 1)) for t in published_tables(res)]
    found = []
    for zone, name in wanted:
        table = find_table(settings, zone, name, lister=lister)
        if table is not None:
            found.append((table, res.cluster_by if zone == "silver" else ()))
    return found


def maintain(target: str, *, settings: Settings | None = None, now: datetime | None = None) -> list[dict]:
    """Maintain the tables of `target`: a catalog resource (all its zones), `ops`, or one `zone.table`.

    Raises:
        ConfigurationError: a VACUUM retention below the promised time-travel window; nothing is changed.
        CatalogError: an unknown resource. QueryError: an unknown `zone.table`. (A resource or an ops zone
            with no table yet is no error: there is nothing to maintain.)
    """
    rt = runtime(settings, now)
    settings = rt.settings
    check_retention(settings)  # before any table is touched
    tables: list[tuple[LakeTable, tuple[str, ...]]]
    if target == OPS:
        tables = [(t, ()) for t in lake_tables(settings, [OPS])]
    elif "." in target:
        from jobs.io.query import lake_table

        table = lake_table(settings, target)
        res = rt.catalog.resources.get(table.name)
        tables = [(table, res.cluster_by if res is not None and table.zone == "silver" else ())]
    else:
        tables = resource_tables(rt.resource(target), settings)
    return [maintain_table(t, settings, z_order=z).as_json() for t, z in tables]
