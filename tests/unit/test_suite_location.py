"""Where a resource's expectation suite lives: beside its catalog folder, generated there on first use."""

from __future__ import annotations

from dataclasses import replace

import pytest

from jobs.catalog import load_catalog
from jobs.catalog.suite import render, suite_document, suite_path
from jobs.errors import ConfigurationError
from jobs.io.quality import load_suite_file
from jobs.settings import BUILTIN_CATALOG, EXPECTATIONS_DIR, Settings
from jobs.steps.validate import suite_for

DEPARTMENTS = "departments:\n  - {key: eco, code: '11510100MB0000000U', name: 生态环境局, name_en: Eco, system: 系统}\n"
ENTRY = """name: air_points
code: "510100/ECO-00001"
title: 监测点
title_en: Points
provider: eco
summary: 监测点
theme: 生态环境
update_cycle: daily
share: {type: 无条件共享}
open_type: 不予开放
primary_key: [point_id]
source: {format: csv, encoding: utf-8}
items:
  - {name: point_id, title: 监测点编号, required: true}
"""


def extra_catalog(tmp_path):
    folder = tmp_path / "catalog"
    (folder / "eco").mkdir(parents=True)
    (folder / "departments.yaml").write_text(DEPARTMENTS, encoding="utf-8")
    (folder / "eco" / "air_points.yaml").write_text(ENTRY, encoding="utf-8")
    return folder


def test_builtin_suites_stay_in_the_checkout_and_a_missing_one_is_an_error(tmp_path):
    settings = Settings(home=tmp_path)
    res = load_catalog([BUILTIN_CATALOG]).resource("citizen_appeals")
    assert suite_path(settings.expectations_dir, res) == EXPECTATIONS_DIR / "citizen_appeals.json"
    assert suite_for(settings, res) == (EXPECTATIONS_DIR / "citizen_appeals.json", False)
    elsewhere = replace(settings, expectations_dir=tmp_path / "none")
    path, generated = suite_for(elsewhere, res)
    assert not generated and not path.exists()
    with pytest.raises(ConfigurationError, match="citylake expectations"):
        load_suite_file(path)


def test_an_extra_folder_s_suite_is_generated_beside_it_or_in_the_ops_zone(tmp_path):
    folder = extra_catalog(tmp_path)
    settings = Settings(home=tmp_path / "home", catalog_dirs=(BUILTIN_CATALOG, folder))
    res = load_catalog(settings.catalog_dirs).resource("air_points")
    path, generated = suite_for(settings, res)
    assert (path, generated) == (folder / "expectations" / "air_points.json", True)
    assert path.read_text(encoding="utf-8") == render(suite_document(res, None))
    assert suite_for(settings, res) == (path, False)  # found the next time, not written again
    # the entry changes (a new item): the baseline follows it, a hand-written expectation stays
    import json

    document = json.loads(path.read_text(encoding="utf-8"))
    mine = {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "point_id"}, "meta": {"mine": 1}}
    path.write_text(render({**document, "expectations": [*document["expectations"], mine]}), encoding="utf-8")
    assert suite_for(settings, res) == (path, False)
    entry = folder / "eco" / "air_points.yaml"
    entry.write_text(entry.read_text(encoding="utf-8") + "  - {name: station, title: 站点, required: true}\n",
                     encoding="utf-8")
    changed = load_catalog(settings.catalog_dirs).resource("air_points")
    assert suite_for(settings, changed) == (path, True)
    kept = json.loads(path.read_text(encoding="utf-8"))["expectations"]
    assert mine in kept and any(e["kwargs"].get("column") == "station" for e in kept)

    # a folder that cannot take the file (here: `expectations` is a file) -> the ops zone
    other = extra_catalog(tmp_path / "ro")
    (other / "expectations").write_text("not a folder", encoding="utf-8")
    ro = Settings(home=tmp_path / "home2", catalog_dirs=(BUILTIN_CATALOG, other))
    res = load_catalog(ro.catalog_dirs).resource("air_points")
    path, generated = suite_for(ro, res)
    assert (path, generated) == (ro.ops / "expectations" / "air_points.json", True)
    assert suite_for(ro, res) == (path, False)
