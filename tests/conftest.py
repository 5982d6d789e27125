"""Shared fixtures: one SparkSession for the whole test session, temporary lakes, the catalog.

Airflow reads its configuration when first imported, so the environment for it (a private
AIRFLOW_HOME with SQLite metadata, our dags/ folder, no examples) is set here, before any test
module imports it. A developer's own Airflow settings never leak into the tests.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from jobs.settings import BUILTIN_CATALOG, DAGS_DIR, Settings, lineage_environment
from tests.support.jvm import JVM_OPTIONS

pytest_plugins = ["tests.support.s3_fixture", "tests.support.browser", "tests.support.postgres",
                  "tests.support.spark_cluster"]

_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="citylake-test-airflow-"))
os.environ.update({
    "AIRFLOW_HOME": str(_AIRFLOW_HOME),
    "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_DIR),
    "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{_AIRFLOW_HOME / 'airflow.db'}",
    "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
    # OpenLineage's listener and transport are set up once per process: one folder for the session
    **lineage_environment(_AIRFLOW_HOME / "lineage"),
})
LINEAGE_DIR = _AIRFLOW_HOME / "lineage"


@pytest.fixture(scope="session")
def catalog():
    from jobs.catalog import load_catalog

    return load_catalog([BUILTIN_CATALOG])


@pytest.fixture(scope="session")
def appeals(catalog):
    return catalog.resource("citizen_appeals")


def make_settings(home: Path) -> Settings:
    return Settings(home=home, spark_master="local[2]", shuffle_partitions=2, jvm_options=JVM_OPTIONS)


@pytest.fixture(scope="session")
def spark(tmp_path_factory):
    """The one SparkSession (local[2], UI off, 2 shuffle partitions); tests never stop it. Its JVM lives as
    long as the suite and runs thousands of queries, so it keeps the JVM's own JIT (C2 compiles the hot
    planner and codegen paths: two integration modules took 207 s with it, 284 s C1-only); the short-lived
    JVMs the tests start get `JVM_OPTIONS`."""
    from dataclasses import replace

    from jobs.io.spark import get_spark

    settings = replace(make_settings(tmp_path_factory.mktemp("spark-home")), jvm_options="")
    return get_spark(settings, app_name="citylake-tests")


@pytest.fixture(scope="session")
def lineage_dir() -> Path:
    """Where the OpenLineage file transport of this test session writes (set once, before Airflow loads)."""
    return LINEAGE_DIR


@pytest.fixture(scope="session")
def settings_for():
    """Build settings for a lake root (module-scoped fixtures make their own temporary roots)."""
    return make_settings


@pytest.fixture
def lake(tmp_path, spark) -> Settings:
    """Settings on an empty temporary lake, with Spark running."""
    return make_settings(tmp_path / "home")


def pytest_sessionfinish(session, exitstatus):
    # py4j logs "Closing down clientserver connection" at INFO from __del__ at interpreter exit,
    # after pytest closed the streams; Airflow's logging config would print it as a logging error.
    import logging

    logging.getLogger("py4j").setLevel(logging.WARNING)
