"""The shared ops tables take appends from many writers at once, exactly once each, on S3 and on disk."""

from __future__ import annotations

import multiprocessing
from dataclasses import asdict, replace
from datetime import datetime

import pytest
from deltalake import DeltaTable

from jobs.io import deltars, ops
from jobs.io.ops import LedgerEntry, arrow_schema_of
from jobs.settings import Settings

pytestmark = pytest.mark.spark

WRITERS, APPENDS = 4, 3


def entry(resource: str, batch: str, at: datetime) -> LedgerEntry:
    return LedgerEntry(resource=resource, batch_id=batch, step="ingest", source_file=f"{resource}/{batch}.csv",
                       rows_read=10, rows_bronze=10, rows_accepted=0, rows_quarantined=0, rows_warned=0,
                       rows_published=0, status="ok", detail="", recorded_at=at)


def _writer(settings: Settings, location: str, writer: int) -> int:
    written = 0
    for i in range(APPENDS):
        row = asdict(entry(f"res{writer}", f"b{i}", datetime(2026, 11, 27, 10, writer, i)))
        written += deltars.append_once([row], arrow_schema_of(LedgerEntry), location, settings,
                                       txn_app_id=f"ledger:res{writer}:b{i}")
    return written


def test_concurrent_appenders_on_s3_all_land_once(s3_server, tmp_path):
    bucket = "ops-concurrency"
    s3_server.client().create_bucket(Bucket=bucket)
    settings = Settings(home=tmp_path, lake_location=f"s3a://{bucket}/lake", s3_endpoint=s3_server.endpoint_url,
                        s3_access_key=s3_server.access_key, s3_secret_key=s3_server.secret_key)
    location = settings.table_path("ops", "ledger")
    with multiprocessing.get_context("spawn").Pool(WRITERS) as pool:
        written = pool.starmap(_writer, [(settings, location, w) for w in range(WRITERS)])
    assert written == [APPENDS] * WRITERS
    # a retried task writes the same transaction ids again: nothing is added
    assert _writer(settings, location, 0) == 0
    table = DeltaTable(deltars.table_uri(location), storage_options=deltars.storage_options(settings))
    rows = table.to_pyarrow_table().to_pylist()
    assert len(rows) == WRITERS * APPENDS
    assert len({(r["resource"], r["batch_id"]) for r in rows}) == WRITERS * APPENDS
    assert table.version() == WRITERS * APPENDS - 1  # one commit per append, none lost, none doubled


def test_spark_reads_what_delta_rs_recorded_in_the_session_time_zone(lake, spark):
    at = datetime(2026, 11, 27, 9, 30, 5)  # naive: the driver's local time, as PySpark reads it back
    ops.record(spark, lake, "ledger", [entry("citizen_appeals", "b1", at)], once="b1:ingest")
    ops.record(spark, lake, "ledger", [entry("citizen_appeals", "b1", at)], once="b1:ingest")
    ops.record(spark, lake, "ledger", [replace(entry("citizen_appeals", "b2", at), rows_read=7)],
               once="b2:ingest")
    rows = ops.read(spark, lake, "ledger", "citizen_appeals").orderBy("batch_id").collect()
    assert [(r.batch_id, r.rows_read, r.recorded_at) for r in rows] == [("b1", 10, at), ("b2", 7, at)]
