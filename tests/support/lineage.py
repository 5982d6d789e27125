"""Reading the OpenLineage events the file transport wrote (one JSON file per event)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from jobs.catalog.lineage import DatasetId


def events(folder: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(folder.glob("event*.json"))]


def task_events(folder: Path, dag_id: str, event_type: str = "COMPLETE", *,
                until: datetime | None = None) -> dict[str, dict[str, Any]]:
    """The latest event of `event_type` per task of `dag_id`, by task id (`<group>.<task>`); with `until`, the
    latest sent before that instant (the runs of a later backfill left out)."""
    out: dict[str, dict[str, Any]] = {}
    for event in sorted(events(folder), key=lambda e: e["eventTime"]):
        name = event["job"]["name"]
        if until is not None and datetime.fromisoformat(event["eventTime"].replace("Z", "+00:00")) > until:
            continue
        if event["eventType"] == event_type and name.startswith(f"{dag_id}."):
            out[name.removeprefix(f"{dag_id}.")] = event
    return out


def datasets(event: dict[str, Any], side: str) -> set[DatasetId]:
    """`inputs` or `outputs` of an event as dataset identities."""
    return {DatasetId(d["namespace"], d["name"]) for d in event.get(side, [])}
