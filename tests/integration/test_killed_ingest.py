"""A killed ingest, re-run, leaves exact counts: Delta's idempotent writes and the manifest agree.

The ingest runs as its own process (`python -m jobs.cli ingest`), which the test kills with SIGKILL
(no cleanup, like an OOM kill or a lost worker) at two points of its Delta write: when the first data
file of the bronze append exists (the write began, nothing committed), and when the bronze commit
exists (committed, but the manifest and ledger not yet written and the file not archived).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import date, datetime
from pathlib import Path

import pytest
from pyspark.sql import functions as F

from jobs.io import delta, ops
from jobs.sample.generator import write_export
from jobs.settings import REPO_ROOT
from jobs.steps import conform, ingest

ROWS = 400


def _bronze_commits(bronze: Path) -> list[Path]:
    log = bronze / "_delta_log"
    return sorted(log.glob("*.json")) if log.is_dir() else []


def _write_began(bronze: Path) -> bool:
    # version 0 is the empty table ensure_table creates; the append's files are the first parquet ones
    return any(bronze.rglob("part-*.parquet"))


def _committed(bronze: Path) -> bool:
    return len(_bronze_commits(bronze)) >= 2


@pytest.mark.parametrize("kill_when", [_write_began, _committed], ids=["write-began", "committed"])
def test_killed_ingest_rerun_has_exact_counts(lake, spark, appeals, tmp_path, kill_when):
    settings = lake
    export = write_export(appeals, settings.landing, day=date(2026, 11, 26), rows=ROWS)
    bronze = Path(settings.table_path("bronze", appeals.name))
    env = {**os.environ, "CITYLAKE_HOME": str(settings.home), "CITYLAKE_JARS": str(settings.jars_dir),
           "CITYLAKE_SPARK_MASTER": "local[1]", "CITYLAKE_SHUFFLE_PARTITIONS": "2",
           "PYTHONPATH": str(REPO_ROOT)}
    log_path = tmp_path / "ingest.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "jobs.cli", "ingest", appeals.name], env=env, cwd=REPO_ROOT,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 240
        try:
            while not kill_when(bronze):
                if proc.poll() is not None:
                    pytest.fail(f"ingest finished before the kill point (exit {proc.returncode}):\n"
                                + log_path.read_text(errors="replace")[-3000:])
                if time.monotonic() > deadline:
                    pytest.fail("kill point not reached in 240 s:\n" + log_path.read_text(errors="replace")[-3000:])
                time.sleep(0.01)
        finally:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    # The killed run recorded nothing: the file is still in landing and the manifest has no entry.
    assert export.path.exists()
    assert ops.read(spark, settings, "manifest", appeals.name).count() == 0
    commits_before = _bronze_commits(bronze)
    if kill_when is _committed:
        assert delta.read(spark, bronze).count() == ROWS  # the append landed before the kill

    out = ingest(appeals.name, settings=settings, now=datetime(2026, 11, 27, 2))
    assert [(o["status"], o["rows_read"]) for o in out] == [("ingested", ROWS)]
    assert delta.read(spark, bronze).count() == ROWS
    assert delta.read(spark, bronze).select("_row_number").distinct().count() == ROWS
    if kill_when is _committed:  # the retried append carried the same txnAppId: Delta skipped it
        assert _bronze_commits(bronze) == commits_before
    assert ingest(appeals.name, settings=settings, now=datetime(2026, 11, 27, 3)) == []
    result = conform(appeals.name, settings=settings, now=datetime(2026, 11, 27, 2))
    assert result[0]["rows_read"] == ROWS == result[0]["rows_accepted"] + result[0]["rows_quarantined"]
    manifest = ops.read(spark, settings, "manifest", appeals.name).where(F.col("status") == "ingested")
    assert manifest.count() == 1
