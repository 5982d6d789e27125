"""The step server: a task is a thin client of one long-lived Spark driver per worker.

Proves: the steps run there with the task's settings and give the results they give in-process (ingest,
conform and validate here; publish on the server is proven by the production smoke test, where every task
of both DAGs runs on one server and one Spark application); each request reuses the same server and Spark
application; the task sees the step's log records and its
exception class (bad data stays bad data, with its attributes); a server that is gone is replaced in
`auto` mode and reported as unavailable (exit code 4) in `required` mode.
"""

from __future__ import annotations

import logging
import os
import signal
import time
from dataclasses import replace
from datetime import date

import pytest
from deltalake import DeltaTable

from jobs.cli import EXIT_UNAVAILABLE, exit_code_for
from jobs.errors import FilesRejected, ServiceUnavailable
from jobs.io.deltars import table_uri
from jobs.sample.generator import write_export
from jobs.service.client import ensure_server, pid_alive, ping, run_step, stop_servers
from jobs.service.protocol import address_path
from jobs.settings import Settings
from tests.support.jvm import JVM_OPTIONS

pytestmark = pytest.mark.spark

DAY = date(2026, 11, 26)
RESOURCE = "citizen_appeals"


@pytest.fixture(scope="module")
def served(tmp_path_factory, catalog):
    """A lake whose steps all go to one on-demand step server; stopped at the end."""
    home = tmp_path_factory.mktemp("served")
    settings = Settings(home=home, spark_master="local[2]", shuffle_partitions=2, step_server="auto",
                        step_server_idle=300, pseudonym_key="step-server-test-key", jvm_options=JVM_OPTIONS)
    write_export(catalog.resource(RESOURCE), settings.landing, day=DAY, rows=40)
    yield settings
    stop_servers(home)


def test_steps_on_one_server_and_one_spark_application(served, caplog):
    pongs = []
    with caplog.at_level(logging.INFO):
        for step in ("ingest", "conform", "validate"):
            result = run_step(step, RESOURCE, served)
            assert result, step
            pongs.append(ping(ensure_server(served)))
    assert len({p["pid"] for p in pongs}) == 1 and len({p["application"] for p in pongs}) == 1, pongs
    silver = DeltaTable(table_uri(served.table_path("silver", RESOURCE))).to_pyarrow_table()
    ledger = DeltaTable(table_uri(served.table_path("ops", "ledger"))).to_pyarrow_table().to_pylist()
    by_step = {r["step"]: r for r in ledger if r["resource"] == RESOURCE}
    assert by_step["ingest"]["rows_read"] == 40
    assert by_step["conform"]["rows_read"] == by_step["conform"]["rows_accepted"] + \
        by_step["conform"]["rows_quarantined"] == 40, by_step
    assert silver.num_rows == by_step["validate"]["rows_accepted"] == by_step["conform"]["rows_accepted"]
    # the records the steps logged on the server reached the caller's log (only conform writes this line)
    messages = [r.getMessage() for r in caplog.records]
    assert any(m.startswith(f"conform {RESOURCE} batch ") and "read 40, accepted" in m for m in messages), messages



def test_a_rerun_ingests_nothing(served):
    """A second ingest of the same landing files ingests nothing (exactly once holds across requests)."""
    outcomes = run_step("ingest", RESOURCE, served)
    assert outcomes == [] or all(o["status"] != "ingested" for o in outcomes), outcomes


def test_bad_data_keeps_its_class_and_attributes(served, catalog):
    res = catalog.resource(RESOURCE)
    folder = served.landing / res.provider / res.name
    bad = folder / f"{res.name}_20261127.csv"
    bad.write_text("wrong,header\n1,2\n", encoding="utf-8")
    (folder / f"{bad.name}{res.source.marker_suffix}").write_text("", encoding="utf-8")
    with pytest.raises(FilesRejected) as caught:
        run_step("ingest", RESOURCE, served)
    assert any(o["status"] == "rejected" for o in caught.value.outcomes), caught.value.outcomes
    assert bad.name in str(caught.value)


def test_a_server_gone_is_replaced_in_auto_mode_and_reported_in_required_mode(served):
    first = ensure_server(served)
    os.kill(first.pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and pid_alive(first.pid):
        time.sleep(0.1)
    with pytest.raises(ServiceUnavailable) as caught:
        run_step("validate", RESOURCE, replace(served, step_server="required"))
    assert "citylake step-server" in str(caught.value) and exit_code_for(caught.value) == EXIT_UNAVAILABLE
    assert address_path(served).exists()  # a stale address file, to be replaced
    run_step("validate", RESOURCE, served)
    second = ensure_server(served)
    assert second.pid != first.pid and second.token != first.token
