"""Airflow pools citylake needs: one per resource, one slot, so two runs never write its tables at once.

Delta on object storage has no cross-writer lock for a table; Airflow's pool is that lock. Every task of
a resource that writes its tables (ingest, conform, validate, publish) runs in the resource's pool.
Pure: the DAG factory names pools, the demo and deployments create them (`airflow pools import`).
"""

from __future__ import annotations

from jobs.catalog.model import Catalog, Resource


def pool_name(resource: Resource) -> str:
    return f"citylake_{resource.name}"


def pools_document(catalog: Catalog) -> dict[str, dict[str, object]]:
    """The pools of every resource, in the format `airflow pools import` reads."""
    return {
        pool_name(res): {"slots": 1, "description": f"writers of the {res.title} ({res.name}) tables",
                         "include_deferred": False}
        for _, res in sorted(catalog.resources.items())
    }
