"""`citylake catalog list | show | validate`: the catalog for the people who maintain it (no Spark)."""

from __future__ import annotations

from jobs.catalog.describe import CATALOG_COLUMNS, card, catalog_row, find, listing
from jobs.cli import main


def test_list_show_and_row(catalog, capsys):
    res = catalog.resource("citizen_appeals")
    assert any(line.startswith(f"{res.code} ") and "citizen_appeals" in line for line in listing(catalog))
    assert listing(catalog, "no_such_department") == []
    assert find(catalog, res.code) is res and find(catalog, "citizen_appeals") is res
    text = card(catalog, res)
    assert "信息资源代码  510100/1101-00001" in text and "提供方" in text and "appellant_id_no" in text
    assert "pii resident_id -> drop" in text
    row = catalog_row(catalog, res)
    assert tuple(row) == CATALOG_COLUMNS and row["items_count"] == len(res.items)

    assert main(["catalog", "show", "citizen_appeals"]) == 0
    assert "市民诉求工单" in capsys.readouterr().out


def test_json_of_list_show_validate_and_sample(catalog, tmp_path, monkeypatch, capsys):
    import json

    assert main(["catalog", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in listed] == [r.name for r in sorted(catalog.resources.values(), key=lambda r: r.code)]
    assert set(listed[0]) == {"code", "name", "title", "provider", "format", "update_cycle", "open_type"}
    assert main(["catalog", "show", "citizen_appeals", "--json"]) == 0
    (shown,) = json.loads(capsys.readouterr().out)
    assert shown["code"] == "510100/1101-00001" and any(i["name"] == "appellant_id_no" for i in shown["items"])
    assert main(["catalog", "validate", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"resources": len(catalog.resources),
                                                   "departments": len(catalog.departments), "errors": []}
    monkeypatch.setenv("CITYLAKE_HOME", str(tmp_path))
    assert main(["sample", "citizen_appeals", "--rows", "3", "--json"]) == 0
    (delivered,) = json.loads(capsys.readouterr().out)
    assert delivered["rows"] == 3 and delivered["where"].startswith(str(tmp_path / "landing"))


def test_validate_loads_a_folder_once_when_it_is_also_in_the_environment(catalog, tmp_path, monkeypatch, capsys):
    import json

    (tmp_path / "departments.yaml").write_text(
        "departments:\n  - {key: d9, code: '11510100MB0000000U', name: 部门, name_en: D, system: 系统}\n",
        encoding="utf-8")
    monkeypatch.setenv("CITYLAKE_CATALOG", str(tmp_path))
    assert main(["catalog", "validate", str(tmp_path), f"{tmp_path}/.", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["errors"] == [] and report["departments"] == len(catalog.departments) + 1


def test_validate_names_the_broken_file(tmp_path, capsys):
    (tmp_path / "departments.yaml").write_text(
        "departments:\n  - {key: d1, code: '11510100MB0000000U', name: 部门, name_en: D, system: 系统}\n",
        encoding="utf-8")
    (tmp_path / "d1").mkdir()
    (tmp_path / "d1" / "bad.yaml").write_text("name: bad\ncode: X-1\nprovider: d1\nitems: []\n", encoding="utf-8")
    assert main(["catalog", "validate", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert f"file {tmp_path / 'd1' / 'bad.yaml'}, resource bad, field items" in out
    assert "1 error(s)" in out


def test_sync_writes_the_catalog_as_one_delta_commit_without_spark(catalog, tmp_path, monkeypatch, capsys):
    import sys

    from deltalake import DeltaTable

    def spark_session() -> object:
        module = sys.modules.get("pyspark.sql.session")
        return module.SparkSession._instantiatedSession if module else None

    monkeypatch.setenv("CITYLAKE_HOME", str(tmp_path))
    before = spark_session()  # None in the unit run; the integration tests' session in the whole suite
    assert main(["catalog", "sync"]) == 0 and main(["catalog", "sync"]) == 0
    assert capsys.readouterr().out.splitlines() == [f"ops.catalog: {len(catalog.resources)} resources"] * 2
    table = DeltaTable(str(tmp_path / "lake" / "ops" / "catalog"))
    assert table.version() == 1  # each sync is one overwrite, the second replaces the first whole
    rows = sorted(table.to_pyarrow_table().to_pylist(), key=lambda r: r["name"])
    assert rows == [catalog_row(catalog, r) for _, r in sorted(catalog.resources.items())]
    assert spark_session() is before  # the sync started no Spark session of its own
