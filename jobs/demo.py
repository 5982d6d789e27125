"""`make demo`: a day's sample exports of every department through their real Airflow DAGs, then the summary.

Airflow runs as a subprocess on SQLite metadata inside CITYLAKE_HOME: `airflow dags test` of every DAG, as a
data engineer would debug one, all of them in one Airflow process (`dags/dags_test_many.py`) so Airflow
starts once; its log goes to a file and its tail is shown if it fails.
"""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
import sys
import time
from contextlib import ExitStack
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

from jobs.catalog import load_catalog
from jobs.catalog.pools import pools_document
from jobs.errors import CitylakeError
from jobs.progress import progress
from jobs.progress import wanted as progress_wanted
from jobs.service.client import stop_servers
from jobs.settings import DAGS_DIR, Settings, airflow_environment
from jobs.steps.sample import deliver_samples

#: Every defect class appears at least once per export; with 600 rows they stay about 1 %, under the
#: catalog's error limits.
DEMO_MIN_ROWS = 600


#: The prefix of the progress lines `dags/dags_test_many.py` prints (it imports this name).
DAGS_TEST_MARK = "citylake-dags-test"


class DemoFailed(CitylakeError):
    """Raised when the demo's Airflow run fails; carries the log's location and tail."""


def _tail(log: Path, lines: int = 40) -> str:
    return "\n".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])


def run_airflow(settings: Settings, args: list[str], log: Path) -> None:
    """`airflow ARGS` in the embedded profile's environment, its output appended to `log`."""
    exe = Path(sys.executable).with_name("airflow")
    cmd = [str(exe) if exe.exists() else "airflow", *args]
    with log.open("a", encoding="utf-8") as fh:
        fh.write(f"\n$ {' '.join(cmd)}\n")
        fh.flush()
        proc = subprocess.run(cmd, env=airflow_environment(settings), stdout=fh, stderr=subprocess.STDOUT, check=False)
    if proc.returncode != 0:
        raise DemoFailed(f"`{' '.join(args)}` exited {proc.returncode}; full log in {log}\n{_tail(log)}")


def run_dags_test(settings: Settings, dag_ids: list[str], day: date, log: Path) -> None:
    """`airflow dags test` of each DAG in turn, in one Airflow process (`dags/dags_test_many.py`), printing how
    long each took; Airflow's own output goes to `log`. Raises DemoFailed at the first DAG that fails."""
    cmd = [sys.executable, str(DAGS_DIR / "dags_test_many.py"), day.isoformat(), *dag_ids]
    failed = ""
    with log.open("a", encoding="utf-8") as fh:
        fh.write(f"\n$ {' '.join(cmd)}\n")
        fh.flush()
        proc = subprocess.Popen(cmd, env=airflow_environment(settings), stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, encoding="utf-8", errors="replace")
        assert proc.stdout is not None
        running: ExitStack | None = None
        for line in proc.stdout:
            fh.write(line)
            mark, _, event = line.strip().partition(" ")
            if mark != DAGS_TEST_MARK:
                continue
            what, dag_id, *rest = event.split(" ")
            label = f"airflow: dags test {dag_id} {day.isoformat()} ..."
            if what == "start":
                if progress_wanted():  # a spinner with the elapsed time, replaced by the line when it ends
                    running = ExitStack()
                    running.enter_context(progress(label, transient=True))
                else:
                    print(label, end=" ", flush=True)
                continue
            if running is not None:
                running.close()
                running = None
                print(label, end=" ")
            if rest and rest[0] == "success":
                print(f"{rest[1]} s", flush=True)
            else:
                failed = dag_id
                print(f"failed after {rest[1] if len(rest) > 1 else '?'} s", flush=True)
        if running is not None:
            running.close()
        proc.wait()
    if proc.returncode != 0:
        what = f"`dags test {failed}`" if failed else f"`{' '.join(cmd)}`"
        raise DemoFailed(f"{what} exited {proc.returncode}; full log in {log}\n{_tail(log)}")


