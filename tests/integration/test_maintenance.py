"""Maintenance on a real lake: small files compacted (or Z-ordered), replaced files vacuumed only past
the retention, the log checkpointed; Spark reads and writes the tables afterwards and sees the same rows;
a retention below the time-travel window is refused before anything changes.
"""

from __future__ import annotations

import io
import shutil
from dataclasses import replace
from datetime import datetime

import pyarrow as pa
import pytest
from deltalake import DeltaTable
from pyspark.sql import functions as F

from jobs.errors import ConfigurationError, QueryError
from jobs.io import delta, ops
from jobs.io.lake_tables import LakeTable
from jobs.io.maintenance import MIN_SMALL_FILES, check_retention, maintain_table
from jobs.io.query import run_query
from jobs.steps.maintain import maintain

pytestmark = pytest.mark.spark

RESOURCE = "market_entities"
BATCHES = MIN_SMALL_FILES + 2


def small_appends(path: str, batches: int = BATCHES) -> None:
    """Many small commits of one file each, as daily batches leave them (delta-rs: milliseconds each)."""
    from deltalake import write_deltalake

    for n in range(batches):
        ids = range(n * 10, n * 10 + 10)
        write_deltalake(path, pa.table({"credit_code": [str(i) for i in ids],
                                        "status": ["存续" if i % 3 == 0 else "在业" for i in ids],
                                        "batch": pa.array([n] * 10, pa.int32())}), mode="append")


def spark_append(spark, path: str, txn: str, first: int) -> None:
    frame = spark.range(first, first + 10, numPartitions=1).select(
        F.col("id").cast("string").alias("credit_code"), F.lit("在业").alias("status"), F.lit(99).alias("batch"))
    delta.append_once(frame, path, txn_app_id=txn)


def content(spark, path: str) -> list[tuple]:
    return sorted(tuple(r) for r in delta.read(spark, path).collect())


@pytest.fixture(scope="module")
def small_files_lake(tmp_path_factory, spark, settings_for):
    """Built once: silver (with its change feed, as validate makes it) and bronze market-entity tables made by
    Spark, each then holding many small files, and an ops ledger of many appends."""
    settings = settings_for(tmp_path_factory.mktemp("maintenance") / "home")
    schema = spark.range(0).select(F.lit("").alias("credit_code"), F.lit("").alias("status"),
                                   F.lit(0).alias("batch")).schema
    for zone in ("bronze", "silver"):
        path = settings.table_path(zone, RESOURCE)
        # made by Spark as the steps make them (silver with its change feed), then many small appends
        silver_properties = {"delta.enableChangeDataFeed": "true", "delta.checkpointInterval": "1"}
        delta.ensure_table(spark, path, schema, properties=silver_properties if zone == "silver" else None)
        small_appends(path)
    # and a last append by Spark, which checkpoints silver (interval 1) with Hadoop's checksum sidecars
    spark_append(spark, settings.table_path("silver", RESOURCE), "last", 5000)
    for n in range(BATCHES):
        ops.record(spark, settings, "ledger", [ops.LedgerEntry(
            resource=RESOURCE, batch_id=f"b{n}", step="ingest", source_file=f"f{n}.csv", rows_read=10,
            rows_bronze=10, rows_accepted=0, rows_quarantined=0, rows_warned=0, rows_published=0, status="ok",
            detail="", recorded_at=datetime(2026, 11, 26, 9, n))], once=f"b{n}")
    return settings


@pytest.fixture
def small_lake(small_files_lake, tmp_path):
    """A copy of that lake of its own for each test (maintenance changes it), retention 0."""
    home = tmp_path / "home"
    shutil.copytree(small_files_lake.lake, home / "lake")
    return replace(small_files_lake, home=home, time_travel_days=0, vacuum_retain_hours=0)


