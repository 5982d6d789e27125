"""The catalog drives everything: per-resource checks generated from the catalog, a broken entry that
costs only itself, and the DAG factory at the reference city's scale (643 resources, 225 systems)."""

from __future__ import annotations

import time

import pytest

from jobs.catalog import load_catalog
from jobs.catalog.pools import pool_name
from jobs.catalog.suite import suite_document
from jobs.settings import BUILTIN_CATALOG, DAGS_DIR
from tests.support.synthetic_catalog import write_catalog

pytestmark = pytest.mark.airflow

CATALOG = load_catalog([BUILTIN_CATALOG])
STEPS = ("wait_for_exports", "ingest", "conform", "validate")


def _dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS_DIR))


@pytest.fixture(scope="module")
def dagbag():
    return _dagbag()


@pytest.mark.parametrize("name", sorted(CATALOG.resources))
def test_every_resource_derives_schemas_suite_dag_and_a_safe_open_schema(name, dagbag, spark):
    from jobs.catalog.derive import bronze_schema, silver_schema
    from jobs.transforms.masking import to_open

    res = CATALOG.resource(name)
    bronze, silver = bronze_schema(res), silver_schema(res)
    assert set(res.item_names) <= set(bronze.names) and set(res.item_names) <= set(silver.names)
    suite = suite_document(res)
    assert suite["expectations"] and suite["name"] == res.name

    dag = dagbag.dags[f"citylake_{res.provider}"]
    tasks = [dag.get_task(f"{res.name}.{step}") for step in STEPS]
    tasks.append(dagbag.dags[f"citylake_{res.provider}_publish"].get_task(f"publish_{res.name}"))
    assert all(t.pool == pool_name(res) for t in tasks[1:])

    opened = to_open(spark.createDataFrame([], silver), res, pseudonym_key="schema-check")
    for item in res.items:
        if item.is_personal and item.publish == "drop":
            assert item.name not in opened.columns, f"{item.name} ({item.pii}) reaches open.{name}"
        if item.is_personal:
            assert item.publish != "keep"


def test_a_broken_entry_costs_only_itself(tmp_path, monkeypatch):
    (tmp_path / "extra").mkdir()
    (tmp_path / "extra" / "departments.yaml").write_text(
        "departments:\n  - {key: ok_dept, code: '11510100MB0000000U', name: 好部门, name_en: Good, system: 系统}\n",
        encoding="utf-8")
    (tmp_path / "extra" / "ok_dept").mkdir()
    good = (BUILTIN_CATALOG / "network_governance" / "citizen_appeals.yaml").read_text(encoding="utf-8")
    (tmp_path / "extra" / "ok_dept" / "good.yaml").write_text(
        good.replace("name: citizen_appeals", "name: good_copy").replace("provider: network_governance",
                                                                         "provider: ok_dept")
        .replace('code: "510100/1101-00001"', 'code: "510100/9999-00001"')
        .replace('code: "510100/1101-90001"', 'code: "510100/9999-90001"'), encoding="utf-8")
    (tmp_path / "extra" / "ok_dept" / "broken.yaml").write_text(
        good.replace("name: citizen_appeals", "name: broken_copy").replace("provider: network_governance",
                                                                           "provider: ok_dept")
        .replace('code: "510100/1101-00001"', 'code: "510100/9999-00002"').replace("type: timestamp", "type: time")
        .replace('code: "510100/1101-90001"', 'code: "510100/9999-90002"'),
        encoding="utf-8")
    monkeypatch.setenv("CITYLAKE_CATALOG", str(tmp_path / "extra"))
    bag = _dagbag()
    assert set(bag.import_errors) == {str(DAGS_DIR / "catalog_check.py")}
    message = bag.import_errors[str(DAGS_DIR / "catalog_check.py")]
    assert "broken.yaml" in message and "resource broken_copy" in message and "type" in message
    assert {"citylake_network_governance", "citylake_ok_dept"} <= set(bag.dag_ids)
    assert "good_copy.ingest" in bag.dags["citylake_ok_dept"].task_ids
    assert not any(t.startswith("broken_copy.") for t in bag.dags["citylake_ok_dept"].task_ids)


def test_city_scale_catalog_loads_with_zero_import_errors(tmp_path, monkeypatch):
    catalog = write_catalog(tmp_path / "synthetic")
    monkeypatch.setenv("CITYLAKE_CATALOG", str(catalog))
    started = time.perf_counter()
    bag = _dagbag()
    elapsed = time.perf_counter() - started
    assert bag.import_errors == {}
    synthetic = [d for d in bag.dag_ids if d.startswith("citylake_dept_")]
    assert len(synthetic) == 2 * 225  # a pipeline DAG and an Asset-scheduled publish DAG per system
    tasks = sum(len(bag.dags[d].tasks) for d in synthetic)
    assert tasks == 643 * (len(STEPS) + 1)  # wait, ingest, conform, validate + publish
    # not a timing assertion: `make bench-dags` measures; this only guards against Airflow's 30 s timeout
    assert elapsed < 30, f"{elapsed:.1f} s"
