"""Two DAGs per source system of the big-data center, built from the catalog.

`citylake_<department>`: each resource is a task group wait -> ingest -> conform -> validate; the wait is a
sensor in reschedule mode (it holds no worker slot between pokes, and skips the resource's run when no
complete export arrives in time), and validation emits the resource's silver Asset when it updates silver.

`citylake_<department>_publish`: scheduled on those Assets (any of them), one publish task per resource,
so open data follows silver by data-aware scheduling, never by a clock of its own.

Every task is one call of a step function in `jobs.steps`, run by the worker's step server (one Spark
driver per worker, started on demand: `jobs.service`), so neither parsing this file nor a task's own
process imports Spark or pandas.

Lineage: each task declares the lake tables it reads and writes (`jobs.catalog.lineage`) as OpenLineage
datasets in its inlets and outlets, and ingest adds the landing files it read, so the OpenLineage provider's
events trace every row's way from a landing file to the open table. Airflow Assets stay the scheduling
signal; OpenLineage datasets in outlets are not Assets and schedule nothing.
"""

from __future__ import annotations

import logging
from typing import Any

from airflow.sdk import (
    DAG,
    Asset,
    AssetAny,
    BaseSensorOperator,
    PokeReturnValue,
    TaskGroup,
    get_parsing_context,
    task,
)
from openlineage.client.event_v2 import Dataset

from jobs.catalog import Resource
from jobs.catalog.lineage import DatasetId, landing_file, step_io
from jobs.catalog.loader import load_catalog_leniently
from jobs.catalog.pools import pool_name
from jobs.catalog.schedule import SCHEDULES, WaitPolicy, dag_cycle, wait_policy, waits_for_exports
from jobs.settings import load_settings

log = logging.getLogger(__name__)

DEFAULT_ARGS = {"owner": "citylake", "retries": 2}


def dag_id_for(department: str) -> str:
    return f"citylake_{department}"


def publish_dag_id_for(department: str) -> str:
    return f"citylake_{department}_publish"


def silver_asset(resource: Resource) -> Asset:
    return Asset(name=f"silver.{resource.name}", uri=f"citylake://silver/{resource.name}")


class ExportSensor(BaseSensorOperator):
    """Done when the resource has an export marked complete in landing; returns the landing keys.

    Glue only: the check is `jobs.io.landing.complete_exports` (one landing listing, no Spark import).
    The sensor holds the catalog entry the factory parsed, so a poke reads no catalog file.
    """

    def __init__(self, *, resource: Resource, policy: WaitPolicy, **kwargs: Any):
        super().__init__(**kwargs)
        self.resource = resource
        self.policy = policy

    def poke(self, context: Any) -> PokeReturnValue:
        from datetime import UTC, datetime

        from airflow.sdk.exceptions import AirflowSkipException

        from jobs.io.landing import complete_exports

        ready = complete_exports(self.resource)
        run_type = str(getattr(context.get("dag_run"), "run_type", ""))
        if not ready and not waits_for_exports(run_type, context.get("data_interval_end"), datetime.now(UTC),
                                               self.policy):
            raise AirflowSkipException(f"{self.resource.name}: no complete export in landing for this "
                                       f"{run_type} run of a past interval; nothing to wait for")
        return PokeReturnValue(is_done=bool(ready), xcom_value=ready)


def export_sensor(resource: Resource, cycle: str) -> ExportSensor:
    """Reschedule mode frees the worker slot between pokes; the wait ends (and the resource's run is
    skipped) before the DAG's next run is due, so a missing export never blocks the next run."""
    policy = wait_policy(cycle)
    return ExportSensor(task_id="wait_for_exports", resource=resource, policy=policy, mode="reschedule",
                        poke_interval=policy.poke_seconds, timeout=policy.timeout_seconds, soft_fail=True)


PSEUDONYM_CONNECTION = "citylake_pseudonym"


