"""The department DAGs as Airflow sees them: DagBag import, structure, and one real `dag.test()` run."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from airflow.sdk import Asset

from jobs.catalog.schedule import SCHEDULES, dag_cycle
from jobs.settings import DAGS_DIR

pytestmark = pytest.mark.airflow


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS_DIR))


def test_no_import_errors(dagbag):
    assert dagbag.import_errors == {}
    # the demo's runner lives beside the DAG files but is no DAG file: .airflowignore keeps it unparsed
    assert {Path(s.file).name for s in dagbag.dagbag_stats} == {"departments.py", "catalog_check.py",
                                                                "maintenance.py"}


def test_a_pipeline_and_a_publish_dag_per_department_with_resources(dagbag, catalog):
    with_resources = [k for k in catalog.departments if catalog.resources_of(k)]
    expected = {f"citylake_{k}" for k in with_resources} | {f"citylake_{k}_publish" for k in with_resources}
    assert set(dagbag.dag_ids) == expected | {"citylake_maintenance"}


def test_maintenance_takes_each_resource_s_pool(dagbag, catalog):
    """One task per resource in the pool its writers take (never racing them), one for the ops tables."""
    from jobs.catalog.pools import pool_name
    from jobs.catalog.schedule import MAINTENANCE_SCHEDULE

    dag = dagbag.dags["citylake_maintenance"]
    pools = {t.task_id: t.pool for t in dag.tasks}
    assert pools.pop("maintain_ops") == "default_pool"
    assert pools == {f"maintain_{name}": pool_name(res) for name, res in catalog.resources.items()}
    writers = dagbag.dags["citylake_market_regulation"].get_task("market_entities.validate")
    assert writers.pool == pools["maintain_market_entities"]
    assert dag.schedule == MAINTENANCE_SCHEDULE and dag.catchup is False and dag.max_active_runs == 1


def test_task_chain_per_resource(dagbag, catalog):
    for key in catalog.departments:
        dag = dagbag.dags[f"citylake_{key}"]
        for res in catalog.resources_of(key):
            chain = [f"{res.name}.{step}" for step in ("ingest", "conform", "validate")]
            for upstream, downstream in zip(chain, chain[1:], strict=False):
                assert dag.get_task(upstream).downstream_task_ids == {downstream}
            validate = dag.get_task(f"{res.name}.validate")
            assert validate.downstream_task_ids == set()  # publishing waits on the Asset, not on the task
            assert [a.name for a in validate.outlets if isinstance(a, Asset)] == [f"silver.{res.name}"]
            # next to the Asset, the OpenLineage datasets of the tables validate writes
            lineage = {a.name.rsplit("/", 2)[-2] for a in validate.outlets if not isinstance(a, Asset)}
            assert lineage == {"silver", "quarantine"}
        assert dag.schedule == SCHEDULES[dag_cycle([r.update_cycle for r in catalog.resources_of(key)])]
        assert dag.catchup is False and dag.max_active_runs == 1
        publishing = dagbag.dags[f"citylake_{key}_publish"]
        assert set(publishing.task_ids) == {f"publish_{r.name}" for r in catalog.resources_of(key)}
        assert publishing.catchup is False and publishing.max_active_runs == 1


def _seconds(value) -> float:
    return value.total_seconds() if hasattr(value, "total_seconds") else float(value)


def test_export_sensor_waits_in_reschedule_mode(dagbag, appeals, tmp_path, monkeypatch):
    from jobs.sample.generator import write_export

    sensor = dagbag.dags["citylake_network_governance"].get_task("citizen_appeals.wait_for_exports")
    assert sensor.downstream_task_ids == {"citizen_appeals.ingest"}
    assert sensor.mode == "reschedule" and sensor.soft_fail is True
    assert (_seconds(sensor.poke_interval), _seconds(sensor.timeout)) == (300, 12 * 3600)

    monkeypatch.setenv("CITYLAKE_HOME", str(tmp_path / "home"))
    assert sensor.poke({}).is_done is False
    # a backfill's run, or one of a long-past day, does not wait for an export that is not there: it skips
    from airflow.sdk.exceptions import AirflowSkipException
    from airflow.utils.types import DagRunType

    backfill = SimpleNamespace(run_type=DagRunType.BACKFILL_JOB)
    with pytest.raises(AirflowSkipException, match="citizen_appeals: no complete export .* backfill run"):
        sensor.poke({"dag_run": backfill, "data_interval_end": datetime.now(UTC)})
    late = SimpleNamespace(run_type=DagRunType.SCHEDULED)
    with pytest.raises(AirflowSkipException):
        sensor.poke({"dag_run": late, "data_interval_end": datetime.now(UTC) - timedelta(days=2)})
    assert sensor.poke({"dag_run": late, "data_interval_end": datetime.now(UTC)}).is_done is False
    export = write_export(appeals, tmp_path / "home" / "landing", day=date(2026, 11, 26), rows=5, mark_ready=False)
    assert sensor.poke({}).is_done is False  # still being written, as far as anyone knows
    export.path.with_name(export.path.name + ".ok").touch()
    done = sensor.poke({})
    assert done.is_done is True
    assert done.xcom_value == [f"network_governance/citizen_appeals/{export.path.name}"]


def test_tasks_take_credentials_from_airflow_connections(dagbag, tmp_path, monkeypatch):
    """A task's settings: the environment's, with what the Airflow connections hold laid over them."""
    import json

    task = dagbag.dags["citylake_network_governance"].get_task("citizen_appeals.ingest")
    settings_with_secrets = task.python_callable.__globals__["_settings_with_secrets"]
    monkeypatch.setenv("CITYLAKE_HOME", str(tmp_path))
    monkeypatch.setenv("CITYLAKE_S3_ACCESS_KEY", "AK-from-env")
    plain = settings_with_secrets()
    assert plain.s3_access_key == "AK-from-env" and plain.metastore_url is None and plain.pseudonym_key is None
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", json.dumps({
        "conn_type": "aws", "login": "AK-from-connection", "password": "secret-from-connection",
        "extra": {"endpoint_url": "http://127.0.0.1:9000", "region_name": "cn-southwest-1"}}))
    monkeypatch.setenv("AIRFLOW_CONN_CITYLAKE_METASTORE", "postgres://hive:metastore-pw@db.internal:5433/metastore")
    monkeypatch.setenv("AIRFLOW_CONN_CITYLAKE_PSEUDONYM", json.dumps({"conn_type": "generic",
                                                                       "password": "pseudonym-key-from-connection"}))
    s = settings_with_secrets()
    assert (s.s3_access_key, s.s3_secret_key, s.s3_endpoint, s.s3_region) == (
        "AK-from-connection", "secret-from-connection", "http://127.0.0.1:9000", "cn-southwest-1")
    assert (s.metastore_url, s.metastore_user, s.metastore_password) == (
        "jdbc:postgresql://db.internal:5433/metastore", "hive", "metastore-pw")
    assert s.pseudonym_key == "pseudonym-key-from-connection"


def test_parse_time_of_whole_catalog_within_budget():
    started = time.perf_counter()
    subprocess.run([sys.executable, str(DAGS_DIR / "departments.py")], check=True, capture_output=True)
    elapsed = time.perf_counter() - started
    assert elapsed < 30, f"parsing the DAG file took {elapsed:.1f}s"


@pytest.fixture(scope="module")
def airflow_db():
    """Migrate the test session's SQLite metadata database (AIRFLOW_HOME set in conftest)."""
    exe = Path(sys.executable).with_name("airflow")
    subprocess.run([str(exe), "db", "migrate"], check=True, capture_output=True)


