"""`make bench-bigfile GB=N`: a multi-GB export ingested in bounded Python memory.

Writes an N-GB GB18030 export of the 12345 appeals (a seeded block of rows repeated with fresh appeal
ids, streamed to disk), then ingests it into bronze and prints the time, the throughput and the peak
resident memory of the Python process (the JVM is a separate process), next to bare Spark reading the
same file into Delta in the same session. The peak stays flat as the file grows: the export is decoded
and parsed in 1 MiB chunks and staged as 100,000-row Parquet groups that Spark reads.
"""

from __future__ import annotations

import argparse
import csv
import resource
import shutil
import tempfile
from datetime import date, datetime
from pathlib import Path

from benchmarks.pipeline import bare_spark, timed
from jobs.catalog import load_catalog
from jobs.catalog.drift import label_of
from jobs.io.decoding import codec_for
from jobs.io.landing import LocalLanding
from jobs.io.spark import get_spark
from jobs.sample.generator import generate
from jobs.settings import load_settings
from jobs.steps import ingest

RESOURCE = "citizen_appeals"
DAY = date(2026, 11, 26)
BLOCK_ROWS = 50_000


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def write_big_export(res, folder: Path, target_bytes: int) -> tuple[Path, int]:  # noqa: ANN001
    """Stream rows to disk until the file reaches `target_bytes`; returns the path and the row count."""
    block, _ = generate(res, day=DAY, rows=BLOCK_ROWS, seed=7)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{res.name}_{DAY:%Y%m%d}.csv"
    rows = 0
    with path.open("w", encoding=codec_for(res.source.encoding), newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow([label_of(i, res) for i in res.items])
        while fh.tell() < target_bytes:
            for row in block:
                values = dict(row, appeal_id=f"GD{DAY:%Y%m%d}{rows % 100_000_000:08d}")
                writer.writerow([values[i.name] for i in res.items])
                rows += 1
    return path, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--gb", type=float, default=2.0, help="size of the export in GB")
    parser.add_argument("--skip-bare", action="store_true", help="do not time bare Spark on the same file")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="citylake-bigfile-"))
    try:
        settings = load_settings().with_home(work / "home")
        res = load_catalog(settings.catalog_dirs).resource(RESOURCE)
        print(f"writing a {args.gb:g} GB export ...", flush=True)
        gen_s, (path, rows) = timed(write_big_export, res, work / "source", int(args.gb * 1e9))
        size_mb = path.stat().st_size / 1e6
        print(f"export: {size_mb:,.0f} MB, {rows:,} rows ({gen_s:.0f} s); Python peak RSS so far "
              f"{peak_rss_mb():,.0f} MB", flush=True)

        spark = get_spark(settings, "citylake-bigfile")
        before = peak_rss_mb()
        LocalLanding(settings.landing).deliver(path, res)
        ingest_s, out = timed(ingest, RESOURCE, settings=settings, now=datetime.now().replace(microsecond=0))
        peak = peak_rss_mb()
        print(f"citylake ingest: {ingest_s:,.1f} s, {size_mb / ingest_s:,.1f} MB/s, {out[0]['rows_read']:,} rows "
              f"({out[0]['status']})")
        print(f"Python peak RSS: {before:,.0f} MB before ingest, {peak:,.0f} MB after "
              f"= {peak / size_mb:.2%} of the file size")
        if not args.skip_bare:
            bare_s, bare_rows = timed(bare_spark, spark, path, work / "bare-delta")
            print(f"bare Spark read.csv -> Delta: {bare_s:,.1f} s ({bare_rows:,} rows); ratio ingest/bare = "
                  f"{ingest_s / bare_s:.2f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
