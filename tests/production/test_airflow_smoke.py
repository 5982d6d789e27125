"""Production smoke test: Airflow on PostgreSQL with a real scheduler (LocalExecutor), DAG processor and
API server. A department's DAG is triggered through the REST API and polled to success; its publish DAG
then runs because the validate tasks emitted the silver Assets (data-aware scheduling, not a trigger)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from jobs.catalog.pools import pools_document
from jobs.sample.generator import write_export
from tests.support.airflow_cluster import AirflowCluster

pytestmark = [pytest.mark.production, pytest.mark.airflow]

DEPARTMENT = "network_governance"


def test_rest_triggered_run_and_asset_scheduled_publish(postgres_server, catalog, settings_for, tmp_path):
    settings = replace(settings_for(tmp_path / "home"), pseudonym_key="smoke-test-key")
    for res in catalog.resources_of(DEPARTMENT):
        write_export(res, settings.landing, day=date(2026, 11, 26), rows=60, defect_rate=0)
    cluster = AirflowCluster(settings, postgres_server).start()
    try:
        pools = settings.airflow_home / "pools.json"
        pools.write_text(json.dumps(pools_document(catalog), ensure_ascii=False), encoding="utf-8")
        cluster.airflow("pools", "import", str(pools))
        dag_id, publish_id = f"citylake_{DEPARTMENT}", f"citylake_{DEPARTMENT}_publish"
        for d in (dag_id, publish_id):
            cluster.wait_for_dag(d)
        # Trigger for the interval the scheduler would run on unpausing, so the REST run is the only run.
        today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        run = cluster.api("POST", f"/dags/{dag_id}/dagRuns", json={"logical_date": today.isoformat()})
        cluster.api("PATCH", f"/dags/{publish_id}", json={"is_paused": False})
        cluster.api("PATCH", f"/dags/{dag_id}", json={"is_paused": False})
        done = cluster.wait_for_run(dag_id, run["dag_run_id"])
        assert done["run_type"] == "manual"
        published = cluster.wait_for_run(publish_id)
        assert published["run_type"] == "asset_triggered", published
        events = cluster.api("GET", "/assets/events", params={"source_dag_id": dag_id})["asset_events"]
        assert {e.get("name") or e.get("uri") for e in events} >= {"silver.citizen_appeals"}, events
    finally:
        cluster.stop()
    assert (settings.lake / "open" / "citizen_appeals" / "_delta_log").is_dir()
    assert "citizen_appeals" in (settings.open_files / "catalog.json").read_text(encoding="utf-8")
    assert not (settings.lake / "open" / "leader_instructions" / "_delta_log").exists()  # 不予开放
