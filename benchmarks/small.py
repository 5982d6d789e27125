"""`make bench-small`: one department's small daily export from landing to open through both of its DAGs.

What a city's hundreds of small exports cost each day: `ROWS` rows of one resource (market_regulation's
`market_entities`, the only resource of its DAG) delivered to landing, its DAG and its publish DAG run with
`airflow dags test` as the demo runs them (one Airflow process for both), timed from its start to its end.
Day 1 pays the step server's start (one Spark driver for the worker); day 2, another export the next day,
is what every later run of the worker pays.

Per-task overhead is the median, over the step tasks, of the time from the task's start (Airflow's
`task_instance.start_date`) to the step's first Spark job (the step server's `step timing` log line).
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import tempfile
import time
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from jobs.catalog import load_catalog
from jobs.catalog.pools import pools_document
from jobs.demo import run_airflow, run_dags_test
from jobs.sample.generator import write_export
from jobs.service.client import stop_servers
from jobs.settings import load_settings

DEPARTMENT = "market_regulation"
RESOURCE = "market_entities"
DAY = date(2026, 11, 26)


def task_starts(airflow_db: Path, dag_ids: tuple[str, ...], run_day: date) -> dict[str, datetime]:
    """Start of every step task of the runs of `run_day`, keyed by step name."""
    con = sqlite3.connect(airflow_db)
    try:
        rows = con.execute(
            "SELECT ti.task_id, ti.start_date FROM task_instance ti JOIN dag_run dr "
            "ON dr.dag_id = ti.dag_id AND dr.run_id = ti.run_id "
            f"WHERE ti.dag_id IN ({','.join('?' * len(dag_ids))}) AND date(dr.logical_date) = ?",
            [*dag_ids, run_day.isoformat()]).fetchall()
    finally:
        con.close()
    out = {}
    for task_id, started in rows:
        step = "publish" if task_id.startswith("publish_") else task_id.rsplit(".", 1)[-1]
        if step in ("ingest", "conform", "validate", "publish") and started:
            out[step] = datetime.fromisoformat(started).replace(tzinfo=UTC)
    return out


def first_jobs(server_logs: list[Path], since: float) -> dict[str, float]:
    """Wall time of each step's first Spark job, from the step server's timing lines after `since`."""
    out = {}
    for path in server_logs:
        for text in path.read_text(encoding="utf-8", errors="replace").splitlines():
            if "step timing: " not in text:
                continue
            timing = json.loads(text.split("step timing: ", 1)[1])
            if timing["resource"] == RESOURCE and timing["received"] >= since and timing["first_job"]:
                out[timing["step"]] = timing["first_job"]
    return out


def run_day(settings, day: date, rows: int, log: Path) -> tuple[float, list[float]]:  # noqa: ANN001
    res = load_catalog(settings.catalog_dirs).resource(RESOURCE)
    write_export(res, settings.landing, day=day, rows=rows, defect_rate=0.01)
    since = time.time()
    started = time.perf_counter()
    dag_ids = (f"citylake_{DEPARTMENT}", f"citylake_{DEPARTMENT}_publish")
    run_dags_test(settings, list(dag_ids), day, log)  # both DAGs' `dags test` in one Airflow process
    elapsed = time.perf_counter() - started
    starts = task_starts(settings.airflow_home / "airflow.db", dag_ids, day)
    jobs = first_jobs(sorted((settings.home / "run").glob("steps-*.log")), since)
    overheads = [jobs[step] - starts[step].timestamp() for step in starts if step in jobs]
    return elapsed, overheads


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="citylake-bench-small-") as tmp:
        settings = replace(load_settings({"CITYLAKE_HOME": tmp}), pseudonym_key="bench-small-key")
        settings.airflow_home.mkdir(parents=True, exist_ok=True)
        log = settings.airflow_home / "bench.log"
        run_airflow(settings, ["db", "migrate"], log)
        pools = settings.airflow_home / "pools.json"
        pools.write_text(json.dumps(pools_document(load_catalog(settings.catalog_dirs)), ensure_ascii=False))
        run_airflow(settings, ["pools", "import", str(pools)], log)
        try:
            results = [(label, *run_day(settings, day, args.rows, log))
                       for label, day in (("day 1 (starts the step server)", DAY),
                                          ("day 2 (warm step server)", DAY + timedelta(days=1)))]
        finally:
            stop_servers(settings.home)
        for label, elapsed, overheads in results:
            print(f"{label}: {elapsed:.1f} s; per-task overhead "
                  + ", ".join(f"{o:.1f}" for o in overheads) + " s", flush=True)
        label, elapsed, overheads = results[-1]
        median = statistics.median(overheads) if overheads else float("nan")
        print(f"small export landing->open: {elapsed:.1f} s (per-task overhead {median:.1f} s)")
        print(f"  ({args.rows} rows of {RESOURCE}, both DAGs with `airflow dags test`; day 1 with the server's "
              f"start: {results[0][1]:.1f} s)")


if __name__ == "__main__":
    main()
