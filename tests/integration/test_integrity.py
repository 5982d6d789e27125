"""Integrity across resources and batches: one file delivered to two resources balances in both; a
duplicate row is never "corrected" by a later delivery of the row it duplicated; every quarantine reason
keeps its whole Chinese message; a file rejected whole fails ingest (exit 1) naming file, resource, YAML
file and item."""

from __future__ import annotations

import textwrap
from dataclasses import replace
from datetime import datetime

import pytest
from pyspark.sql import functions as F

from jobs.catalog import load_catalog
from jobs.catalog.suite import write_suite
from jobs.errors import FilesRejected
from jobs.io import delta, ops
from jobs.steps import ingest, run

pytestmark = pytest.mark.spark

DEPARTMENTS = textwrap.dedent("""
    departments:
      - {key: eco_env, code: "11510100MB0000001Y", name: 成都市生态环境局, name_en: Chengdu Ecology and
         Environment Bureau, system: 噪声监测平台}
""")


def resource_yaml(name: str, code: str) -> str:
    return textwrap.dedent(f"""
        name: {name}
        code: "{code}"
        title: 噪声监测数据{name[-1]}
        title_en: Noise readings {name}
        provider: eco_env
        summary: 噪声监测点的小时读数。
        theme: 生态环保
        update_cycle: daily
        share: {{type: 无条件共享}}
        open_type: 不予开放
        source: {{format: csv, encoding: utf-8, header: title, file_pattern: "{name}_*.csv"}}
        primary_key: [point_id, measured_at]
        items:
          - {{name: point_id, title: 监测点编号, required: true}}
          - {{name: measured_at, title: 监测时间, type: timestamp, required: true, formats: ["yyyy-MM-dd HH:mm:ss"]}}
          - {{name: level_db, title: 噪声值, type: decimal, precision: 5, scale: 1,
             rules: [{{rule: range, min: 0, max: 200}}]}}
    """)


HEADER = "监测点编号,监测时间,噪声值"
DAY1 = [HEADER, "P1,2026-11-26 08:00:00,50.5", "P1,2026-11-26 08:00:00,50.5", "P2,2026-11-26 08:00:00,-5",
        "P3,2026-11-26 08:00:00,61"]
DAY2 = [HEADER, "P1,2026-11-26 08:00:00,55", "P2,2026-11-26 08:00:00,40"]


def deliver(settings, resource: str, name: str, lines: list[str]) -> None:
    folder = settings.landing / "eco_env" / resource
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")
    (folder / f"{name}.ok").touch()


@pytest.fixture(scope="module")
def catalog_dir(tmp_path_factory):
    extra = tmp_path_factory.mktemp("catalog")
    (extra / "eco_env").mkdir()
    (extra / "departments.yaml").write_text(DEPARTMENTS, encoding="utf-8")
    for name, code in (("noise_a", "510100/2202-00001"), ("noise_b", "510100/2202-00002")):
        (extra / "eco_env" / f"{name}.yaml").write_text(resource_yaml(name, code), encoding="utf-8")
    return extra


@pytest.fixture(scope="module")
def two_resources(tmp_path_factory, spark, settings_for, catalog_dir):
    """The same file content delivered to noise_a and noise_b, then a second day for noise_a."""
    base = settings_for(tmp_path_factory.mktemp("integrity") / "home")
    settings = replace(base, catalog_dirs=(*base.catalog_dirs, catalog_dir),
                       expectations_dir=tmp_path_factory.mktemp("expectations"))
    catalog = load_catalog(settings.catalog_dirs)
    for name in ("noise_a", "noise_b"):
        write_suite(settings.expectations_dir, catalog.resource(name))
        deliver(settings, name, f"{name}_20261126.csv", DAY1)
    first = {name: run(name, settings=settings, now=datetime(2026, 11, 26, 10)) for name in ("noise_a", "noise_b")}
    deliver(settings, "noise_a", "noise_a_20261127.csv", DAY2)
    second = run("noise_a", settings=settings, now=datetime(2026, 11, 27, 10))
    return settings, first, second