def _settings_with_secrets():  # noqa: ANN202
    """Settings from the environment, with the credentials of the Airflow connections that are defined: the
    pseudonymisation key (`citylake_pseudonym`'s password), S3 (`aws_default` or `CITYLAKE_S3_CONNECTION`)
    and the metastore (`citylake_metastore`). They travel to the step server on its socket only, never in
    argv, a log line or XCom."""
    from dataclasses import replace

    from jobs.settings import with_connections

    settings = load_settings()
    pseudonym = _connection(PSEUDONYM_CONNECTION)
    if pseudonym and pseudonym.get("password"):
        settings = replace(settings, pseudonym_key=pseudonym["password"])
    return with_connections(settings, s3=_connection(settings.s3_connection),
                            metastore=_connection(settings.metastore_connection))


def _connection(conn_id: str) -> dict | None:
    """An Airflow connection's fields, or None when it is not defined."""
    from airflow.sdk import Connection
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        c = Connection.get(conn_id)
    except AirflowNotFoundException:
        return None
    return {"login": c.login, "password": c.password, "host": c.host, "port": c.port, "schema": c.schema,
            "extra": c.extra_dejson}


def _step(name: str, resource: str):  # noqa: ANN202
    """Run one step on the worker's step server (`jobs.service.client`: one Spark driver per worker, not per
    task); bad data fails the task at once (retries are for infrastructure, not for data)."""
    from airflow.sdk.exceptions import AirflowFailException

    from jobs.errors import BadData, CatalogError
    from jobs.service.client import run_step

    try:
        return run_step(name, resource, _settings_with_secrets())
    except (BadData, CatalogError) as exc:  # a broken catalog entry is fixed by editing it, not by a retry
        raise AirflowFailException(f"{type(exc).__name__}: {exc}") from exc


def _dataset(d: DatasetId) -> Dataset:
    return Dataset(namespace=d.namespace, name=d.name)


@task
def ingest(resource: str) -> list[dict]:
    outcomes = _step("ingest", resource)
    # the landing files are known only now; the provider reads the inlets when the task completes
    _lineage_of_this_run("ingest", resource, landing=[o["file"] for o in outcomes if o["status"] == "ingested"])
    return outcomes


@task
def conform(resource: str) -> list[dict]:
    done = _step("conform", resource)
    _lineage_of_this_run("conform", resource)
    return done


@task
def validate(resource: str) -> list[dict]:
    done = _step("validate", resource)
    _lineage_of_this_run("validate", resource)
    return done


@task
def publish(resource: str) -> dict:
    from airflow.sdk import get_current_context
    from airflow.sdk.exceptions import AirflowSkipException

    # An asset-triggered run publishes the resources whose silver changed; the others may be halfway
    # through their own pipeline run (conformed, not yet validated) and are published by the run their
    # own silver Asset triggers. A manual run publishes every resource.
    changed = {asset.name for asset in get_current_context().get("triggering_asset_events") or ()}
    if changed and f"silver.{resource}" not in changed:
        raise AirflowSkipException(f"silver.{resource} did not change in this run "
                                   f"(changed: {', '.join(sorted(changed))})")
    done = _step("publish", resource)
    _lineage_of_this_run("publish", resource)
    return done


def _lineage_of_this_run(step: str, resource: str, landing: list[str] | None = None) -> None:
    """Point the task's OpenLineage datasets at what this run read and wrote.

    The datasets declared when the DAG was parsed name the tables under the parser's settings; the task's
    own settings are the truth (a DAG processor elsewhere may not share them). The provider reads inlets
    and outlets when the task completes; the Assets among the outlets are left as they are.
    """
    from airflow.sdk import get_current_context

    settings = load_settings()
    catalog = load_catalog_leniently(settings.catalog_dirs).catalog  # another entry's error is not ours
    inputs, outputs = step_io(settings, catalog.resource(resource), step)
    inputs = [*(landing_file(settings, f) for f in landing or ()), *inputs]
    task = get_current_context()["task"]
    task.inlets[:] = [_dataset(d) for d in inputs]
    task.outlets[:] = [*(o for o in task.outlets if isinstance(o, Asset)), *(_dataset(d) for d in outputs)]


