"""`citylake_maintenance`: compaction, VACUUM and checkpoints of every lake table, on its own schedule.

One task per catalog resource, in that resource's pool (`jobs.catalog.pools`), so it waits for the
resource's ingest / conform / validate / publish tasks and they wait for it: maintenance never rewrites
a table a writer is writing. One more task maintains the ops tables, which every task appends to (a lost
commit race is retried on both sides). Each task is one call of `jobs.steps.maintain`, which runs on
delta-rs in the task's own process: no Spark session, no step server.
"""

from __future__ import annotations

import logging

from airflow.sdk import DAG, get_parsing_context, task

from jobs.catalog.loader import load_catalog_leniently
from jobs.catalog.pools import pool_name
from jobs.catalog.schedule import MAINTENANCE_SCHEDULE
from jobs.settings import load_settings

log = logging.getLogger(__name__)

DAG_ID = "citylake_maintenance"
OPS_TASK = "maintain_ops"


@task
def maintain(target: str) -> list[dict]:
    from airflow.sdk.exceptions import AirflowFailException

    from jobs.errors import CatalogError, ConfigurationError
    from jobs.steps.maintain import maintain as maintain_target

    try:
        return maintain_target(target)
    except (ConfigurationError, CatalogError) as exc:  # a setting or an entry to fix, not a retry
        raise AirflowFailException(f"{type(exc).__name__}: {exc}") from exc


def build_maintenance_dag() -> DAG:
    catalog = load_catalog_leniently(load_settings().catalog_dirs).catalog
    with DAG(
        dag_id=DAG_ID,
        description="compaction, VACUUM and checkpoints of the lake's tables",
        doc_md=("### Lake maintenance\n\nPer resource, in its pool: compact small files (Z-ordered by the "
                "entry's `cluster_by` on silver), VACUUM files replaced more than `CITYLAKE_VACUUM_RETAIN_HOURS` "
                "ago (never below the `CITYLAKE_TIME_TRAVEL_DAYS` window), checkpoint the log. Then the ops "
                "tables."),
        schedule=MAINTENANCE_SCHEDULE,
        catchup=False,
        max_active_runs=1,
        default_args={"owner": "citylake", "retries": 1},
        tags=["citylake", "maintenance"],
    ) as dag:
        for name, res in sorted(catalog.resources.items()):
            maintain.override(task_id=f"maintain_{name}", pool=pool_name(res))(name)
        maintain.override(task_id=OPS_TASK)("ops")
    return dag


if get_parsing_context().dag_id in (None, DAG_ID):
    globals()[DAG_ID] = build_maintenance_dag()
