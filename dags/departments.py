"""One DAG per source system of the big-data center, built from the catalog.

Each resource of a department becomes a task group wait -> ingest -> conform -> validate -> publish;
every task is one call of a step function in `jobs.steps`, imported inside the task so that parsing
this file imports neither Spark nor pandas. The wait is a sensor in reschedule mode: it holds no worker
slot between pokes, and skips the resource's run when no complete export arrives in time. Validation
emits the resource's silver Asset, so open-data jobs can be scheduled on it.
"""

from __future__ import annotations

import logging

from airflow.sdk import DAG, Asset, TaskGroup, get_parsing_context, task

from jobs.catalog import Resource, load_catalog
from jobs.catalog.schedule import SCHEDULES, shortest_cycle
from jobs.orchestration.sensors import export_sensor
from jobs.settings import load_settings

log = logging.getLogger(__name__)

DEFAULT_ARGS = {"owner": "citylake", "retries": 2}


def dag_id_for(department: str) -> str:
    return f"citylake_{department}"


def silver_asset(resource: Resource) -> Asset:
    return Asset(name=f"silver.{resource.name}", uri=f"citylake://silver/{resource.name}")


@task
def ingest(resource: str) -> list[dict]:
    from jobs.steps import ingest as step

    return step(resource)


@task
def conform(resource: str) -> list[dict]:
    from jobs.steps import conform as step

    return step(resource)


@task
def validate(resource: str) -> list[dict]:
    from jobs.steps import validate as step

    return step(resource)


@task
def publish(resource: str) -> dict:
    from jobs.steps import publish as step

    return step(resource)


def build_department_dag(department, resources: tuple[Resource, ...]) -> DAG:  # noqa: ANN001
    cycle = shortest_cycle([r.update_cycle for r in resources])
    with DAG(
        dag_id=dag_id_for(department.key),
        description=f"{department.name} — {department.system}",
        doc_md=(f"### {department.name} ({department.name_en})\n\nSource system: {department.system}. "
                f"Resources: {', '.join(f'{r.title} (`{r.name}`)' for r in resources)}.\n\n"
                "Each resource: ingest landing files to bronze, conform to silver + quarantine, "
                "validate with Great Expectations, publish the open table."),
        schedule=SCHEDULES[cycle],
        catchup=False,
        max_active_runs=1,
        default_args=DEFAULT_ARGS,
        tags=["citylake", department.key],
    ) as dag:
        for res in resources:
            with TaskGroup(group_id=res.name, tooltip=res.title):
                (
                    export_sensor(res)
                    >> ingest.override(task_id="ingest")(res.name)
                    >> conform.override(task_id="conform")(res.name)
                    >> validate.override(task_id="validate", outlets=[silver_asset(res)])(res.name)
                    >> publish.override(task_id="publish")(res.name)
                )
    return dag


def build_all() -> dict[str, DAG]:
    catalog = load_catalog(load_settings().catalog_dirs)
    wanted = get_parsing_context().dag_id
    dags = {}
    for key, dept in sorted(catalog.departments.items()):
        dag_id = dag_id_for(key)
        if wanted is not None and wanted != dag_id:
            continue
        resources = catalog.resources_of(key)
        if not resources:
            log.warning("department %s has no resources in the catalog; no DAG built", key)
            continue
        dags[dag_id] = build_department_dag(dept, resources)
    return dags


globals().update(build_all())
