"""A Spark standalone cluster on loopback for the production tests: one master and two workers started from
pyspark's own distribution (`bin/spark-class` with the Master and Worker classes), as an operator would run
them, stopped at the end.

Each worker offers more cores than the machine has: a citylake task asks for two executors of one core
(`spark.cores.max=2`), and the master spreads them over both workers, which is what the test proves.
The master's and workers' JSON status pages say which application ran executors where.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.postgres import free_port

WORKERS = 2
WORKER_CORES = 2
WORKER_MEMORY = "3g"


def spark_home() -> Path:
    import pyspark

    return Path(pyspark.__file__).parent


class SparkStandalone:
    """`start()`, `master_url`, `app_conf()`, `executors_by_worker()`, `stop()`; logs under `folder`."""

    def __init__(self, folder: Path):
        self.folder = folder
        # distinct ports: the system may hand out a just-released port twice
        ports: list[int] = []
        while len(ports) < 2 + WORKERS:
            if (port := free_port()) not in ports:
                ports.append(port)
        self.port, self.ui_port, *self.worker_ui_ports = ports
        self.procs: list[subprocess.Popen] = []
        self.env = {**os.environ, "SPARK_HOME": str(spark_home()), "SPARK_LOCAL_IP": "127.0.0.1",
                    "SPARK_LOG_DIR": str(folder), "PYSPARK_PYTHON": sys.executable,
                    "SPARK_NO_DAEMONIZE": "1"}

    @property
    def master_url(self) -> str:
        return f"spark://127.0.0.1:{self.port}"

    def _spawn(self, name: str, *args: str) -> None:
        log = (self.folder / f"{name}.log").open("w", encoding="utf-8")
        self.procs.append(subprocess.Popen([str(spark_home() / "bin" / "spark-class"), *args], env=self.env,
                                           stdout=log, stderr=subprocess.STDOUT, start_new_session=True))

    def start(self, timeout: float = 120) -> SparkStandalone:
        self.folder.mkdir(parents=True, exist_ok=True)
        self._spawn("master", "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
                    "--port", str(self.port), "--webui-port", str(self.ui_port))
        for i, ui in enumerate(self.worker_ui_ports):
            work = self.folder / f"worker-{i}"
            work.mkdir(exist_ok=True)
            self._spawn(f"worker-{i}", "org.apache.spark.deploy.worker.Worker", self.master_url,
                        "--host", "127.0.0.1", "--cores", str(WORKER_CORES), "--memory", WORKER_MEMORY,
                        "--webui-port", str(ui), "--work-dir", str(work))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for proc in self.procs:
                if proc.poll() is not None:
                    raise RuntimeError(f"a Spark daemon exited {proc.returncode}:\n{self.tail()}")
            try:
                if self.master_status().get("aliveworkers") == WORKERS:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(1)
        raise RuntimeError(f"the Spark master did not see {WORKERS} workers in {timeout:.0f} s:\n{self.tail()}")

    def master_status(self) -> dict[str, Any]:
        """The master's JSON status; `{}` while its web UI is not up (or the port answered for another process,
        which a port taken between choosing and binding it makes possible: the master then binds the next
        one, as its log says, and that is where it is asked from then on)."""
        bound = re.search(r"MasterWebUI.*?started at http://[^:]+:(\d+)", (self.folder / "master.log").read_text(
            encoding="utf-8", errors="replace"))
        if bound:
            self.ui_port = int(bound[1])
        response = httpx.get(f"http://127.0.0.1:{self.ui_port}/json/", timeout=10)
        try:
            return response.json()
        except ValueError:
            return {}

    def worker_status(self, index: int) -> dict[str, Any]:
        return httpx.get(f"http://127.0.0.1:{self.worker_ui_ports[index]}/json/", timeout=10).json()

    def app_env(self) -> dict[str, str]:
        """Environment of a citylake task submitting here. Like an operator's SPARK_CONF_DIR, the
        spark-defaults.conf asks for two executors of one core each, so both workers get one."""
        conf_dir = self.folder / "conf"
        conf_dir.mkdir(exist_ok=True)
        (conf_dir / "spark-defaults.conf").write_text(
            "spark.cores.max 2\nspark.executor.cores 1\nspark.executor.memory 1g\n", encoding="utf-8")
        return {"CITYLAKE_SPARK_MASTER": self.master_url, "SPARK_LOCAL_IP": "127.0.0.1",
                "SPARK_CONF_DIR": str(conf_dir)}

    def executors_by_worker(self) -> dict[str, set[str]]:
        """Application ids that ran (or run) executors, per worker id."""
        out: dict[str, set[str]] = {}
        for i in range(WORKERS):
            status = self.worker_status(i)
            apps = {e["appid"] for key in ("executors", "finishedexecutors") for e in status.get(key, [])}
            out[status["id"]] = apps
        return out

    def applications(self) -> dict[str, str]:
        """Application id -> name, running or completed."""
        status = self.master_status()
        return {a["id"]: a["name"] for key in ("activeapps", "completedapps") for a in status.get(key, [])}

    def tail(self, lines: int = 30) -> str:
        out = []
        for log in sorted(self.folder.glob("*.log")):
            text = log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]
            out.append(f"--- {log.name}\n" + "\n".join(text))
        return "\n".join(out)

    def stop(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


@pytest.fixture(scope="session")
def spark_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SparkStandalone]:
    cluster = SparkStandalone(tmp_path_factory.mktemp("spark-standalone")).start()
    try:
        yield cluster
    finally:
        cluster.stop()
