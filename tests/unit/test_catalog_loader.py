"""The catalog loads fast into frozen models, and every mistake names file, resource and field."""

from __future__ import annotations

import dataclasses
import textwrap
import time
from pathlib import Path

import pytest

from jobs.catalog import load_catalog
from jobs.errors import CatalogError, UnknownRuleError
from jobs.settings import BUILTIN_CATALOG

DEPARTMENTS = textwrap.dedent("""
    departments:
      - {key: dept, code: "11510100MB0000000U", name: 某局, name_en: Some Bureau, system: 某系统}
""")

RESOURCE = textwrap.dedent("""
    name: things
    code: "T-1"
    title: 事项
    title_en: Things
    provider: dept
    summary: 测试
    theme: 公共服务
    update_cycle: daily
    share: {type: 无条件共享}
    open_type: 无条件开放
    primary_key: [thing_id]
    items:
      - {name: thing_id, title: 编号, required: true}
      - {name: phone, title: 电话, pii: phone, publish: mask, rules: [cn_mobile]}
""")


def write_catalog(root: Path, resource: str = RESOURCE, departments: str = DEPARTMENTS) -> Path:
    (root / "dept").mkdir(parents=True)
    (root / "departments.yaml").write_text(departments, encoding="utf-8")
    (root / "dept" / "things.yaml").write_text(resource, encoding="utf-8")
    return root


def test_every_builtin_file_loads_quickly():
    started = time.perf_counter()
    catalog = load_catalog([BUILTIN_CATALOG])
    elapsed = time.perf_counter() - started
    files = sorted(BUILTIN_CATALOG.glob("*/*.yaml"))
    assert files and len(catalog.resources) == len(files)
    assert elapsed < 2, f"catalog load took {elapsed:.2f}s"


def test_appeals_entry(appeals):
    assert appeals.title == "市民诉求工单"
    assert appeals.primary_key == ("appeal_id",)
    assert 12 <= len(appeals.items) <= 15
    assert appeals.update_cycle == "daily"
    assert appeals.item("appellant_id_no").pii == "resident_id"
    assert appeals.item("appellant_id_no").publish == "drop"
    assert appeals.item("appellant_phone").publish == "mask"
    with pytest.raises(dataclasses.FrozenInstanceError):
        appeals.title = "x"


def test_extra_catalog_folder_onboards_a_resource(tmp_path):
    extra = write_catalog(tmp_path / "extra")
    catalog = load_catalog([BUILTIN_CATALOG, extra])
    assert "things" in catalog.resources and "citizen_appeals" in catalog.resources


@pytest.mark.parametrize(
    "old,new,field,error",
    [
        ("rules: [cn_mobile]", "rules: [cn_mobil]", "phone", UnknownRuleError),
        ("pii: phone, publish: mask", "pii: phone, publish: keep", "phone", CatalogError),
        ("primary_key: [thing_id]", "primary_key: [nope]", "nope", CatalogError),
        ("update_cycle: daily", "update_cycle: sometimes", "update_cycle", CatalogError),
        ("{name: thing_id, title: 编号, required: true}", "{name: thing_id, title: 编号, type: date}",
         "thing_id", CatalogError),
        ("{name: thing_id, title: 编号, required: true}", "{name: thing_id, title: 编号, type: uuid}",
         "thing_id", CatalogError),
        ("pii: phone, publish: mask", "pii: telephone, publish: mask", "phone", CatalogError),
        ("rules: [cn_mobile]", "rules: [{rule: cn_division, level: hamlet}]", "phone", CatalogError),
        ("rules: [cn_mobile]", "rules: [{rule: cn_mobile, when: {nobody: [x]}}]", "phone", CatalogError),
        ("rules: [cn_mobile]", "rules: [{rule: cn_mobile, when: {thing_id: x}}]", "phone", CatalogError),
        ("rules: [cn_mobile]", "rules: [{rule: references, resource: things, item: nothing}]", "phone",
         CatalogError),
        ("rules: [cn_mobile]", "rules: [{rule: references, resource: things}]", "phone", CatalogError),
        ("primary_key: [thing_id]\n", "write_mode: merge\n", "write_mode", CatalogError),
        ("primary_key: [thing_id]\n", "primary_key: [thing_id]\nhistory: scd2\nwrite_mode: append\n", "history",
         CatalogError),
        ("primary_key: [thing_id]\n", "primary_key: [thing_id]\nhistory: all\n", "history", CatalogError),
        ("primary_key: [thing_id]\n", "primary_key: [thing_id]\nopen: {history: true}\n", "open.history",
         CatalogError),
        ("open_type: 无条件开放", "open_type: 无条件开放\nrelated: [NOPE-1]", "related", CatalogError),
        ("open_type: 无条件开放", "open_type: 无条件开放\nclassification: {catalog: 目录, category: 人口}",
         "classification.catalog", CatalogError),
        ("{name: thing_id, title: 编号, required: true}",
         "{name: thing_id, title: 编号, type: timestamp, formats: [yyyy-MM-dd HH:mm:ss, epoch_second]}",
         "thing_id.formats", CatalogError),
        ("{name: thing_id, title: 编号, required: true}",
         "{name: thing_id, title: 编号, type: date, formats: yyyyMMdd}", "thing_id.formats", CatalogError),
    ],
)
def test_errors_name_file_resource_and_field(tmp_path, old, new, field, error):
    assert old in RESOURCE
    root = write_catalog(tmp_path, RESOURCE.replace(old, new))
    with pytest.raises(error) as exc:
        load_catalog([root])
    message = str(exc.value)
    assert "things.yaml" in message and "resource things" in message and f"field {field}" in message


