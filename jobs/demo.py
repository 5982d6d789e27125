"""`make demo`: a day's sample export through the department's real Airflow DAG, then the summary.

Airflow runs as a subprocess (`airflow dags test`) on SQLite metadata inside CITYLAKE_HOME, exactly
as a data engineer would debug a DAG; its log goes to a file and its tail is shown if it fails.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

from jobs.catalog import load_catalog
from jobs.catalog.pools import pools_document
from jobs.errors import CitylakeError
from jobs.sample.generator import write_export
from jobs.settings import Settings, airflow_environment

DEMO_RESOURCE = "citizen_appeals"


class DemoFailed(CitylakeError):
    """Raised when the demo's Airflow run fails; carries the log's location and tail."""


def _airflow(settings: Settings, args: list[str], log: Path) -> None:
    exe = Path(sys.executable).with_name("airflow")
    cmd = [str(exe) if exe.exists() else "airflow", *args]
    with log.open("a", encoding="utf-8") as fh:
        fh.write(f"\n$ {' '.join(cmd)}\n")
        fh.flush()
        proc = subprocess.run(cmd, env=airflow_environment(settings), stdout=fh, stderr=subprocess.STDOUT, check=False)
    if proc.returncode != 0:
        tail = "\n".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-40:])
        raise DemoFailed(f"`{' '.join(args)}` exited {proc.returncode}; full log in {log}\n{tail}")


def run_demo(settings: Settings, *, day: date, rows: int = 2000, fresh: bool = True) -> str:
    """Generate the sample export, run the DAG with `airflow dags test`, return the summary."""
    if fresh:
        for folder in (settings.landing, settings.lake, settings.open_files, settings.home / "corrections"):
            shutil.rmtree(folder, ignore_errors=True)
    catalog = load_catalog(settings.catalog_dirs)
    resource = catalog.resource(DEMO_RESOURCE)
    export = write_export(resource, settings.landing, day=day, rows=rows)
    print(f"sample export: {export.path} ({export.rows} rows, {len(export.defects)} defective)")
    settings.airflow_home.mkdir(parents=True, exist_ok=True)
    log = settings.airflow_home / "demo.log"
    log.write_text("", encoding="utf-8")
    print("airflow: migrating the SQLite metadata database ...")
    _airflow(settings, ["db", "migrate"], log)
    pools = settings.airflow_home / "pools.json"
    pools.write_text(json.dumps(pools_document(catalog), ensure_ascii=False, indent=2), encoding="utf-8")
    _airflow(settings, ["pools", "import", str(pools)], log)
    dag_id = f"citylake_{resource.provider}"
    print(f"airflow: dags test {dag_id} {day.isoformat()} (log: {log}) ...")
    _airflow(settings, ["dags", "test", dag_id, day.isoformat()], log)
    from jobs.steps.quarantine import quarantine
    from jobs.steps.summary import summary

    text = summary([DEMO_RESOURCE], settings=settings)
    corrections = [q.export for q in quarantine(department=resource.provider, export_dir=settings.home / "corrections",
                                                settings=settings) if q.export]
    return text + "\n" + "\n".join(f"  correction file      {path}" for path in corrections)
