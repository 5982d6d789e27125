"""Dependencies point down: nothing in jobs/ imports Airflow; parsing the DAGs imports no Spark."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from jobs.settings import DAGS_DIR, REPO_ROOT

JOBS = REPO_ROOT / "jobs"


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_no_airflow_import_in_jobs():
    offenders = [str(p) for p in JOBS.rglob("*.py") if any(m.split(".")[0] == "airflow" for m in imported_modules(p))]
    assert offenders == []


def test_only_settings_reads_the_environment():
    offenders = [str(p.relative_to(REPO_ROOT)) for p in JOBS.rglob("*.py")
                 if "os.environ" in p.read_text(encoding="utf-8") or "getenv" in p.read_text(encoding="utf-8")]
    assert offenders == ["jobs/settings.py"]


def test_dag_parse_imports_no_spark_or_pandas():
    code = (
        "import sys, runpy; runpy.run_path(sys.argv[1]);"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('pyspark', 'pandas', 'great_expectations'));"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code, str(DAGS_DIR / "departments.py")],
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_a_sensor_poke_imports_no_spark():
    """Every reschedule poke is a fresh task process; it must stay a landing listing, not a pyspark import."""
    code = (
        "import sys; from jobs.io.landing import complete_exports;"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('pyspark', 'pandas', 'great_expectations'));"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
