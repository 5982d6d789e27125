"""What each pipeline step reads and writes, as OpenLineage dataset identities (namespace, name).

The DAG factory declares these as the tasks' inlets and outlets, so the Airflow OpenLineage provider puts
them in every task's events; ingest adds the landing files it actually read once it knows them. Names
follow OpenLineage's dataset naming: `s3://<bucket>` + key for object stores, `file` + absolute path for
local folders, so the same table has the same identity in every event whoever wrote it.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlparse

from jobs.catalog.model import Resource
from jobs.settings import Settings

STEPS = ("ingest", "conform", "validate", "publish")


@dataclass(frozen=True)
class DatasetId:
    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name.lstrip('/')}" if self.namespace != "file" else f"file://{self.name}"


def dataset_id(location: str) -> DatasetId:
    """`s3a://b/k` and `s3://b/k` -> (`s3://b`, `k`); a local path -> (`file`, `/abs/path`)."""
    parsed = urlparse(location)
    if parsed.scheme in ("s3", "s3a", "s3n"):
        return DatasetId(f"s3://{parsed.netloc}", parsed.path.lstrip("/"))
    if parsed.scheme in ("", "file"):
        return DatasetId("file", parsed.path if parsed.scheme else location)
    return DatasetId(f"{parsed.scheme}://{parsed.netloc}", parsed.path.lstrip("/"))


def landing_file(settings: Settings, relative: str) -> DatasetId:
    """A landing export by its path relative to the landing root (as the manifest records it)."""
    return dataset_id(f"{settings.landing_uri.rstrip('/')}/{relative.lstrip('/')}")


def published_tables(res: Resource) -> list[str]:
    """`zone.table` names publish writes for the resource: its detail table and aggregates, or none."""
    zone = res.zone
    if not zone:
        return []
    names = [res.name] if res.open is None or res.open.detail else []
    names += [a.name for a in (res.open.aggregates if res.open else ())]
    return [f"{zone}.{n}" for n in names]


def step_io(settings: Settings, res: Resource, step: str) -> tuple[list[DatasetId], list[DatasetId]]:
    """Inputs and outputs of one step of one resource (landing files of ingest are added at run time)."""
    def table(zone: str, name: str = res.name) -> DatasetId:
        return dataset_id(settings.table_path(zone, name))

    if step == "ingest":
        return [], [table("bronze")]
    if step == "conform":
        return [table("bronze")], [table("audit"), table("quarantine")]
    if step == "validate":
        return [table("audit")], [table("silver"), table("quarantine")]
    if step == "publish":
        return [table("silver")], [table(*t.split(".", 1)) for t in published_tables(res)]
    raise ValueError(f"unknown step {step!r}; steps are {', '.join(STEPS)}")
