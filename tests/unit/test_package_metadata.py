"""The package's metadata: ranges where citylake meets other software, exact pins only in constraints.txt."""

from __future__ import annotations

import re
import tomllib

from jobs.settings import REPO_ROOT

PROJECT = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
PINS = {re.split(r"==", line)[0].strip().lower().replace("_", "-"): line.split("==", 1)[1].strip()
        for line in (REPO_ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines()
        if "==" in line and not line.lstrip().startswith("#")}


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~;\[ ]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def test_dependencies_are_ranges_and_every_one_is_pinned_in_the_constraints():
    requirements = PROJECT["dependencies"] + [r for extra in PROJECT["optional-dependencies"].values() for r in extra]
    assert requirements
    exact = [r for r in requirements if "==" in r or "===" in r]
    assert not exact, f"exact pins belong in constraints.txt, not in pyproject.toml: {exact}"
    unpinned = [r for r in requirements if _name(r) not in PINS]
    assert not unpinned, f"add an exact pin to constraints.txt for: {unpinned}"


def test_the_stack_is_bounded_to_its_major_versions():
    bounded = {_name(r): r for r in PROJECT["dependencies"]}
    for name in ("apache-airflow", "pyspark", "delta-spark", "great-expectations"):
        assert "<" in bounded[name], f"{bounded[name]}: give {name} an upper bound at its next major version"


def test_the_cli_and_the_shipped_data_are_declared():
    assert PROJECT["scripts"]["citylake"] == "jobs.cli:main"
    setuptools = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    shipped = setuptools["package-data"]["jobs.builtin"]
    assert {"catalog/**/*.yaml", "expectations/*.json", "dags/*.py"} <= set(shipped)
    for link, target in (("catalog", "schemas"), ("expectations", "expectations"), ("dags", "dags")):
        assert (REPO_ROOT / "jobs" / "builtin" / link).resolve() == (REPO_ROOT / target).resolve()
