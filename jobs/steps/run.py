"""Run all four steps of a resource in one process (one Spark application)."""

from __future__ import annotations

from datetime import datetime

from jobs.settings import Settings
from jobs.steps.conform import conform
from jobs.steps.ingest import ingest
from jobs.steps.publish import publish
from jobs.steps.validate import validate


def run(resource: str, *, settings: Settings | None = None, now: datetime | None = None) -> dict:
    """ingest -> conform -> validate -> publish; stops at the first step that raises."""
    return {
        "ingest": ingest(resource, settings=settings, now=now),
        "conform": conform(resource, settings=settings, now=now),
        "validate": validate(resource, settings=settings, now=now),
        "publish": publish(resource, settings=settings, now=now),
    }
