"""`make bench-maintenance BATCHES=N`: what N small daily batches cost readers and MERGE, before and after
`citylake maintain`.

Appends N small batches (ROWS rows each, as a department's daily export of changes would be) to a
silver-shaped Delta table by Spark, then times, in the same Spark session: a typical analyst query (a
filtered group-by), and a MERGE of one more batch (half updates, half inserts) on a copy, both before and
after `jobs.io.maintenance.maintain_table` (compaction Z-ordered by the filter column, VACUUM at retention
0 on this scratch table, a checkpoint). Prints the file count, the commits a reader replays after the last
checkpoint, both timings and the maintenance's own time. A benchmark, not a test: nothing asserts a time.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.io import delta
from jobs.io.lake_tables import LakeTable
from jobs.io.maintenance import maintain_table
from jobs.io.spark import get_spark
from jobs.settings import load_settings

DISTRICTS = 22


def batch(spark: SparkSession, n: int, rows: int, *, first_key: int) -> DataFrame:
    return spark.range(first_key, first_key + rows, numPartitions=1).select(
        F.format_string("91510100%010d", F.col("id")).alias("credit_code"),
        F.concat(F.lit("成都"), F.col("id").cast("string"), F.lit("有限公司")).alias("entity_name"),
        F.format_string("5101%02d", (F.col("id") % DISTRICTS) + 1).alias("district_code"),
        F.when(F.col("id") % 7 == 0, "注销").otherwise("存续").alias("status"),
        (F.col("id") % 100000).cast("decimal(18,2)").alias("registered_capital"),
        F.lit(f"b{n}").alias("_batch_id"),
        F.current_timestamp().alias("_ingested_at"))


def query_seconds(spark: SparkSession, path: str) -> float:
    started = time.perf_counter()
    (delta.read(spark, path).where(F.col("district_code") == "510104").groupBy("status")
     .agg(F.count("*"), F.sum("registered_capital")).collect())
    return time.perf_counter() - started


def merge_seconds(spark: SparkSession, path: str, scratch: Path, rows: int, total: int) -> float:
    """A MERGE of one batch into a copy of the table (half of it updates of existing keys)."""
    copy = scratch / f"merge-{time.monotonic_ns()}"
    shutil.copytree(path, copy)
    source = batch(spark, 10_000, rows, first_key=total - rows // 2)
    started = time.perf_counter()
    delta.upsert(spark, source, str(copy), keys=["credit_code"])
    seconds = time.perf_counter() - started
    shutil.rmtree(copy)
    return seconds


def measure(spark: SparkSession, path: str, scratch: Path, rows: int, total: int) -> dict[str, float]:
    query_seconds(spark, path)  # warm: the first job of a plan shape pays for code generation
    log = Path(path, "_delta_log")
    commits = sorted(int(p.stem) for p in log.glob("*.json"))
    last = log / "_last_checkpoint"
    checkpointed = json.loads(last.read_text())["version"] if last.exists() else -1
    return {"files": len([p for p in Path(path).rglob("*.parquet") if "_delta_log" not in p.parts]),
            "replayed": len([c for c in commits if c > checkpointed]),
            "query_s": min(query_seconds(spark, path) for _ in range(3)),
            "merge_s": merge_seconds(spark, path, scratch, rows, total)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batches", type=int, default=200, help="small batches appended")
    parser.add_argument("--rows", type=int, default=500, help="rows per batch")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="citylake-bench-maintenance-"))
    settings = replace(load_settings(), home=scratch / "home", time_travel_days=0, vacuum_retain_hours=0)
    spark = get_spark(settings, app_name="citylake-bench-maintenance")
    path = settings.table_path("silver", "bench_entities")
    try:
        started = time.perf_counter()
        for n in range(args.batches):
            delta.append_once(batch(spark, n, args.rows, first_key=n * args.rows), path, txn_app_id=f"bench:{n}")
        appended = time.perf_counter() - started
        total = args.batches * args.rows
        before = measure(spark, path, scratch, args.rows, total)
        done = maintain_table(LakeTable("silver", "bench_entities", path), settings, z_order=["district_code"])
        after = measure(spark, path, scratch, args.rows, total)
        print(f"{args.batches} batches x {args.rows} rows appended by Spark in {appended:.1f} s "
              f"({total:,} rows)")
        print(f"maintain (delta-rs: Z-order by district_code, vacuum, checkpoint): {done.seconds:.1f} s; "
              f"{done.files_before} -> {done.files_after} files, {done.files_vacuumed} vacuumed")
        print(f"{'':24}{'before':>10}{'after':>10}")
        print(f"{'data files':24}{before['files']:>10.0f}{after['files']:>10.0f}")
        print(f"{'commits after checkpoint':24}{before['replayed']:>10.0f}{after['replayed']:>10.0f}")
        print(f"{'query (s, best of 3)':24}{before['query_s']:>10.2f}{after['query_s']:>10.2f}")
        print(f"{'MERGE of a batch (s)':24}{before['merge_s']:>10.2f}{after['merge_s']:>10.2f}")
    finally:
        spark.stop()
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