@pytest.mark.parametrize("typ,formats", [
    ("timestamp", ["epoch_seconds"]),
    ("timestamp", ["yyyy-MM-dd HH:mm:ss", "epoch_millis", "epoch_seconds", "excel_serial"]),
    ("date", ["epoch_millis"]),
    ("date", ["yyyyMMdd", "epoch_seconds"]),
])
def test_epoch_formats_load_for_dates_and_timestamps(tmp_path, typ, formats):
    new = f"{{name: seen, title: 时间, type: {typ}, formats: [{', '.join(formats)}]}}"
    root = write_catalog(tmp_path, RESOURCE.replace("{name: thing_id, title: 编号, required: true}",
                                                    "{name: thing_id, title: 编号, required: true}\n  - " + new))
    item = load_catalog([root]).resource("things").item("seen")
    assert item.type == typ and item.formats == tuple(formats)


def test_duplicate_codes_are_caught(tmp_path):
    root = write_catalog(tmp_path)
    (root / "dept" / "other.yaml").write_text(RESOURCE.replace("name: things", "name: other"), encoding="utf-8")
    with pytest.raises(CatalogError, match="resource things, field code: resource code T-1 also used by other"):
        load_catalog([root])


def test_unknown_provider(tmp_path):
    root = write_catalog(tmp_path, RESOURCE.replace("provider: dept", "provider: nobody"))
    with pytest.raises(CatalogError, match="provider 'nobody' is not in departments.yaml"):
        load_catalog([root])


def test_a_department_code_must_be_a_credit_code(tmp_path):
    root = write_catalog(tmp_path, departments=DEPARTMENTS.replace("11510100MB0000000U", "11510100MB0000000X"))
    with pytest.raises(CatalogError, match="field code: department dept: '11510100MB0000000X' is not a unified"):
        load_catalog([root])


def test_broken_yaml_names_the_file(tmp_path):
    root = write_catalog(tmp_path, "name: [unclosed")
    with pytest.raises(CatalogError, match="things.yaml: not valid YAML"):
        load_catalog([root])


DIVISIONS = RESOURCE.replace("primary_key: [thing_id]", "primary_key: [code]\nprovides: divisions").replace(
    """  - {name: thing_id, title: 编号, required: true}
  - {name: phone, title: 电话, pii: phone, publish: mask, rules: [cn_mobile]}
""", """  - {name: code, title: 区划代码, required: true}
  - {name: level, title: 级别, rules: [{rule: in_set, values: [市, 区县, 乡镇街道, 村社区]}]}
  - {name: parent_code, title: 上级代码}
""")


def test_a_divisions_provider_loads_and_is_found():
    catalog = load_catalog([BUILTIN_CATALOG])
    provider = catalog.provider_of("divisions")
    assert provider is not None and provider.name == "administrative_divisions"
    assert "cn_division" in catalog.resource("enforcement_cases").uses_rule


@pytest.mark.parametrize("old,new,message", [
    ("provides: divisions", "provides: streets", "unknown reference data 'streets'"),
    ("{name: parent_code, title: 上级代码}", "{name: parent, title: 上级代码}", "missing: parent_code"),
    ("values: [市, 区县, 乡镇街道, 村社区]", "values: [市, 区, 街道]", "unknown: 区, 街道"),
    ("{name: level, title: 级别, rules: [{rule: in_set, values: [市, 区县, 乡镇街道, 村社区]}]}",
     "{name: level, title: 级别}", "needs an in_set rule"),
])
def test_a_bad_divisions_provider_is_refused(tmp_path, old, new, message):
    assert old in DIVISIONS
    root = write_catalog(tmp_path, DIVISIONS.replace(old, new))
    with pytest.raises(CatalogError, match=message) as exc:
        load_catalog([root])
    assert "things.yaml" in str(exc.value) and "field " in str(exc.value)


def test_one_provider_per_reference(tmp_path):
    root = write_catalog(tmp_path / "extra", DIVISIONS)
    with pytest.raises(CatalogError, match="divisions are already provided by") as exc:
        load_catalog([BUILTIN_CATALOG, root])
    assert "field provides" in str(exc.value)
