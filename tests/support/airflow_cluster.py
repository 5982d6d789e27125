"""Airflow as production runs it, on loopback: PostgreSQL metadata, `airflow db migrate`, then the scheduler
(LocalExecutor), the DAG processor and the API server as separate processes, and a client of the public
REST API (JWT from the simple auth manager with a per-run password).

Each process logs to its own file in the Airflow home; `tail()` shows them when a test fails.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from jobs.settings import Settings, airflow_environment
from tests.support.postgres import PostgresServer, free_port

PROCESSES = {"scheduler": ["scheduler"], "dag-processor": ["dag-processor"], "api-server": ["api-server"]}
USER = "citylake"


class AirflowCluster:
    def __init__(self, settings: Settings, postgres: PostgresServer, *, extra_env: dict[str, str] | None = None):
        self.settings = settings
        self.home = settings.airflow_home
        self.port = free_port()
        self.password = secrets.token_urlsafe(12)
        self.url = f"http://127.0.0.1:{self.port}"
        self.procs: dict[str, subprocess.Popen] = {}
        self.env = airflow_environment(settings)
        self.env.update({
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": postgres.create_database(f"airflow_{secrets.token_hex(4)}"),
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": "2",  # two cores: two task processes (each a JVM) at a time
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USER}:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(self.home / "passwords.json"),
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
            "AIRFLOW__API__PORT": str(self.port),
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.url}/execution/",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "10",
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
            **(extra_env or {}),
        })
        self._token: str | None = None

    def airflow(self, *args: str) -> None:
        exe = Path(sys.executable).with_name("airflow")
        with (self.home / "cli.log").open("a", encoding="utf-8") as log:
            done = subprocess.run([str(exe), *args], env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                  check=False, timeout=600)
        if done.returncode != 0:
            raise RuntimeError(f"airflow {' '.join(args)} failed:\n{self.tail('cli')}")

    def start(self) -> AirflowCluster:
        self.home.mkdir(parents=True, exist_ok=True)
        (self.home / "passwords.json").write_text(json.dumps({USER: self.password}), encoding="utf-8")
        self.airflow("db", "migrate")
        exe = str(Path(sys.executable).with_name("airflow"))
        for name, args in PROCESSES.items():
            log = (self.home / f"{name}.log").open("w", encoding="utf-8")
            self.procs[name] = subprocess.Popen([exe, *args], env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                                start_new_session=True)
        self._wait_for_api()
        return self

    def _wait_for_api(self, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, proc in self.procs.items():
                if proc.poll() is not None:
                    raise RuntimeError(f"airflow {name} exited {proc.returncode}:\n{self.tail(name)}")
            try:
                if httpx.get(f"{self.url}/api/v2/monitor/health", timeout=5).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(1)
        raise RuntimeError(f"API server not up after {timeout:.0f} s:\n{self.tail('api-server')}")

    def token(self) -> str:
        if self._token is None:
            r = httpx.post(f"{self.url}/auth/token", json={"username": USER, "password": self.password}, timeout=30)
            r.raise_for_status()
            self._token = r.json()["access_token"]
        return self._token

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        r = httpx.request(method, f"{self.url}/api/v2{path}", headers={"Authorization": f"Bearer {self.token()}"},
                          timeout=60, **kwargs)
        if r.status_code >= 400:
            raise RuntimeError(f"{method} {path} -> {r.status_code}: {r.text[:2000]}")
        return r.json() if r.content else None

    def wait_for_dag(self, dag_id: str, timeout: float = 300) -> None:
        """Until the DAG processor has parsed and serialised `dag_id`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                self.api("GET", f"/dags/{dag_id}")
                return
            except RuntimeError:
                time.sleep(2)
        raise RuntimeError(f"{dag_id} never appeared:\n{self.tail('dag-processor')}")

    def wait_for_run(self, dag_id: str, run_id: str | None = None, *, timeout: float = 1200) -> dict:
        """The finished run (`run_id`, or the first run of the DAG); raises with the logs when it fails."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if run_id is None:
                runs = self.api("GET", f"/dags/{dag_id}/dagRuns")["dag_runs"]
                run = runs[0] if runs else None
            else:
                run = self.api("GET", f"/dags/{dag_id}/dagRuns/{run_id}")
            if run and run["state"] in ("success", "failed"):
                if run["state"] == "failed":
                    raise RuntimeError(f"{dag_id} {run['dag_run_id']} failed:\n{self.task_states(dag_id, run)}\n"
                                       f"{self.tail('scheduler')}")
                return run
            time.sleep(3)
        raise RuntimeError(f"{dag_id} did not finish in {timeout:.0f} s:\n{self.tail('scheduler')}")

    def wait_for_backfill(self, dag_id: str, *, timeout: float = 1200) -> list[dict]:
        """The runs of `dag_id`'s backfill once the scheduler marked it complete; raises with the logs when one
        of them fails."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            runs = [r for r in self.api("GET", f"/dags/{dag_id}/dagRuns", params={"order_by": "id"})["dag_runs"]
                    if r["run_type"] == "backfill"]
            failed = [r for r in runs if r["state"] == "failed"]
            if failed:
                raise RuntimeError(f"{dag_id} {failed[0]['dag_run_id']} failed:\n"
                                   f"{self.task_states(dag_id, failed[0])}\n{self.tail('scheduler')}")
            backfills = self.api("GET", "/backfills", params={"dag_id": dag_id})["backfills"]
            if backfills and all(b["completed_at"] for b in backfills):
                return runs
            time.sleep(3)
        raise RuntimeError(f"the backfill of {dag_id} did not finish in {timeout:.0f} s:\n{self.tail('scheduler')}")

    def wait_for_task(self, dag_id: str, task_id: str, *, timeout: float = 1200) -> dict:
        """The first run of `dag_id` in which `task_id` succeeded (other runs may skip it); raises with the
        logs when a run fails first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for run in self.api("GET", f"/dags/{dag_id}/dagRuns", params={"order_by": "id"})["dag_runs"]:
                if run["state"] == "failed":
                    raise RuntimeError(f"{dag_id} {run['dag_run_id']} failed:\n{self.task_states(dag_id, run)}\n"
                                       f"{self.tail('scheduler')}")
                if run["state"] == "success":
                    ti = self.api("GET", f"/dags/{dag_id}/dagRuns/{run['dag_run_id']}/taskInstances/{task_id}")
                    if ti["state"] == "success":
                        return run
            time.sleep(3)
        raise RuntimeError(f"{task_id} of {dag_id} did not succeed in {timeout:.0f} s:\n{self.tail('scheduler')}")

    def task_states(self, dag_id: str, run: dict) -> str:
        tis = self.api("GET", f"/dags/{dag_id}/dagRuns/{run['dag_run_id']}/taskInstances")["task_instances"]
        return "\n".join(f"  {t['task_id']}: {t['state']}" for t in tis)

    def tail(self, name: str, lines: int = 60) -> str:
        path = self.home / f"{name}.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, 15)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, 9)