#: enough appeals that some (district, category) groups reach k=5 and rows reach the open detail table
APPEALS = 1000


def test_dag_test_runs_end_to_end(dagbag, airflow_db, spark, tmp_path, monkeypatch, appeals, catalog, settings_for,
                                  lineage_dir, request, capsys):
    """Both DAGs of a department through `airflow dags test`, as `citylake demo` runs them: one Airflow
    process for every DAG, a line per DAG with its time, the first failing DAG named."""
    from jobs.demo import DAGS_TEST_MARK, DemoFailed, run_dags_test
    from jobs.io import delta, ops
    from jobs.sample.generator import write_export
    from jobs.service.client import stop_servers

    # a broken entry of the same department next to the real ones costs only itself, not this DAG's tasks
    broken = tmp_path / "extra-catalog" / "network_governance"
    broken.mkdir(parents=True)
    (broken / "broken_entry.yaml").write_text("name: broken_entry\nitems: [unclosed\n", encoding="utf-8")
    base = settings_for(tmp_path / "home")
    settings = replace(base, catalog_dirs=(*base.catalog_dirs, broken.parent))
    monkeypatch.setenv("CITYLAKE_HOME", str(settings.home))
    monkeypatch.setenv("CITYLAKE_CATALOG", str(broken.parent))
    request.addfinalizer(lambda: stop_servers(settings.home))  # the tasks' step server (started on demand)
    export = write_export(appeals, settings.landing, day=date(2026, 11, 26), rows=APPEALS)
    others = [r for r in catalog.resources_of("network_governance") if r.name != appeals.name]
    for res in others:  # every sensor of the DAG must find its export, or dag.test waits for it
        write_export(res, settings.landing, day=date(2026, 11, 26), rows=40, defect_rate=0)
    # the publish DAG is scheduled on the silver Assets the validate tasks emit (the production smoke test
    # proves the scheduler starts it); `dags test` runs it right after, as the demo does
    publishing = dagbag.dags["citylake_network_governance_publish"]
    assert {a.name for a in publishing.timetable.asset_condition.objects} == {
        f"silver.{r.name}" for r in catalog.resources_of("network_governance")}
    settings.airflow_home.mkdir(parents=True)  # the session's migrated metadata database, copied
    shutil.copyfile(Path(os.environ["AIRFLOW_HOME"]) / "airflow.db", settings.airflow_home / "airflow.db")
    log = tmp_path / "airflow.log"
    dag_ids = ["citylake_network_governance", "citylake_network_governance_publish", "citylake_maintenance",
               "no_such_dag"]
    with pytest.raises(DemoFailed, match="dags test no_such_dag"):
        run_dags_test(settings, [*dag_ids, "citylake_civil_affairs"], date(2026, 11, 26), log)
    printed = capsys.readouterr().out.splitlines()
    assert [line.split(" ...")[0] for line in printed] == [f"airflow: dags test {d} 2026-11-26" for d in dag_ids]
    assert all(line.endswith(" s") for line in printed)
    assert ["failed after" in line for line in printed] == [False, False, False, True]
    finished = log.read_text(encoding="utf-8")
    for dag_id in dag_ids[:3]:
        assert re.search(rf"Marking run <DagRun {dag_id} @ [^\n]*> successful", finished), dag_id
    assert f"{DAGS_TEST_MARK} start citylake_civil_affairs" not in finished  # nothing runs after a failure
    # the maintenance DAG checkpointed the tables it maintained; Spark reads them (and the ledger) on
    for zone in ("bronze", "silver", "ops"):
        name = "ledger" if zone == "ops" else "citizen_appeals"
        assert list(Path(settings.table_path(zone, name), "_delta_log").glob("*.checkpoint.parquet")), zone
    entries = ops.read(spark, settings, "ledger", "citizen_appeals").collect()
    ledger = {r.step: r for r in entries if r.step != "publish"}
    published = {r.detail.split()[0]: r for r in entries if r.step == "publish"}
    assert set(ledger) == {"ingest", "conform", "validate"}
    assert set(published) == {"open.citizen_appeals", "open.citizen_appeals_monthly"}
    assert ledger["conform"].rows_read == APPEALS
    assert ledger["conform"].rows_quarantined == len(export.defects)
    detail = delta.read(spark, settings.table_path("open", "citizen_appeals")).count()
    assert 0 < published["open.citizen_appeals"].rows_published == detail <= APPEALS - len(export.defects)
    monthly = delta.read(spark, settings.table_path("open", "citizen_appeals_monthly"))
    assert monthly.agg({"appeals": "sum"}).first()[0] == APPEALS - len(export.defects)
    # leader instructions are 不予开放: validated into silver, never published anywhere
    assert not delta.exists(spark, settings.table_path("open", "leader_instructions"))
    for res in others:
        steps = {r.step: r for r in ops.read(spark, settings, "ledger", res.name).collect()}
        assert steps["conform"].rows_read == 40 == steps["conform"].rows_accepted
        assert delta.read(spark, settings.table_path("silver", res.name)).count() == 40
    follow_one_row_through_lineage(spark, settings, dagbag, lineage_dir)