def test_a_resource_is_compacted_vacuumed_and_checkpointed_and_spark_still_reads_and_writes_it(small_lake, spark):
    settings = small_lake
    silver = settings.table_path("silver", RESOURCE)
    before, rows = delta.version(spark, silver), content(spark, silver)
    report = {r["table"]: r for r in maintain(RESOURCE, settings=settings)}
    assert set(report) == {f"bronze.{RESOURCE}", f"silver.{RESOURCE}"}  # the zones the lake holds
    done = report[f"silver.{RESOURCE}"]
    assert done["compacted"] and (done["files_before"], done["files_after"]) == (BATCHES + 1, 1), done
    assert done["files_vacuumed"] == BATCHES + 1  # retention 0: the replaced files go at once
    assert done["checkpoint"] == done["version_after"] > before  # OPTIMIZE (and VACUUM) commits, then a checkpoint
    on_disk = [p for p in (settings.lake / "silver" / RESOURCE).glob("*.parquet")]
    assert len(on_disk) == 1, on_disk
    log = settings.lake / "silver" / RESOURCE / "_delta_log"
    assert list(log.glob("*.checkpoint.parquet"))
    # no checksum sidecar Spark would find stale (delta-rs rewrote _last_checkpoint), none of a deleted file
    assert not (log / "._last_checkpoint.crc").exists()
    assert all(c.with_name(c.name[1:-4]).exists() for c in (settings.lake / "silver" / RESOURCE).rglob(".*.crc"))
    assert content(spark, silver) == rows  # same rows, one file
    # Spark appends on top of delta-rs' compaction and checkpoint
    spark_append(spark, silver, "after-maintenance", 1000)
    assert delta.read(spark, silver).count() == len(rows) + 10
    # a version whose files were vacuumed no longer reads, and says so
    with pytest.raises(QueryError, match=f"silver.{RESOURCE} cannot be read as of 1: its commit was removed with "
                                         "the files it named"):
        run_query(f"SELECT count(*) FROM silver.{RESOURCE}", settings, as_of=1, out=io.StringIO())


def test_within_the_window_old_versions_stay_readable(small_lake, spark):
    settings = replace(small_lake, time_travel_days=7, vacuum_retain_hours=168)
    done = {r["table"]: r for r in maintain(f"silver.{RESOURCE}", settings=settings)}[f"silver.{RESOURCE}"]
    assert done["compacted"] and done["files_vacuumed"] == 0
    out = io.StringIO()
    run_query(f"SELECT count(*) AS n FROM silver.{RESOURCE}", settings, as_of=1, output="csv", out=out)
    assert out.getvalue().splitlines() == ["n", "10"]


def test_z_order_by_the_cluster_columns(small_lake, spark):
    # a week's retention: the log keeps the commits this test reads (retention 0 would clean them up at once)
    settings = replace(small_lake, time_travel_days=7, vacuum_retain_hours=168)
    table = LakeTable("bronze", RESOURCE, settings.table_path("bronze", RESOURCE))
    done = maintain_table(table, settings, z_order=["status"])
    assert done.compacted and done.files_after == 1
    operations = [h["operation"] for h in DeltaTable(table.location).history()]
    assert "OPTIMIZE" in operations and "SET TBLPROPERTIES" in operations, operations


def test_ops_tables_are_compacted_and_still_read(small_lake, spark):
    settings = small_lake
    ledger = settings.table_path("ops", "ledger")
    before = sorted(r["batch_id"] for r in ops.rows(settings, "ledger", ("batch_id",), resource=RESOURCE))
    done = {r["table"]: r for r in maintain("ops", settings=settings)}
    assert done["ops.ledger"]["compacted"] and done["ops.ledger"]["files_after"] == 1, done
    assert sorted(r["batch_id"] for r in ops.rows(settings, "ledger", ("batch_id",), resource=RESOURCE)) == before
    assert ops.read(spark, settings, "ledger", RESOURCE).count() == BATCHES  # Spark reads the checkpoint too
    assert len(DeltaTable(ledger).file_uris()) == 1


def test_a_retention_below_the_window_is_refused_and_nothing_changes(small_lake, spark):
    settings = replace(small_lake, time_travel_days=7, vacuum_retain_hours=24)
    silver = settings.table_path("silver", RESOURCE)
    before = delta.version(spark, silver)
    with pytest.raises(ConfigurationError, match="shorter than the time-travel window"):
        maintain(RESOURCE, settings=settings)
    assert delta.version(spark, silver) == before
    with pytest.raises(ConfigurationError, match="longer than the 30 days"):
        check_retention(replace(settings, time_travel_days=60, vacuum_retain_hours=24 * 60))
    with pytest.raises(QueryError, match="unknown table silver.nothing"):
        maintain("silver.nothing", settings=small_lake)
