"""Waiting for exports: the check behind each resource's sensor task (no Spark, just a listing)."""

from __future__ import annotations

from jobs.catalog import load_catalog
from jobs.io.landing import landing_for
from jobs.settings import Settings, load_settings
from jobs.steps.runtime import log


def complete_exports(resource: str, *, settings: Settings | None = None) -> list[str]:
    """Landing keys of the resource's exports that are complete (marked or quiet), in name order."""
    settings = settings or load_settings()
    res = load_catalog(settings.catalog_dirs).resource(resource)
    landing = landing_for(settings)
    ready = [f.relative for f in landing.pending(res)]
    if not ready:
        waiting = landing.incomplete(res)
        log.info("%s: no complete export in %s/%s yet%s", resource, landing.uri, landing.folder(res),
                 f"; {len(waiting)} file(s) without a completion marker: "
                 + ", ".join(f.name for f in waiting[:5]) if waiting else "")
    return ready
