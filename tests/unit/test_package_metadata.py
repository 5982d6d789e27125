"""The package's metadata: ranges where citylake meets other software, exact pins only in constraints.txt."""

from __future__ import annotations

import tomllib

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from jobs.settings import REPO_ROOT

PYPROJECT = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
PROJECT = PYPROJECT["project"]
PINS = {canonicalize_name(name): version.strip()
        for name, _, version in (line.split("#", 1)[0].strip().partition("==")
                                 for line in (REPO_ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines())
        if version}


def test_dependencies_are_ranges_each_pinned_in_the_constraints_inside_its_range():
    runtime = [Requirement(r) for r in PROJECT["dependencies"]]
    dev = [Requirement(r) for extra in PROJECT["optional-dependencies"].values() for r in extra]
    assert {"apache-airflow", "pyspark"} <= {canonicalize_name(r.name) for r in runtime} and dev
    exact = [str(r) for r in runtime + dev if any(s.operator in ("==", "===") for s in r.specifier)]
    assert not exact, f"exact pins belong in constraints.txt, not in pyproject.toml: {exact}"
    outside = {r.name: PINS.get(canonicalize_name(r.name)) for r in runtime + dev
               if PINS.get(canonicalize_name(r.name)) is None or PINS[canonicalize_name(r.name)] not in r.specifier}
    assert not outside, f"pyproject.toml range vs constraints.txt pin (add or move the pin): {outside}"


def test_the_stack_is_bounded_to_its_major_versions():
    bounded = {canonicalize_name(Requirement(r).name): Requirement(r) for r in PROJECT["dependencies"]}
    for name in ("apache-airflow", "pyspark", "delta-spark", "great-expectations"):
        assert any(s.operator == "<" for s in bounded[name].specifier), \
            f"{bounded[name]}: give {name} an upper bound at its next major version"


def test_the_cli_and_the_shipped_data_are_declared():
    assert PROJECT["scripts"]["citylake"] == "jobs.cli:main"
    shipped = PYPROJECT["tool"]["setuptools"]["package-data"]["jobs.builtin"]
    assert {"catalog/**/*.yaml", "expectations/*.json", "dags/*.py", "dags/.airflowignore"} <= set(shipped)
    for link, target in (("catalog", "schemas"), ("expectations", "expectations"), ("dags", "dags")):
        assert (REPO_ROOT / "jobs" / "builtin" / link).resolve() == (REPO_ROOT / target).resolve()