def run_demo(settings: Settings, *, day: date, scale: float = 0.02, fresh: bool = True) -> str:
    """Deliver a day's sample exports of every resource, run every department's DAG with `airflow dags
    test`, and return the summary (with the scorecard and the correction files)."""
    if fresh:
        for folder in (settings.landing, settings.lake, settings.open_files, settings.home / "restricted",
                       settings.home / "corrections"):
            shutil.rmtree(folder, ignore_errors=True)
    if not settings.pseudonym_key:
        # A throwaway key, handed to Airflow through the environment only: pseudonyms of this demo cannot be
        # linked to any other run's. Production sets CITYLAKE_PSEUDONYM_KEY or the connection citylake_pseudonym.
        settings = replace(settings, pseudonym_key=secrets.token_urlsafe(32))
        print("pseudonymisation: a throwaway key for this demo (set CITYLAKE_PSEUDONYM_KEY to keep one)")
    catalog = load_catalog(settings.catalog_dirs)
    resources = [r for _, r in sorted(catalog.resources.items())]
    for d in deliver_samples(resources, settings=settings, start_day=day, scale=scale, min_rows=DEMO_MIN_ROWS):
        print(f"sample export: {d.where} ({d.rows} rows, {d.defects} defective)")
    settings.airflow_home.mkdir(parents=True, exist_ok=True)
    log = settings.airflow_home / "demo.log"
    log.write_text("", encoding="utf-8")
    print("airflow: migrating the SQLite metadata database, creating the pools ...")
    run_airflow(settings, ["db", "migrate"], log)
    pools = settings.airflow_home / "pools.json"
    pools.write_text(json.dumps(pools_document(catalog), ensure_ascii=False, indent=2), encoding="utf-8")
    run_airflow(settings, ["pools", "import", str(pools)], log)
    # the publish DAG runs on the silver Assets the department's DAG emits; `dags test` has no scheduler to
    # follow Assets, so each publish DAG runs right after its department's DAG, as the scheduler would
    dag_ids = [dag_id for department in sorted({r.provider for r in resources})
               for dag_id in (f"citylake_{department}", f"citylake_{department}_publish")]
    try:
        run_dags_test(settings, dag_ids, day, log)
        # the next day: the registration system exports the entities whose status changed; silver keeps both
        # versions (history: scd2); then the night's maintenance
        changes = deliver_registration_changes(settings, catalog, day + timedelta(days=1))
        print(f"sample export: {changes} (registration changes of the next day)")
        run_dags_test(settings, [f"citylake_{CHANGES_DEPARTMENT}", f"citylake_{CHANGES_DEPARTMENT}_publish",
                                 "citylake_maintenance"], day + timedelta(days=1), log)
    finally:  # the tasks' step server (one Spark driver for every DAG run above) is not needed any more
        stop_servers(settings.home)

    from jobs.steps.catalog_table import sync_catalog_table
    from jobs.steps.quarantine import quarantine
    from jobs.steps.scorecard import scorecard
    from jobs.steps.summary import summary

    sync_catalog_table(settings=settings)
    scorecard(settings=settings)  # today's snapshot into ops.scorecard; the summary only reads
    text = summary([r.name for r in resources], settings=settings)
    corrections = [q.export for department in sorted({r.provider for r in resources})
                   for q in quarantine(department=department, export_dir=settings.home / "corrections",
                                       settings=settings) if q.export]
    return (text + "\n" + "\n".join(f"  correction file      {path}" for path in corrections)
            + "\n" + history_section(settings) + "\n" + _api_check(settings))


#: the demo's resource with history (history: scd2) and the change its second day's export makes
CHANGES_RESOURCE, CHANGES_DEPARTMENT, CHANGED_ENTITIES = "market_entities", "market_regulation", 20


def deliver_registration_changes(settings: Settings, catalog, day: date) -> str:  # noqa: ANN001
    """Write the next day's export of market entities: CHANGED_ENTITIES of those 存续 now 在业, approved that
    day, read from silver's current rows (delta-rs); returns where it went."""
    import pyarrow.compute as pc
    from deltalake import DeltaTable

    from jobs.io.deltars import table_uri
    from jobs.sample.changes import changed_records
    from jobs.sample.writers import write_csv

    res = catalog.resource(CHANGES_RESOURCE)
    silver = DeltaTable(table_uri(settings.table_path("silver", res.name))).to_pyarrow_table()
    current = silver.filter(pc.field("_is_current")).to_pylist()
    rows = changed_records(res, current, item="status", where="存续", to="在业", count=CHANGED_ENTITIES, day=day,
                           approved_item="approved_date")
    folder = settings.landing / res.provider / res.name
    path = folder / f"{res.name}_{day:%Y%m%d}.csv"
    write_csv(res, rows, path, day=day, seed=0)
    path.with_name(path.name + res.source.marker_suffix).touch()
    return f"{path} ({len(rows)} rows)"