def test_one_file_delivered_to_two_resources_balances_in_both(two_resources, spark):
    settings, first, _ = two_resources
    assert first["noise_a"]["ingest"][0]["batch_id"] == first["noise_b"]["ingest"][0]["batch_id"]  # same content
    for name in ("noise_a", "noise_b"):
        steps = {(r.step, r.status): r for r in ops.read(spark, settings, "ledger", name)
                 .where(F.col("batch_id") == first[name]["ingest"][0]["batch_id"]).collect()}
        assert {("ingest", "ok"), ("conform", "ok"), ("validate", "ok")} <= set(steps), (name, set(steps))
        conformed = steps[("conform", "ok")]
        assert (conformed.rows_read, conformed.rows_accepted, conformed.rows_quarantined) == (4, 2, 2), name
        assert steps[("validate", "ok")].rows_accepted == 2, name
        assert delta.read(spark, settings.table_path("audit", name)).count() == 0, name  # nothing stranded
    assert delta.read(spark, settings.table_path("silver", "noise_b")).count() == 2
    validations = ops.read(spark, settings, "validations").groupBy("resource").count().collect()
    assert {r.resource for r in validations} >= {"noise_a", "noise_b"}


def test_a_duplicate_is_not_corrected_by_a_later_delivery_of_its_key(two_resources, spark):
    settings, first, second = two_resources
    assert second["validate"][0]["success"] is True
    quarantine = {r._row_number: r for r in delta.read(spark, settings.table_path("quarantine", "noise_a"))
                  .where(F.col("_batch_id") == first["noise_a"]["ingest"][0]["batch_id"]).collect()}
    assert [x.rule for x in quarantine[3].reasons] == ["duplicate_key"]
    assert quarantine[3]._corrected_by_batch is None  # the row it duplicated (line 2) was accepted on day 1
    assert [x.rule for x in quarantine[4].reasons] == ["range"]
    assert quarantine[4]._corrected_by_batch == second["ingest"][0]["batch_id"]  # P2 delivered right on day 2
    silver = {r.point_id: float(r.level_db) for r in delta.read(spark, settings.table_path("silver", "noise_a"))
              .collect()}
    assert silver == {"P1": 55.0, "P2": 40.0, "P3": 61.0}


def test_quarantine_messages_are_whole_in_chinese(two_resources, spark):
    settings, _, _ = two_resources
    reasons = {r.rule: r for r in delta.read(spark, settings.table_path("quarantine", "noise_b"))
               .select(F.explode("reasons").alias("r")).select("r.*").collect()}
    assert reasons["duplicate_key"].message_zh == "point_id,measured_at：主键重复，首次出现于第 2 行"
    assert reasons["range"].message_zh == "level_db：数值超出范围（应在 0 与 200 之间）"


def test_a_file_rejected_whole_fails_ingest_naming_file_resource_and_item(lake, spark, catalog_dir, monkeypatch,
                                                                          capsys):
    from jobs.cli import EXIT_BAD_DATA, main

    settings = replace(lake, catalog_dirs=(*lake.catalog_dirs, catalog_dir))
    deliver(settings, "noise_a", "noise_a_20261128.csv", ["监测点编号,监测时间", "P1,2026-11-28 08:00:00"])
    deliver(settings, "noise_a", "noise_a_20261129.csv", DAY2)
    with pytest.raises(FilesRejected) as rejected:
        ingest("noise_a", settings=settings, now=datetime(2026, 11, 29, 10))
    message = str(rejected.value)
    assert "1 of 2 file(s) rejected" in message and "eco_env/noise_a/noise_a_20261128.csv" in message
    assert "resource noise_a" in message and "noise_a.yaml" in message and "噪声值 = item level_db" in message
    assert {o["status"] for o in rejected.value.outcomes} == {"rejected", "ingested"}  # the good file got in

    deliver(settings, "noise_a", "noise_a_20261130.csv", ["监测点编号,监测时间", "P9,2026-11-30 08:00:00"])
    monkeypatch.setenv("CITYLAKE_HOME", str(settings.home))
    monkeypatch.setenv("CITYLAKE_CATALOG", str(catalog_dir))
    assert main(["ingest", "noise_a"]) == EXIT_BAD_DATA
    captured = capsys.readouterr()
    assert "FilesRejected" in captured.err and "noise_a_20261130.csv" in captured.err
    assert '"status": "rejected"' in captured.out