def build_department_dag(department, resources: tuple[Resource, ...]) -> DAG:  # noqa: ANN001
    cycle = dag_cycle([r.update_cycle for r in resources])
    with DAG(
        dag_id=dag_id_for(department.key),
        description=f"{department.name} — {department.system}",
        doc_md=(f"### {department.name} ({department.name_en})\n\nSource system: {department.system}. "
                f"Resources: {', '.join(f'{r.title} (`{r.name}`)' for r in resources)}.\n\n"
                "Each resource: ingest landing files to bronze, conform to silver + quarantine, "
                "validate with Great Expectations (emits the silver Asset that schedules "
                f"`{publish_dag_id_for(department.key)}`)."),
        schedule=SCHEDULES[cycle],
        catchup=False,
        max_active_runs=1,
        default_args=DEFAULT_ARGS,
        tags=["citylake", department.key, *sorted({r.open_type for r in resources})],
    ) as dag:
        settings = load_settings()
        for res in resources:
            pool = pool_name(res)
            io = {step: lineage(settings, res, step) for step in ("ingest", "conform", "validate")}
            with TaskGroup(group_id=res.name, tooltip=f"{res.title} ({res.code})"):
                (
                    export_sensor(res, cycle)
                    >> ingest.override(task_id="ingest", pool=pool, **io["ingest"])(res.name)
                    >> conform.override(task_id="conform", pool=pool, **io["conform"])(res.name)
                    >> validate.override(task_id="validate", pool=pool, inlets=io["validate"]["inlets"],
                                         outlets=[silver_asset(res), *io["validate"]["outlets"]])(res.name)
                )
    return dag


def lineage(settings, res: Resource, step: str) -> dict[str, list]:  # noqa: ANN001
    """`inlets` / `outlets` of a step's task: OpenLineage datasets of the tables it reads and writes."""
    inputs, outputs = step_io(settings, res, step)
    return {"inlets": [_dataset(d) for d in inputs], "outlets": [_dataset(d) for d in outputs]}


def build_publish_dag(department, resources: tuple[Resource, ...]) -> DAG:  # noqa: ANN001
    assets = [silver_asset(r) for r in resources]
    with DAG(
        dag_id=publish_dag_id_for(department.key),
        description=f"{department.name} — open data",
        doc_md=(f"### {department.name}: open data\n\nRuns when any of its silver tables is updated "
                f"({', '.join(f'`silver.{r.name}`' for r in resources)}): publishes each resource by its open "
                "type (public zone, restricted zone, or nothing), behind the PII gate."),
        schedule=AssetAny(*assets) if len(assets) > 1 else assets,
        catchup=False,
        max_active_runs=1,
        default_args=DEFAULT_ARGS,
        tags=["citylake", department.key, "open-data", *sorted({r.open_type for r in resources})],
    ) as dag:
        settings = load_settings()
        for res in resources:
            publish.override(task_id=f"publish_{res.name}", pool=pool_name(res),
                             **lineage(settings, res, "publish"))(res.name)
    return dag


def build_all() -> dict[str, DAG]:
    """Every department's DAG; a broken catalog file leaves out only its own resource (it is reported by
    `dags/catalog_check.py` as that file's import error, so the rest of the city keeps running)."""
    load = load_catalog_leniently(load_settings().catalog_dirs)
    for error in load.errors:
        log.warning("catalog entry left out: %s", error)
    catalog = load.catalog
    wanted = get_parsing_context().dag_id
    dags = {}
    for key, dept in sorted(catalog.departments.items()):
        builders = {dag_id_for(key): build_department_dag, publish_dag_id_for(key): build_publish_dag}
        if wanted is not None and wanted not in builders:
            continue
        resources = catalog.resources_of(key)
        if not resources:
            log.warning("department %s has no resources in the catalog; no DAG built", key)
            continue
        for dag_id, build in builders.items():
            if wanted is None or wanted == dag_id:
                dags[dag_id] = build(dept, resources)
    return dags


globals().update(build_all())
