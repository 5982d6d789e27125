"""The lake over time: silver keeps every version of a `history: scd2` record, every version of a table
says which batch of which step wrote it, silver keeps a Change Data Feed that delta-rs reads, and
`citylake sql --as-of` reads a table as it was (no JVM).

Market entities (`history: scd2`) on a real lake (`tests.support.market_history`): day 1, then a backlog of
days 2 and 3 ingested by one call. Day 2 re-delivers some entities with a changed registration status, some
unchanged, and some new ones, so its MERGE closes versions and inserts new ones and new records; day 3
re-delivers day 2 in another order with one entity changed again (迁出), so only that entity gets a version,
after day 2's. Day 1's file also holds one quarantined row.
"""

from __future__ import annotations

import io
import json
from datetime import datetime

import pyarrow as pa
import pytest
from deltalake import DeltaTable

from jobs.cli import EXIT_USAGE, main
from jobs.errors import QueryError
from jobs.io import delta
from jobs.io.deltars import table_uri
from jobs.io.history import commit_note, parse_note
from jobs.io.query import run_query
from tests.support.market_history import CHANGED, NEW, RESOURCE, UNCHANGED

pytestmark = pytest.mark.spark


@pytest.fixture(scope="module")
def history_lake(market_lake):
    """(settings, the three batch ids, the changed entities' codes, day 1's valid rows)."""
    return market_lake.settings, market_lake.batches, set(market_lake.changed), market_lake.first_rows


@pytest.fixture(scope="module")
def moved(market_lake) -> str:
    """The entity day 3 changes again (存续 -> 在业 on day 2 -> 迁出 on day 3)."""
    return market_lake.moved