def follow_one_row_through_lineage(spark, settings, dagbag, lineage_dir) -> None:
    """One published appeal, traced back through the OpenLineage events of the tasks that moved it:
    landing file -> ingest -> bronze -> conform -> audit -> validate -> silver -> publish -> open."""
    from jobs.catalog.lineage import dataset_id, landing_file
    from jobs.io import delta
    from tests.support.lineage import datasets, task_events

    table = {z: settings.table_path(z, "citizen_appeals") for z in ("bronze", "audit", "silver", "open")}
    appeal = delta.read(spark, table["open"]).orderBy("appeal_id").first().appeal_id
    source = delta.read(spark, table["bronze"]).where(f"appeal_id = '{appeal}'").select("_source_file").first()[0]
    assert delta.read(spark, table["silver"]).where(f"appeal_id = '{appeal}'").count() == 1
    pipeline = task_events(lineage_dir, "citylake_network_governance")
    publishing = task_events(lineage_dir, "citylake_network_governance_publish")
    for dag_id, done in (("citylake_network_governance", pipeline),
                         ("citylake_network_governance_publish", publishing)):
        assert set(done) == set(dagbag.dags[dag_id].task_ids), f"a task of {dag_id} sent no COMPLETE event"
    hops = [("citizen_appeals.ingest", landing_file(settings, source), table["bronze"]),
            ("citizen_appeals.conform", dataset_id(table["bronze"]), table["audit"]),
            ("citizen_appeals.validate", dataset_id(table["audit"]), table["silver"])]
    for task_id, read, written in hops:
        assert read in datasets(pipeline[task_id], "inputs"), (task_id, read, pipeline[task_id].get("inputs"))
        assert dataset_id(written) in datasets(pipeline[task_id], "outputs"), (task_id, written)
    published = publishing["publish_citizen_appeals"]
    assert dataset_id(table["silver"]) in datasets(published, "inputs")
    assert dataset_id(table["open"]) in datasets(published, "outputs")


