"""Production smoke test: the `production` profile end to end, every engine a real process on loopback.

- Airflow on PostgreSQL with the scheduler (LocalExecutor), DAG processor and API server;
- a Spark standalone master and two workers from pyspark's distribution; tasks submit to `spark://`;
- the lake on S3 (`s3a://`, SeaweedFS), landing and open zones on S3 too;
- a Hive metastore on PostgreSQL that the tasks name their tables in.

A department's DAG is triggered through the REST API and polled to success; its publish DAG then runs
because the validate tasks emitted the silver Assets (data-aware scheduling, not a trigger). A backlog of
the day before is then delivered and `airflow backfill create` runs the two days before today side by side:
each backlog export is ingested, conformed and validated exactly once, and no run waits for a past day's
export. Afterwards
an analyst's `citylake sql`, a separate process, finds the tables by name; every step task ran on one step
server (one Spark application, started on demand by the first task) with executors on both workers;
every task sent OpenLineage events naming the S3 datasets it read and wrote; and no credential appears in
any log, Spark work folder or lineage event.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from jobs.catalog.lineage import dataset_id
from jobs.catalog.pools import pools_document
from jobs.io import ops
from jobs.io.buckets import BucketPlan, bootstrap
from jobs.sample.generator import write_export
from jobs.service.client import stop_servers
from jobs.settings import REPO_ROOT, lineage_environment, load_settings
from tests.support.airflow_cluster import AirflowCluster
from tests.support.jvm import JVM_OPTIONS
from tests.support.lineage import datasets, task_events
from tests.support.secret_scan import find_secrets

pytestmark = [pytest.mark.production, pytest.mark.airflow]

DEPARTMENT = "network_governance"
DAY = date(2026, 11, 26)


def production_settings(home: Path, s3, postgres, spark_cluster, plan: BucketPlan):  # noqa: ANN001, ANN201
    """The settings an operator would put in the environment, read back through `load_settings`."""
    metastore = f"metastore_{secrets.token_hex(4)}"
    postgres.create_database(metastore)
    env = {
        "CITYLAKE_PROFILE": "production",
        "CITYLAKE_HOME": str(home),
        "CITYLAKE_JARS": str(REPO_ROOT / ".jars"),
        "CITYLAKE_SHUFFLE_PARTITIONS": "2",
        "CITYLAKE_JVM_OPTIONS": JVM_OPTIONS,
        "CITYLAKE_SPARK_MASTER": spark_cluster.master_url,
        "CITYLAKE_LAKE": f"s3a://{plan.lake}/lake",
        "CITYLAKE_LANDING": f"s3://{plan.landing}/departments",
        "CITYLAKE_OPEN": f"s3://{plan.open}/opendata",
        "CITYLAKE_RESTRICTED": f"s3://{plan.restricted}/opendata",
        "CITYLAKE_S3_ENDPOINT": s3.endpoint_url,
        "CITYLAKE_S3_ACCESS_KEY": s3.access_key,
        "CITYLAKE_S3_SECRET_KEY": s3.secret_key,
        "CITYLAKE_METASTORE_URL": f"jdbc:postgresql://127.0.0.1:{postgres.port}/{metastore}",
        "CITYLAKE_METASTORE_USER": postgres.user,
        "CITYLAKE_METASTORE_PASSWORD": postgres.password,
        "CITYLAKE_PSEUDONYM_KEY": secrets.token_urlsafe(24),
    }
    return load_settings(env)


def deliver(catalog, client, plan: BucketPlan, scratch: Path, day: date = DAY,  # noqa: ANN001
            only: str | None = None) -> None:
    """Write each resource's export (or `only`'s) as the department would and put it in the landing bucket,
    marker last."""
    for res in catalog.resources_of(DEPARTMENT):
        if only is not None and res.name != only:
            continue
        write_export(res, scratch, day=day, rows=60, defect_rate=0)
        files = sorted(p for p in scratch.rglob("*") if p.is_file())
        for path in sorted(files, key=lambda p: p.name.endswith(res.source.marker_suffix)):
            client.upload_file(str(path), plan.landing, f"departments/{path.relative_to(scratch).as_posix()}")
            path.unlink()


def run_cli(settings, *args: str, master: str | None = None) -> str:  # noqa: ANN001
    """`citylake ...` as an analyst runs it: its own process, with the same settings (or another Spark master)."""
    from jobs.settings import airflow_environment

    env = airflow_environment(settings if master is None else replace(settings, spark_master=master))
    done = subprocess.run([sys.executable, "-m", "jobs.cli", *args], env=env, cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def registered_tables(postgres, metastore_url: str) -> set[tuple[str, str]]:  # noqa: ANN001
    """(database, table) pairs the Hive metastore holds, read from its own `DBS` and `TBLS` tables."""
    import psycopg2

    conn = psycopg2.connect(host="127.0.0.1", port=postgres.port, user=postgres.user, password=postgres.password,
                            dbname=metastore_url.rsplit("/", 1)[1].split("?")[0])
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT table_name FROM information_schema.tables WHERE lower(table_name) IN ('dbs', 'tbls')")
            names = {n.lower(): n for (n,) in cur.fetchall()}
            cur.execute("SELECT column_name, table_name FROM information_schema.columns "
                        "WHERE lower(table_name) IN ('dbs', 'tbls')")
            columns = {(t.lower(), c.lower()): c for c, t in cur.fetchall()}
            dbs, tbls = names["dbs"], names["tbls"]
            db_id, db_name = columns[("dbs", "db_id")], columns[("dbs", "name")]
            tbl_db, tbl_name = columns[("tbls", "db_id")], columns[("tbls", "tbl_name")]
            cur.execute(f'SELECT d."{db_name}", t."{tbl_name}" FROM "{tbls}" t JOIN "{dbs}" d '
                        f'ON t."{tbl_db}" = d."{db_id}"')
            return {(d.lower(), t.lower()) for d, t in cur.fetchall()}
    finally:
        conn.close()


def test_production_profile_end_to_end(postgres_server, s3_server, spark_cluster, catalog, tmp_path):
    plan = BucketPlan(**{role: f"smoke-{role}-{secrets.token_hex(3)}" for role in
                         ("landing", "lake", "open", "restricted")})
    client = s3_server.client()
    bootstrap(client, plan)
    settings = production_settings(tmp_path / "home", s3_server, postgres_server, spark_cluster, plan)
    deliver(catalog, client, plan, tmp_path / "export")
    run_cli(settings, "metastore")  # once per metastore, as `airflow db migrate` is for Airflow
    apps_before = set(spark_cluster.applications())

    lineage = settings.home / "lineage"
    cluster = AirflowCluster(settings, postgres_server,
                             extra_env={**spark_cluster.app_env(), **lineage_environment(lineage)}).start()
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
        first_batches = {r["batch_id"] for r in ops.rows(settings, "manifest", ("batch_id",))}
        first_run_done = datetime.now(UTC)
        # the first asset-triggered run may come from the other resource's silver and skip this one
        published = cluster.wait_for_task(publish_id, "publish_citizen_appeals")
        assert published["run_type"] == "asset_triggered", published
        events = cluster.api("GET", "/assets/events", params={"source_dag_id": dag_id})["asset_events"]
        assert {e.get("name") or e.get("uri") for e in events} >= {"silver.citizen_appeals"}, events
        # a backlog, then a backfill of the days before today: their runs at once (a backfill's default), the
        # resources' pools serialising their writers; none waits for a past day's export
        # (the appeals alone: the other resource's runs find nothing and skip; publishing is paused meanwhile,
        # its asset-triggered runs are not what this part is about)
        cluster.api("PATCH", f"/dags/{publish_id}", json={"is_paused": True})
        deliver(catalog, client, plan, tmp_path / "backlog", day=DAY - timedelta(days=1), only="citizen_appeals")
        cluster.airflow("backfill", "create", "--dag-id", dag_id, "--from-date",
                        (today - timedelta(days=3)).isoformat(), "--to-date", (today - timedelta(days=1)).isoformat())
        backfilled = cluster.wait_for_backfill(dag_id)
        assert len(backfilled) >= 2 and all(r["state"] == "success" for r in backfilled), backfilled
        waits = [cluster.api("GET", f"/dags/{dag_id}/dagRuns/{r['dag_run_id']}/taskInstances/"
                                    "leader_instructions.wait_for_exports")["state"] for r in backfilled]
        assert waits == ["skipped"] * len(backfilled), waits  # nothing delivered: looked once, did not wait
        # every step ran on one step server (started on demand by the first task), one Spark application
        servers = list((settings.home / "run").glob("steps-*.json"))
        assert len(servers) == 1, servers
    finally:
        cluster.stop()
        stopped = stop_servers(settings.home)
    assert len(stopped) == 1, stopped

    # every Spark step ran on the cluster, with executors on both workers
    apps = {a: n for a, n in spark_cluster.applications().items() if a not in apps_before}
    assert len(apps) == 1, f"one Spark application (the step server's) expected: {apps}"
    by_worker = spark_cluster.executors_by_worker()
    assert all(set(apps) & ran for ran in by_worker.values()), (apps, by_worker)

    # the backlog's batches went through once: one entry of each step each, whichever run got there first
    backlog = {r["batch_id"] for r in ops.rows(settings, "manifest", ("batch_id", "recorded_at", "status"))
               if r["status"] == "ingested"} - first_batches
    steps = [(r["batch_id"], r["step"]) for r in ops.rows(settings, "ledger", ("batch_id", "step"))
             if r["batch_id"] in backlog]
    assert len(backlog) == 1, backlog
    assert sorted(steps) == sorted((b, s) for b in backlog for s in ("ingest", "conform", "validate")), steps

    # the lake is on S3, nothing was written to a local lake folder
    keys = [o["Key"] for o in client.list_objects_v2(Bucket=plan.lake, Prefix="lake/silver/citizen_appeals/")
            .get("Contents", [])]
    assert any("/_delta_log/" in k for k in keys), keys
    assert not settings.lake.joinpath("silver").exists()
    catalog_json = client.get_object(Bucket=plan.open, Key="opendata/catalog.json")["Body"].read().decode("utf-8")
    assert "citizen_appeals" in catalog_json and "leader_instructions" not in catalog_json  # 不予开放

    # an analyst's session finds what the DAGs wrote, by name, through the metastore (one Spark session, on the
    # analyst's machine: it needs a Hive client and the s3a lake, not the cluster's executors); the metastore's
    # own tables then show every name the tasks registered, and no open table for the 不予开放 resource
    out = run_cli(settings, "sql", "SELECT (SELECT count(*) FROM silver.citizen_appeals) AS silver_rows, "
                                   "(SELECT count(*) FROM open.citizen_appeals) AS open_rows", master="local[1]")
    counts = [int(cell) for line in out.splitlines() for cell in line.strip("|").split("|") if cell.strip().isdigit()]
    assert len(counts) == 2 and counts[0] > 0, out  # k-anonymity may leave 60 rows' open table empty
    named = registered_tables(postgres_server, settings.metastore_url)
    assert {("silver", "citizen_appeals"), ("open", "citizen_appeals"), ("silver", "leader_instructions")} <= named
    assert ("open", "leader_instructions") not in named, sorted(named)
    assert os.environ.get("CITYLAKE_PROFILE") != "production"  # the test process itself stayed embedded

    # lineage: every task reported, with the S3 datasets it read and wrote
    done = task_events(lineage, dag_id, until=first_run_done)  # the manual run's, not the backfill's
    assert {"citizen_appeals.ingest", "citizen_appeals.conform", "citizen_appeals.validate"} <= set(done), sorted(done)
    ingest_inputs = datasets(done["citizen_appeals.ingest"], "inputs")
    assert {d.namespace for d in ingest_inputs} == {f"s3://{plan.landing}"}, ingest_inputs
    silver = dataset_id(settings.table_path("silver", "citizen_appeals"))
    assert silver.namespace == f"s3://{plan.lake}" and silver in datasets(done["citizen_appeals.validate"], "outputs")
    assert silver in datasets(task_events(lineage, publish_id)["publish_citizen_appeals"], "inputs")

    # secrets come from the environment and never reach a log, a Spark work folder or a lineage event
    leaked = find_secrets(
        [settings.airflow_home, spark_cluster.folder, lineage, settings.home / "run"],
        {"S3 secret key": s3_server.secret_key, "metastore password": postgres_server.password,
         "pseudonymisation key": str(settings.pseudonym_key),
         "Airflow JWT secret": cluster.env["AIRFLOW__API_AUTH__JWT_SECRET"]},
        skip=[settings.airflow_home / "passwords.json"])
    assert not leaked, "\n".join(leaked)