def cli_json(capsys, *argv: str) -> list[dict]:
    assert main([*argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_each_version_names_its_operation_rows_and_batch(history_lake, capsys, monkeypatch):
    settings, (day1, day2, day3), _, first_rows = history_lake
    monkeypatch.setenv("CITYLAKE_HOME", str(settings.home))
    silver = cli_json(capsys, "history", f"silver.{RESOURCE}")
    assert [v["version"] for v in silver] == list(range(len(silver) - 1, -1, -1))  # newest first, none missing
    by_batch = {v["batch"]: v for v in silver}
    assert silver[-1]["operation"] == "CREATE TABLE" and silver[-1]["rows_added"] is None
    write, merge2, merge3 = by_batch[day1], by_batch[day2], by_batch[day3]
    assert (write["operation"], write["step"], write["rows_added"]) == ("WRITE", "validate", first_rows)
    # scd2: the changed records' new versions and the new records inserted, their old versions closed
    assert (merge2["operation"], merge2["rows_added"], merge2["rows_updated"]) == ("MERGE", NEW + CHANGED, CHANGED)
    # the backlog's later export after the earlier one: only the entity it changed again
    assert (merge3["operation"], merge3["rows_added"], merge3["rows_updated"]) == ("MERGE", 1, 1)
    assert merge3["version"] == silver[0]["version"] == merge2["version"] + 1
    assert datetime.fromisoformat(merge3["timestamp"]).tzinfo and merge3["engine"].startswith("Apache-Spark")
    # the other zones' commits say the same: bronze by ingest, audit appended by conform, emptied by validate
    bronze = cli_json(capsys, "history", f"bronze.{RESOURCE}")
    day2_rows = CHANGED + UNCHANGED + NEW
    assert [(v["batch"], v["step"], v["rows_added"]) for v in bronze if v["operation"] == "WRITE"] == [
        (day3, "ingest", day2_rows), (day2, "ingest", day2_rows), (day1, "ingest", first_rows + 1)]
    audit = cli_json(capsys, "history", f"audit.{RESOURCE}")
    assert [(v["operation"], v["batch"], v["step"]) for v in audit if v["batch"] == day2] == [
        ("DELETE", day2, "validate"), ("WRITE", day2, "conform")]
    assert cli_json(capsys, "history", f"silver.{RESOURCE}", "--limit", "1") == silver[:1]


def test_silver_change_feed_reads_with_delta_rs(history_lake, moved):
    settings, _, changed, _ = history_lake
    table = DeltaTable(table_uri(settings.table_path("silver", RESOURCE)))
    assert table.metadata().configuration.get("delta.enableChangeDataFeed") == "true"
    merges = sorted(h["version"] for h in table.history() if h["operation"] == "MERGE")
    feed = pa.table(table.load_cdf(starting_version=merges[0])).to_pylist()
    kinds: dict[str, list[dict]] = {}
    for row in feed:
        kinds.setdefault(row["_change_type"], []).append(row)
    assert {k: len(v) for k, v in kinds.items()} == {
        "insert": NEW + CHANGED + 1, "update_preimage": CHANGED + 1, "update_postimage": CHANGED + 1}
    assert {r["_commit_version"] for r in feed} == set(merges)
    # the closing of each changed record's version (no longer current), in commit order
    closed = sorted(kinds["update_postimage"], key=lambda r: r["_commit_version"])
    assert all(not r["_is_current"] for r in closed)
    assert sorted((r["credit_code"], r["status"]) for r in closed[:CHANGED]) == sorted((k, "存续") for k in changed)
    assert (closed[-1]["credit_code"], closed[-1]["status"]) == (moved, "在业")
    assert {r["status"] for r in kinds["insert"] if r["credit_code"] in changed} == {"在业", "迁出"}


def query(settings, sql: str, **kw) -> list[dict]:
    out = io.StringIO()
    run_query(sql, settings, engine="duckdb", output="json", out=out, **kw)
    return json.loads(out.getvalue())


def test_sql_as_of_a_version_or_an_instant(history_lake, moved):
    settings, _, changed, first_rows = history_lake
    key = sorted(changed - {moved})[0]
    sql = f"SELECT status FROM silver.{RESOURCE} WHERE credit_code = '{key}' AND _is_current"
    history = DeltaTable(table_uri(settings.table_path("silver", RESOURCE))).history()
    write = next(h for h in history if h["operation"] == "WRITE")
    assert query(settings, sql) == [{"status": "在业"}]
    assert query(settings, sql, as_of=write["version"]) == [{"status": "存续"}]
    # an instant reads the version current then: just after day 1's write, before the backlog's MERGEs
    instant = datetime.fromtimestamp(write["timestamp"] / 1000).astimezone()
    assert query(settings, sql, as_of=instant) == [{"status": "存续"}]
    assert query(settings, f"SELECT count(*) AS n FROM silver.{RESOURCE}", as_of=instant) == [{"n": first_rows}]
    # an instant applies to every table the query names
    both = (f"SELECT (SELECT count(*) FROM silver.{RESOURCE}) AS s, "
            f"(SELECT count(*) FROM bronze.{RESOURCE}) AS b")
    assert query(settings, both, as_of=instant) == [{"s": first_rows, "b": first_rows + 1}]


@pytest.mark.parametrize(("as_of", "engine", "message"), [
    (99, "duckdb", r"silver.market_entities has no version 99: its versions are 0 to \d+"),
    (datetime(2020, 1, 1), "duckdb", r"did not exist at 2020-01-01T00:00:00\+08:00"),
    (1, "spark", r"VERSION AS OF"),
])
def test_as_of_a_version_or_time_the_table_never_had_is_refused(history_lake, as_of, engine, message):
    settings, *_ = history_lake
    with pytest.raises(QueryError, match=message):
        run_query(f"SELECT * FROM silver.{RESOURCE}", settings, engine=engine, as_of=as_of, out=io.StringIO())


def test_a_version_for_two_tables_or_none_is_refused(history_lake):
    settings, *_ = history_lake
    with pytest.raises(QueryError, match="versions are per table"):
        run_query(f"SELECT * FROM silver.{RESOURCE} JOIN bronze.{RESOURCE} USING (credit_code)", settings,
                  as_of=1, out=io.StringIO())
    with pytest.raises(QueryError, match="names its lake tables"):
        run_query("SHOW TABLES", settings, as_of=1, out=io.StringIO())


def test_history_of_an_unknown_table_is_a_usage_error(history_lake, capsys, monkeypatch):
    settings, *_ = history_lake
    monkeypatch.setenv("CITYLAKE_HOME", str(settings.home))
    assert main(["history", "silver.market_entitys"]) == EXIT_USAGE
    assert "did you mean silver.market_entities" in capsys.readouterr().err
    assert main(["history", "market_entities"]) == EXIT_USAGE
    assert "name it <zone>.<table>" in capsys.readouterr().err
    assert main(["sql", "--as-of", "yesterday", "SELECT 1"]) == EXIT_USAGE
    assert "give a version number" in capsys.readouterr().err


def test_a_table_made_before_the_change_feed_gets_it_once(lake, spark):
    from pyspark.sql.types import StringType, StructField, StructType

    path = lake.table_path("silver", "older")
    schema = StructType([StructField("k", StringType())])
    delta.ensure_table(spark, path, schema)
    assert "delta.enableChangeDataFeed" not in delta.table_properties(spark, path)
    wanted = {"delta.enableChangeDataFeed": "true"}
    delta.ensure_table(spark, path, schema, properties=wanted)
    delta.ensure_table(spark, path, schema, properties=wanted)
    assert delta.table_properties(spark, path)["delta.enableChangeDataFeed"] == "true"
    operations = [h["operation"] for h in DeltaTable(str(path)).history()]
    assert operations.count("SET TBLPROPERTIES") == 1, operations


def test_commit_notes_read_back():
    assert parse_note(commit_note("20261127-abc", "validate")) == {"batch": "20261127-abc", "step": "validate"}
    assert parse_note("derived from silver.x@3") == {} and parse_note(None) == {}


def silver_rows(settings) -> list[dict]:
    return DeltaTable(table_uri(settings.table_path("silver", RESOURCE))).to_pyarrow_table().to_pylist()


def test_scd2_keeps_every_version_and_one_current_per_record(history_lake, moved):
    settings, (day1, day2, day3), changed, first_rows = history_lake
    rows = silver_rows(settings)
    assert len(rows) == first_rows + NEW + CHANGED + 1
    by_key: dict[str, list[dict]] = {}
    for row in rows:
        by_key.setdefault(row["credit_code"], []).append(row)
    assert len(by_key) == first_rows + NEW and all(sum(r["_is_current"] for r in v) == 1 for v in by_key.values())
    for key in changed - {moved}:
        old, new = sorted(by_key[key], key=lambda r: r["_valid_from"])
        assert (old["status"], old["_batch_id"], old["_is_current"]) == ("存续", day1, False)
        assert (new["status"], new["_batch_id"], new["_is_current"]) == ("在业", day2, True)
        assert old["_valid_to"] == new["_valid_from"] == new["_ingested_at"] and new["_valid_to"] is None
        # "what was its status then": the version valid at an instant between the two ingests
        between = old["_valid_from"] + (new["_valid_from"] - old["_valid_from"]) / 2
        assert [r["status"] for r in by_key[key] if r["_valid_from"] <= between and
                (r["_valid_to"] is None or r["_valid_to"] > between)] == ["存续"]
    # the backlog: day 3 applied after day 2, both learnt at one instant, so day 2's version is valid for none
    versions = [(r["status"], r["_batch_id"], r["_is_current"]) for r in by_key[moved]]
    assert sorted(versions) == sorted([("存续", day1, False), ("在业", day2, False), ("迁出", day3, True)])
    day2_version = next(r for r in by_key[moved] if r["_batch_id"] == day2)
    assert day2_version["_valid_from"] == day2_version["_valid_to"]
    # unchanged re-deliveries (day 2's UNCHANGED, day 3's all but one) made no version
    assert sum(1 for v in by_key.values() for r in v if r["_batch_id"] == day2) == NEW + CHANGED
    assert sum(1 for v in by_key.values() for r in v if r["_batch_id"] == day3) == 1


def test_an_unchanged_redelivery_stages_nothing_commits_nothing_and_the_ledger_balances(history_lake, catalog, spark):
    from jobs.io import ops
    from jobs.transforms import versions

    settings, (_, _, day3), _, _ = history_lake
    res = catalog.resource(RESOURCE)
    ledger = {r.step: r for r in ops.read(spark, settings, "ledger", RESOURCE).collect() if r.batch_id == day3}
    day3_rows = CHANGED + UNCHANGED + NEW
    assert ledger["conform"].rows_read == ledger["conform"].rows_accepted == ledger["validate"].rows_accepted == \
        day3_rows
    assert (f"0 new record(s), 1 new version(s) (earlier ones closed), {day3_rows - 1} unchanged"
            in ledger["validate"].detail), ledger["validate"].detail
    # silver's current rows offered again as a batch: nothing to stage, and a MERGE of nothing commits nothing
    path = settings.table_path("silver", RESOURCE)
    silver = delta.read(spark, path)
    staged = versions.staged_versions(versions.current(silver, res), silver, res)
    assert staged.count() == 0
    before = delta.version(spark, path)
    assert delta.merge_versions(spark, staged, path, condition=versions.merge_condition(res),
                                close=versions.closing_update()) == {"inserted": 0, "updated": 0, "source": 0}
    assert delta.version(spark, path) == before


def test_open_table_holds_the_current_rows_unless_the_entry_opens_the_history(history_lake, tmp_path):
    import shutil

    from jobs.settings import BUILTIN_CATALOG
    from jobs.steps import publish

    settings, _, changed, first_rows = history_lake
    current = {r["credit_code"]: r["status"] for r in silver_rows(settings) if r["_is_current"]}
    publish(RESOURCE, settings=settings)
    opened = DeltaTable(table_uri(settings.table_path("open", RESOURCE))).to_pyarrow_table()
    assert "valid_from" not in opened.column_names
    assert dict(zip(opened["credit_code"].to_pylist(), opened["status"].to_pylist(), strict=True)) == current
    # the same lake under an entry that opens its history: every version, with its validity
    catalog_copy = tmp_path / "schemas"
    shutil.copytree(BUILTIN_CATALOG, catalog_copy)
    entry = catalog_copy / "market_regulation" / "market_entities.yaml"
    entry.write_text(entry.read_text(encoding="utf-8") + "open: {history: true}\n", encoding="utf-8")
    from dataclasses import replace

    publish(RESOURCE, settings=replace(settings, catalog_dirs=(catalog_copy,)))
    versions = DeltaTable(table_uri(settings.table_path("open", RESOURCE))).to_pyarrow_table().to_pylist()
    assert len(versions) == first_rows + NEW + CHANGED + 1
    closed = [r for r in versions if r["valid_to"] is not None]
    assert {r["credit_code"] for r in closed} == changed and {r["status"] for r in closed} == {"存续", "在业"}