SNAPSHOT = Path(__file__).with_name("topology.json")


def topology(dagbag) -> dict:
    """DAG ids, schedules, tasks with their downstream tasks, and the assets they emit."""
    out = {}
    for dag_id in sorted(dagbag.dag_ids):
        dag = dagbag.dags[dag_id]
        out[dag_id] = {
            "schedule": str(dag.schedule),
            "tags": sorted(dag.tags),
            "tasks": {
                # Assets only: the OpenLineage datasets next to them name lake paths of this machine
                t.task_id: {"downstream": sorted(t.downstream_task_ids),
                            "outlets": [a.uri for a in t.outlets if isinstance(a, Asset)], "pool": t.pool}
                for t in sorted(dag.tasks, key=lambda t: t.task_id)
            },
        }
    return out


def test_topology_matches_snapshot(dagbag):
    """A catalog or factory change shows up as a readable diff of tests/dags/topology.json.

    After an intended change: CITYLAKE_UPDATE_SNAPSHOTS=1 pytest tests/dags -k topology
    """
    import json
    import os

    current = json.dumps(topology(dagbag), ensure_ascii=False, indent=2, sort_keys=True) + "\n"
    if os.environ.get("CITYLAKE_UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.write_text(current, encoding="utf-8")
    assert SNAPSHOT.exists(), "run with CITYLAKE_UPDATE_SNAPSHOTS=1 to create the snapshot"
    assert SNAPSHOT.read_text(encoding="utf-8") == current

