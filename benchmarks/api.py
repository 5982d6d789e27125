"""`python -m benchmarks.api --requests 2000 --concurrency 16`: load test of the CKAN-compatible API.

Builds a temporary public zone without Spark (a 200,000-row Delta table written with deltalake, plus a
catalog of 50 datasets so package_search has something to rank), starts the API in its own process
(uvicorn on loopback, as `jobs.publish.ckan.serve` runs it, so clients and server do not share a GIL),
then fires the requests from `--concurrency` threads, each with its own keep-alive httpx client, at a mix
of package_search, package_show and datastore_search (filters, offsets, sort, q, fields; GET and POST).

Prints requests/s and p50/p95/p99 latency overall and per action, errors (non-2xx or a ``success``
other than true), the first datastore_search (which opens the table) separately, the CPU time the server
and the load generator used (they share the machine) and the server's peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pyarrow as pa

BASE_URL = "http://127.0.0.1/open/"
BIG = "bus_ridership"
DISTRICTS = ["天河区", "越秀区", "海珠区", "白云区", "番禺区", "黄埔区", "花都区", "南沙区", "从化区", "增城区",
             "荔湾区"]
TOPICS = [("公交", "交通出行"), ("地铁", "交通出行"), ("空气质量", "生态环境"), ("水质", "生态环境"),
          ("学校", "教育科技"), ("医院", "医疗卫生"), ("企业登记", "经济建设"), ("停车场", "交通出行")]


# ---------------------------------------------------------------------------------------------- the zone


def big_table(rows: int, seed: int = 7) -> pa.Table:
    """Per-line hourly ridership: Chinese text, int64, decimal(12,2), double, UTC timestamps, dates."""
    rng = random.Random(seed)
    passengers = [rng.randrange(50, 6000) for _ in range(rows)]
    start = datetime(2026, 1, 1, tzinfo=UTC)
    return pa.table({
        "line_name": pa.array([f"快速公交B{i % 9}" if i % 10 == 0 else f"{i % 300 + 1}路" for i in range(rows)]),
        "district": pa.array([DISTRICTS[rng.randrange(len(DISTRICTS))] for _ in range(rows)]),
        "passengers": pa.array(passengers, pa.int64()),
        "fare_income": pa.array([Decimal(p * 2) + Decimal("0.50") for p in passengers], pa.decimal128(12, 2)),
        "load_factor": pa.array([rng.random() for _ in range(rows)], pa.float64()),
        "recorded_at": pa.array([start + timedelta(minutes=7 * i) for i in range(rows)], pa.timestamp("us", tz="UTC")),
        "service_day": pa.array([date(2026, 1, 1) + timedelta(days=(7 * i) // 1440) for i in range(rows)],
                                pa.date32()),
    })


def build_zone(root: Path, rows: int, datasets: int) -> list[str]:
    """Write the Delta table and catalog.json; returns the dataset names."""
    from deltalake import write_deltalake

    from jobs.publish import layout
    from jobs.publish.records import MEDIA_TYPES, Distribution, FieldInfo, OpenDataset, Publisher, to_json

    table_path = root / "lake" / BIG
    write_deltalake(str(table_path), big_table(rows), mode="overwrite")
    fields = tuple(FieldInfo(n, t, k) for n, t, k in [
        ("line_name", "线路名称", "string"), ("district", "行政区", "string"), ("passengers", "客流量", "bigint"),
        ("fare_income", "票款收入", "decimal(12,2)"), ("load_factor", "满载率", "double"),
        ("recorded_at", "统计时间", "timestamp"), ("service_day", "运营日期", "date")])
    publishers = [Publisher(key=f"dept{i:02d}", code=f"1144010000000{i:04d}", name=f"市第{i}委办局",
                            name_en=f"Department {i}") for i in range(12)]
    records = []
    for i in range(datasets):
        topic, theme = TOPICS[i % len(TOPICS)]
        name = BIG if i == 0 else f"dataset_{i:03d}"
        code = f"440100/{i:05d}"
        dists = tuple(Distribution(fmt, MEDIA_TYPES[fmt], f"{code.replace('/', '_')}.{fmt.lower()}",
                                   layout.version_file(name, 1, code, datetime(2026, 11, 26), fmt),
                                   layout.latest_file(name, code, fmt), 1000 + i, "0" * 64, rows)
                      for fmt in ("CSV", "JSON", "Parquet", "XLSX"))
        records.append(OpenDataset(
            name=name, code=code, title=f"{topic}数据集{i}", title_en=f"Dataset {i} about {topic}",
            summary=f"{topic}相关的开放数据，第{i}号，按行政区统计。", publisher=publishers[i % len(publishers)],
            theme=theme, open_type="无条件开放", update_cycle="daily", update_cycle_zh="每日", kind="detail",
            source=name, issued=f"2026-{i % 12 + 1:02d}-01", modified=f"2026-11-{i % 28 + 1:02d}T02:00:00+00:00",
            version=1, rows=rows, fields=fields, distributions=dists, keywords=(topic, theme)))
    (root / "open").mkdir(parents=True, exist_ok=True)
    (root / "open" / layout.CATALOG_JSON).write_text(to_json(records), encoding="utf-8")
    return [r.name for r in records]


# ---------------------------------------------------------------------------------------------- server


def serve_zone(zone: Path, port: int) -> None:
    """The server process: the API on the zone, as `serve` runs it."""
    import uvicorn

    from jobs.io.objects import LocalStore
    from jobs.publish.ckan import create_app

    app = create_app(LocalStore(zone), base_url=BASE_URL, tables_root=str(zone.parent / "lake"))
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(url: str, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the API server exited with {process.returncode}")
        try:
            if httpx.get(f"{url}/api/3/action/status_show", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"the API server did not answer within {timeout:.0f} s")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process `pid` so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


# ---------------------------------------------------------------------------------------------- load


def make_request(rng: random.Random, names: list[str], rows: int) -> tuple[str, str, str, dict[str, Any]]:
    """(kind, method, action, params) of one request of the mix: 25% search, 15% show, 60% datastore."""
    roll = rng.random()
    if roll < 0.25:
        params: dict[str, Any] = {"q": rng.choice(["公交", "空气质量", "数据集1", "district", ""]), "rows": 10}
        if rng.random() < 0.4:
            params["fq"] = f"organization:dept{rng.randrange(12):02d}"
        if rng.random() < 0.3:
            params["sort"] = rng.choice(["metadata_modified desc", "title asc", "name asc"])
        return "package_search", rng.choice(["GET", "POST"]), "package_search", params
    if roll < 0.40:
        name = rng.choice(names)
        return "package_show", rng.choice(["GET", "POST"]), "package_show", {"id": name}
    params = {"resource_id": BIG, "limit": rng.choice([10, 100, 100, 500]),
              "offset": rng.randrange(0, min(rows, 5000))}
    shape = rng.random()
    if shape < 0.45:
        params["filters"] = {"district": rng.choice(DISTRICTS)}
    elif shape < 0.6:
        params["filters"] = {"district": rng.choice(DISTRICTS), "line_name": f"{rng.randrange(1, 301)}路"}
        params["offset"] = 0
    elif shape < 0.75:
        params["sort"] = "passengers desc"
    elif shape < 0.85:
        params["q"] = rng.choice(["快速公交", "天河", "B3"])
    else:
        params["fields"] = "line_name,passengers,recorded_at"
    kind = "datastore_search" + ("+sort" if "sort" in params else "")
    return kind, rng.choice(["GET", "POST"]), "datastore_search", params


def call(client: httpx.Client, method: str, action: str, params: dict[str, Any]) -> tuple[float, bool]:
    path = f"/api/3/action/{action}"
    started = time.perf_counter()
    if method == "GET":
        query = {k: json.dumps(v, ensure_ascii=False) if isinstance(v, dict) else v for k, v in params.items()}
        response = client.get(path, params=query)
    else:
        response = client.post(path, json=params)
    elapsed = time.perf_counter() - started
    ok = response.status_code == 200 and response.json().get("success") is True
    return elapsed, ok


def percentile(sorted_values: list[float], p: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(p / 100 * len(sorted_values) + 0.5) - 1))
    return sorted_values[index]


def report(label: str, latencies: list[float], errors: int, seconds: float | None = None) -> str:
    ms = sorted(x * 1000 for x in latencies)
    rate = f"{len(ms) / seconds:8.1f} req/s  " if seconds else " " * 16
    return (f"{label:<24} {len(ms):6d} req  {rate}p50 {percentile(ms, 50):7.1f} ms  p95 {percentile(ms, 95):7.1f} ms"
            f"  p99 {percentile(ms, 99):7.1f} ms  errors {errors}")


def load(url: str, names: list[str], rows: int, requests: int, concurrency: int, seed: int
         ) -> tuple[float, dict[str, list[float]], dict[str, int], list[str]]:
    rng = random.Random(seed)
    plan = [make_request(rng, names, rows) for _ in range(requests)]
    latencies: dict[str, list[float]] = defaultdict(list)
    errors: dict[str, int] = defaultdict(int)
    failures: list[str] = []
    lock, local = threading.Lock(), threading.local()
    clients: list[httpx.Client] = []

    def one(item: tuple[str, str, str, dict[str, Any]]) -> None:
        if not hasattr(local, "client"):
            local.client = httpx.Client(base_url=url, timeout=60)
            with lock:
                clients.append(local.client)
        kind, method, action, params = item
        try:
            elapsed, ok = call(local.client, method, action, params)
        except httpx.HTTPError as exc:
            elapsed, ok = 0.0, False
            with lock:
                failures.append(f"{action}: {exc!r}")
        with lock:
            latencies[kind].append(elapsed)
            if not ok:
                errors[kind] += 1

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(one, plan))
    seconds = time.perf_counter() - started
    for client in clients:
        client.close()
    return seconds, latencies, errors, failures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rows", type=int, default=200_000, help="rows of the datastore table")
    parser.add_argument("--datasets", type=int, default=50, help="records in catalog.json")
    parser.add_argument("--seed", type=int, default=20261127)
    parser.add_argument("--serve-zone", type=Path, help=argparse.SUPPRESS)  # the server subprocess
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_zone:
        serve_zone(args.serve_zone, args.port)
        return

    work = Path(tempfile.mkdtemp(prefix="citylake-api-bench-"))
    process: subprocess.Popen[bytes] | None = None
    try:
        built = time.perf_counter()
        names = build_zone(work, args.rows, args.datasets)
        print(f"zone: {args.rows:,}-row Delta table, {len(names)} datasets ({time.perf_counter() - built:.1f} s)")
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        process = subprocess.Popen([sys.executable, "-m", "benchmarks.api", "--serve-zone", str(work / "open"),
                                    "--port", str(port)], cwd=Path(__file__).resolve().parent.parent)
        wait_ready(url, process)
        with httpx.Client(base_url=url, timeout=120) as client:
            first, ok = call(client, "GET", "datastore_search", {"resource_id": BIG, "limit": 1})
            print(f"first datastore_search (opens the table, loads it into memory): {first * 1000:.0f} ms"
                  f"{'' if ok else ' (FAILED)'}")
        server_cpu, client_cpu = cpu_seconds(process.pid), time.process_time()
        seconds, latencies, errors, failures = load(url, names, args.rows, args.requests, args.concurrency,
                                                    args.seed)
        server_cpu, client_cpu = cpu_seconds(process.pid) - server_cpu, time.process_time() - client_cpu
        every = [x for values in latencies.values() for x in values]
        print(f"\n{args.requests} requests, concurrency {args.concurrency}, {seconds:.2f} s on {os.cpu_count()} cores")
        print(report("all", every, sum(errors.values()), seconds))
        for kind in sorted(latencies):
            print(report(kind, latencies[kind], errors.get(kind, 0)))
        for failure in failures[:5]:
            print(f"  transport error: {failure}")
        print(f"CPU during the run: server {server_cpu:.1f} s ({server_cpu / args.requests * 1000:.1f} ms/request), "
              f"load generator {client_cpu:.1f} s, of {seconds * (os.cpu_count() or 1):.1f} core-seconds")
        rss = peak_rss_mb(process.pid)
        if rss is not None:
            print(f"server peak RSS: {rss:,.0f} MB")
    finally:
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
