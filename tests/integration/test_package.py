"""citylake as a platform engineer installs it: a built wheel in a fresh venv, away from any checkout.

The wheel must carry the built-in catalog, its suites and the DAG files as package data, and its
dependency ranges must resolve under constraints.txt. The venv is made without pip of its own and filled
by the suite's pip (`pip --python`), byte-compilation off: the same resolution and files as
`pip install -c constraints.txt citylake.whl`, in ~20 s instead of ~50 s from the warm pip cache.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

import jobs
from jobs.settings import BUILTIN_CATALOG, REPO_ROOT
from tests.support.jvm import JVM_OPTIONS

pytestmark = pytest.mark.timeout(900)


def _run(args: list[str], *, env: dict[str, str], cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    done = subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    tail = f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    assert done.returncode == 0, f"{' '.join(args)} exited {done.returncode}:\n{tail}"
    return done


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str], Path]:
    """(bin folder of the fresh venv, an environment without the checkout, a working folder outside it)."""
    root = tmp_path_factory.mktemp("package")
    assert REPO_ROOT not in root.parents
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CITYLAKE_", "PYTHON", "VIRTUAL_ENV"))}
    wheels = root / "wheels"
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels), str(REPO_ROOT)],
         env=env, cwd=root)
    (wheel,) = wheels.glob("citylake-*.whl")
    target = root / "venv"
    venv.EnvBuilder(with_pip=False).create(target)
    _run([sys.executable, "-m", "pip", "--python", str(target / "bin" / "python"), "install", "-q", "--no-compile",
          "--disable-pip-version-check", "-c", str(REPO_ROOT / "constraints.txt"), str(wheel)], env=env, cwd=root)
    work = root / "work"
    work.mkdir()
    return target / "bin", env, work


def test_the_installed_package_finds_its_catalog_suites_and_dags_without_the_checkout(installed):
    bin_dir, env, work = installed
    code = ("import json, jobs, jobs.settings as s; print(json.dumps({'jobs': jobs.__file__, 'checkout': "
            "str(s.CHECKOUT), 'catalog': str(s.BUILTIN_CATALOG), 'suites': str(s.EXPECTATIONS_DIR), "
            "'dags': str(s.DAGS_DIR)}))")
    where = json.loads(_run([str(bin_dir / "python"), "-c", code], env=env, cwd=work).stdout)
    site = (bin_dir.parent / "lib").resolve()
    assert where["checkout"] == "None"
    for key in ("jobs", "catalog", "suites", "dags"):
        assert Path(where[key]).resolve().is_relative_to(site), (key, where[key])
    suites = {p.name for p in (REPO_ROOT / "expectations").glob("*.json")}
    assert suites and {p.name for p in Path(where["suites"]).glob("*.json")} == suites
    assert (Path(where["dags"]) / "departments.py").is_file()

    version = _run([str(bin_dir / "citylake"), "--version"], env=env, cwd=work).stdout.strip()
    assert version == f"citylake {jobs.__version__}"

    listed = _run([str(bin_dir / "citylake"), "catalog", "list"], env=env, cwd=work).stdout
    from jobs.catalog import load_catalog

    names = set(load_catalog([BUILTIN_CATALOG]).resources)
    assert names and {line.split()[1] for line in listed.splitlines() if line.strip()} == names


def test_the_installed_cli_runs_a_sample_export_from_landing_to_open(installed, tmp_path):
    bin_dir, env, work = installed
    # the Delta jars are the same artifacts whatever installed citylake: reuse the suite's cache
    env = {**env, "CITYLAKE_HOME": str(tmp_path / "home"), "CITYLAKE_JARS": str(REPO_ROOT / ".jars"),
           "CITYLAKE_STEP_SERVER": "off", "CITYLAKE_SPARK_MASTER": "local[2]", "CITYLAKE_SHUFFLE_PARTITIONS": "2",
           "CITYLAKE_JVM_OPTIONS": JVM_OPTIONS}
    _run([str(bin_dir / "citylake"), "sample", "market_entities", "--rows", "600"], env=env, cwd=work)
    report = json.loads(_run([str(bin_dir / "citylake"), "run", "market_entities"], env=env, cwd=work).stdout)
    (ingested,) = report["ingest"]
    (conformed,) = report["conform"]
    (validated,) = report["validate"]
    assert ingested["status"] == "ingested"
    assert conformed["rows_read"] == ingested["rows_read"] == conformed["rows_accepted"] + conformed["rows_quarantined"]
    assert validated["success"] is True
    assert report["publish"]["status"] == "published"
    assert report["publish"]["rows"] == conformed["rows_accepted"] > 0
    assert (tmp_path / "home" / "open").is_dir()
