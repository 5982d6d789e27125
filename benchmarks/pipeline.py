"""`make bench ROWS=N`: bare Spark CSV -> Delta against citylake's four steps, on the same export.

Both run in one SparkSession (started, and warmed up on a small file, before anything is timed), so
the ratio compares work, not JVM starts. Prints the time of every step and the ratio b / a.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path

from jobs.catalog import load_catalog
from jobs.io.landing import LocalLanding
from jobs.io.spark import get_spark
from jobs.sample.generator import write_export
from jobs.settings import load_settings
from jobs.steps import conform, ingest, publish, validate

from .peer import run_peer

RESOURCE = "citizen_appeals"
DAY = date(2026, 11, 26)


def bare_spark(spark, csv_path: Path, target: Path) -> int:  # noqa: ANN001
    """What a hand-written job does: read the CSV as strings, write a Delta table.

    Spark 4 accepts GB18030 only with the legacy Java-charset switch (and then decodes leniently).
    """
    spark.conf.set("spark.sql.legacy.javaCharsets", "true")
    reader = spark.read.option("header", "true").option("encoding", "GB18030").option("multiLine", "true")
    df = reader.csv(str(csv_path))
    df.write.format("delta").mode("overwrite").save(str(target))
    return spark.read.format("delta").load(str(target)).count()


def bare_checks(df, n: int, key: str) -> int:  # noqa: ANN001
    """One hand-written pass with `n` rules: the key's uniqueness (the suite checks it too) and `n - 1`
    null / length / membership checks, in a single aggregation."""
    from pyspark.sql import functions as F

    string_cols = [f.name for f in df.schema.fields if f.dataType.simpleString() == "string"]
    checks = [F.count_distinct(F.col(key)).alias("unique_key")]
    for k in range(n - 1):
        c = F.col(string_cols[k % len(string_cols)])
        kind = (k // len(string_cols)) % 3
        pred = c.isNull() if kind == 0 else (F.char_length(c) > 18) if kind == 1 else ~c.startswith("GD")
        checks.append(F.count_if(pred).alias(f"c{k}"))
    return len(df.agg(*checks).collect()[0])


def validation_ratio(spark, settings, res, work: Path, repeat: int = 3) -> None:  # noqa: ANN001
    """The validate step's engine against one bare pass with 30 rules, on the same cached batch.

    Each side runs once to warm up (JIT, GX templates), then `repeat` times; the medians are compared.
    """
    from statistics import median

    from jobs.catalog.suite import suite_path
    from jobs.io import delta
    from jobs.io.quality import load_suite_file, validate_dataframe

    batch = delta.read(spark, settings.table_path("silver", res.name)).cache()
    rows = batch.count()
    document = load_suite_file(suite_path(settings.expectations_dir, res))
    key = res.primary_key[0]
    bare, ours = [], []
    for k in range(repeat + 1):
        bare_s, _ = timed(bare_checks, batch, 30, key)
        gx_s, result = timed(validate_dataframe, batch, document, ops_dir=work / "bench-gx", run_name=f"bench-{k}")
        if k:
            bare.append(bare_s)
            ours.append(gx_s)
    bare_s, gx_s = median(bare), median(ours)
    print(f"\nvalidation on {rows:,} cached silver rows (median of {repeat} after a warm-up run):")
    print(f"(c) bare Spark, 30 rules in one aggregation: {bare_s:6.2f} s")
    print(f"(d) citylake validation through the GX checkpoint, {len(result.outcomes)} expectations, results stored, "
          f"Data Docs and history page updated: {gx_s:6.2f} s")
    print(f"ratio d/c = {gx_s / bare_s:.2f}")
    batch.unpersist()


def driver_peak_rss_mb() -> tuple[float, float]:
    """Peak resident memory of this Python process and of the driver JVM it started (its child, VmHWM)."""
    import os
    import resource

    python_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    jvm_mb = 0.0
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":", 1) for line in status.read_text().splitlines() if ":" in line)
        except OSError:
            continue
        if fields.get("PPid", "").strip() == str(os.getpid()) and fields.get("Name", "").strip() == "java":
            jvm_mb = max(jvm_mb, int(fields.get("VmHWM", "0 kB").split()[0]) / 1024)
    return python_mb, jvm_mb


def timed(fn, *args, **kwargs):  # noqa: ANN001, ANN201
    started = time.perf_counter()
    result = fn(*args, **kwargs)
    return time.perf_counter() - started, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--keep", action="store_true", help="keep the benchmark lake")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="citylake-bench-"))
    settings = replace(load_settings(), home=work / "home")
    res = load_catalog(settings.catalog_dirs).resource(RESOURCE)
    print(f"generating {args.rows:,} rows ...", flush=True)
    gen_s, export = timed(write_export, res, work / "source", day=DAY, rows=args.rows)
    size_mb = export.path.stat().st_size / 1e6
    print(f"export: {export.path.name}, {size_mb:.1f} MB, {len(export.defects)} defective rows ({gen_s:.1f} s)")

    start_s, spark = timed(get_spark, settings, "citylake-bench")
    warm = write_export(res, work / "warm", day=DAY, rows=2000)
    bare_spark(spark, warm.path, work / "warm-delta")
    print(f"spark session start: {start_s:.1f} s (not counted below)\n", flush=True)

    bare_s, bare_rows = timed(bare_spark, spark, export.path, work / "bare-delta")
    print(f"(a) bare Spark read.csv -> write delta: {bare_s:7.1f} s  ({bare_rows:,} rows)", flush=True)

    LocalLanding(settings.landing).deliver(export.path, res)
    now = datetime.now().replace(microsecond=0)
    steps = {}
    for name, fn in (("ingest", ingest), ("conform", conform), ("validate", validate), ("publish", publish)):
        steps[name], _ = timed(fn, RESOURCE, settings=settings, now=now)
        print(f"    citylake {name:9} {steps[name]:7.1f} s", flush=True)
    total = sum(steps.values())
    print(f"(b) citylake ingest + conform + validate + publish: {total:7.1f} s")
    print(f"ratio b/a = {total / bare_s:.2f}  (rows={args.rows:,}, {size_mb:.0f} MB, {spark.sparkContext.master})")
    print("step ratios: " + ", ".join(f"{name} {seconds / bare_s:.2f}" for name, seconds in steps.items()))
    python_mb, jvm_mb = driver_peak_rss_mb()
    print(f"driver peak RSS: {python_mb + jvm_mb:.0f} MB (Python {python_mb:.0f} MB + driver JVM {jvm_mb:.0f} MB)")
    peer = run_peer(res, export.path, work / "peer")
    peer_s = sum(peer.seconds.values())
    print(f"peer: the same four steps with DuckDB + delta-rs: {peer_s:.1f} s (citylake/peer = {total / peer_s:.2f})")
    print("    peer " + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in peer.seconds.items())
          + f"; {peer.rows_accepted:,} rows accepted, {peer.rows_quarantined:,} quarantined"
          + " (benchmarks/peer.py: what it does and does not do)")
    validation_ratio(spark, settings, res, work)
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