def history_section(settings: Settings) -> str:
    """The versions of the history resource's silver table and one changed entity's history, as an analyst
    would ask for them (`citylake history`, `citylake sql`), both without a JVM."""
    import io

    from jobs.io.history import commits_arrow, table_history
    from jobs.io.query import lake_table, run_query, write_result

    out = io.StringIO()
    table = lake_table(settings, f"silver.{CHANGES_RESOURCE}")
    write_result(commits_arrow(table_history(table, settings, limit=3)).to_reader(), out, output="table", limit=3)
    out.write("one entity's registration history (history: scd2):\n")
    run_query(f"SELECT credit_code, status, approved_date, _valid_from, _valid_to, _is_current "
              f"FROM silver.{CHANGES_RESOURCE} WHERE credit_code = (SELECT min(credit_code) FROM "
              f"silver.{CHANGES_RESOURCE} WHERE NOT _is_current) ORDER BY _valid_from", settings, engine="duckdb",
              out=out)
    return f"history: citylake history silver.{CHANGES_RESOURCE} --limit 3\n" + out.getvalue()


def _api_check(settings: Settings) -> str:
    """Start `citylake serve` on a free loopback port, ask it what it serves as a CKAN client would (every
    package, then every link a package hands out, as a harvester follows them), stop it; and check the DCAT
    catalog against the DCAT-AP shapes when the checkout's shapes and pyshacl are there."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    exe = Path(sys.executable).with_name("citylake")
    proc = subprocess.Popen([str(exe), "serve", "--port", str(port)], env=airflow_environment(settings),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                names = _get_json(f"{base}api/3/action/package_list")["result"]
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    return f"  CKAN-compatible API  did not answer on port {port}; try `citylake serve`"
                time.sleep(0.5)
        links, failed = _follow_links(base, names)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    lines = [f"  CKAN-compatible API  `citylake serve` answered package_list with {len(names)} datasets: "
             + ", ".join(names),
             f"  links               {len(links) - len(failed)} of {len(links)} download, latest and API links "
             f"answered 200" + ("" if not failed else "; failed: " + ", ".join(failed[:5])),
             f"  DCAT-AP             {_shacl_check(settings)}"]
    return "\n".join(lines)


def _get_json(url: str) -> dict:
    import urllib.request

    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def _follow_links(base: str, names: list[str]) -> tuple[list[str], list[str]]:
    """Every url / latest_url of every package's resources, fetched; (all links, those not answering 200)."""
    import urllib.error
    import urllib.parse
    import urllib.request

    links: list[str] = []
    for name in names:
        package = _get_json(f"{base}api/3/action/package_show?" + urllib.parse.urlencode({"id": name}))["result"]
        links += [r[k] for r in package["resources"] for k in ("url", "latest_url") if r.get(k)]
    failed = []
    for link in links:
        method = "GET" if "/api/" in link else "HEAD"
        try:
            with urllib.request.urlopen(urllib.request.Request(link, method=method), timeout=30) as response:
                ok = response.status == 200
        except (urllib.error.URLError, OSError):
            ok = False
        if not ok:
            failed.append(link)
    return links, failed


def _shacl_check(settings: Settings) -> str:
    """The open zone's catalog.jsonld against the DCAT-AP shapes the tests use (a checkout with pyshacl)."""
    from jobs.settings import CHECKOUT

    shapes = CHECKOUT / "tests" / "unit" / "dcat_ap_shapes.ttl" if CHECKOUT is not None else None
    catalog = settings.open_files / "catalog.jsonld"
    if shapes is None or not shapes.is_file() or not catalog.is_file():
        return "not checked (needs a checkout's tests/unit/dcat_ap_shapes.ttl and a local open zone)"
    try:
        from pyshacl import validate
        from rdflib import Graph
    except ImportError:
        return "not checked (pyshacl is a development dependency: pip install -e '.[dev]')"
    data = Graph().parse(catalog, format="json-ld")
    conforms, _, report = validate(data, shacl_graph=Graph().parse(shapes, format="turtle"), inference="none")
    if conforms:
        return f"catalog.jsonld conforms to the DCAT-AP 3.0 shapes ({len(data)} triples)"
    return "catalog.jsonld violates the DCAT-AP 3.0 shapes:\n" + str(report)[:2000]
