"""`make bench-dags`: how long Airflow takes to parse the department DAGs, real catalog and city scale.

Each measurement is a fresh interpreter that imports Airflow and fills a `DagBag` from `dags/`, the
way the DAG processor does; the number printed is the DagBag fill alone (Airflow's own parse timeout is
30 s per file; citylake's goal is under 10 s for the 643-resource catalog on 2 cores), next to the
whole process time.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from jobs.settings import DAGS_DIR, REPO_ROOT
from tests.support.synthetic_catalog import write_catalog

PROBE = """
import json, sys, time
started = time.perf_counter()
from airflow.dag_processing.dagbag import DagBag
imported = time.perf_counter()
bag = DagBag(dag_folder=sys.argv[1])
done = time.perf_counter()
print(json.dumps({"import_s": imported - started, "fill_s": done - imported, "dags": len(bag.dag_ids),
                  "tasks": sum(len(d.tasks) for d in bag.dags.values()), "errors": len(bag.import_errors)}))
"""


def measure(label: str, extra_catalog: Path | None, home: Path) -> dict:
    env = {**os.environ, "AIRFLOW_HOME": str(home), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
           "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_DIR), "PYTHONPATH": str(REPO_ROOT),
           "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
           "CITYLAKE_CATALOG": str(extra_catalog) if extra_catalog else ""}
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", PROBE, str(DAGS_DIR)], env=env, capture_output=True, text=True,
                         check=True)
    total = time.perf_counter() - started
    result = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"{label:34} DagBag fill {result['fill_s']:6.2f} s  ({result['dags']} DAGs, {result['tasks']} tasks, "
          f"{result['errors']} import errors; whole process {total:.1f} s)", flush=True)
    return result


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="citylake-bench-dags-") as tmp:
        work = Path(tmp)
        measure("real catalog (schemas/)", None, work)
        catalog = write_catalog(work / "catalog")
        measure("synthetic: 643 resources, 225 systems", catalog, work)


if __name__ == "__main__":
    main()
