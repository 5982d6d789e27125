"""The lake over time: every version of a table says which batch of which step wrote it, silver keeps a
Change Data Feed that delta-rs reads, and `citylake sql --as-of` reads a table as it was (no JVM).

Two days of market entities on a real lake: day 2 re-delivers some entities with a changed registration
status, some unchanged, and some new ones, so the MERGE of day 2 inserts and updates.
"""

from __future__ import annotations

import io
import json
from datetime import date, datetime, timedelta

import pyarrow as pa
import pytest
from deltalake import DeltaTable

from jobs.cli import EXIT_USAGE, main
from jobs.errors import QueryError
from jobs.io import delta
from jobs.io.deltars import table_uri
from jobs.io.history import commit_note, parse_note
from jobs.io.query import run_query
from jobs.sample.generator import make_rows
from jobs.sample.writers import write_csv
from jobs.steps import conform, ingest, validate

pytestmark = pytest.mark.spark

RESOURCE = "market_entities"
DAYS = (date(2026, 11, 26), date(2026, 11, 27))
CHANGED, UNCHANGED, NEW = 5, 3, 4


def deliver(res, settings, day: date, rows: list[dict]) -> None:
    folder = settings.landing / res.provider / res.name
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{res.name}_{day:%Y%m%d}.csv"
    write_csv(res, rows, path, day=day, seed=1)
    path.with_name(path.name + res.source.marker_suffix).touch()


def promote(settings, day: date) -> str:
    """ingest -> conform -> validate of the day's export; returns its batch id."""
    now = datetime.combine(day + timedelta(days=1), datetime.min.time()).replace(hour=1)
    batch = ingest(RESOURCE, settings=settings, now=now)[0]["batch_id"]
    conform(RESOURCE, settings=settings, now=now)
    validate(RESOURCE, settings=settings, now=now)
    return batch


@pytest.fixture(scope="module")
def two_days(tmp_path_factory, spark, catalog, settings_for):
    settings = settings_for(tmp_path_factory.mktemp("history") / "home")
    res = catalog.resource(RESOURCE)
    first, _ = make_rows(res, day=DAYS[0], rows=30, defect_rate=0)
    existing = [r for r in first if r["status"] == "存续"]
    assert len(existing) >= CHANGED + UNCHANGED
    changed = [{**r, "status": "在业"} for r in existing[:CHANGED]]
    unchanged = existing[CHANGED:CHANGED + UNCHANGED]
    fresh, _ = make_rows(res, day=DAYS[1], rows=NEW, seed=777, defect_rate=0)
    deliver(res, settings, DAYS[0], first)
    batches = [promote(settings, DAYS[0])]
    deliver(res, settings, DAYS[1], [*changed, *unchanged, *fresh])
    batches.append(promote(settings, DAYS[1]))
    return settings, batches, {r["credit_code"] for r in changed}, len(first)


def cli_json(capsys, *argv: str) -> list[dict]:
    assert main([*argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_each_version_names_its_operation_rows_and_batch(two_days, capsys, monkeypatch):
    settings, (day1, day2), _, first_rows = two_days
    monkeypatch.setenv("CITYLAKE_HOME", str(settings.home))
    silver = cli_json(capsys, "history", f"silver.{RESOURCE}")
    assert [v["version"] for v in silver] == list(range(len(silver) - 1, -1, -1))  # newest first, none missing
    by_op = {v["operation"]: v for v in silver}
    assert by_op["CREATE TABLE"]["rows_added"] is None
    write, merge = by_op["WRITE"], by_op["MERGE"]
    assert (write["batch"], write["step"], write["rows_added"]) == (day1, "validate", first_rows)
    assert (merge["batch"], merge["step"]) == (day2, "validate")
    assert (merge["rows_added"], merge["rows_updated"]) == (NEW, CHANGED + UNCHANGED)
    assert merge["version"] == silver[0]["version"] and datetime.fromisoformat(merge["timestamp"]).tzinfo
    assert merge["engine"].startswith("Apache-Spark")
    # the other zones' commits say the same: bronze by ingest, audit appended by conform, emptied by validate
    bronze = cli_json(capsys, "history", f"bronze.{RESOURCE}")
    assert [(v["batch"], v["step"], v["rows_added"]) for v in bronze if v["operation"] == "WRITE"] == [
        (day2, "ingest", CHANGED + UNCHANGED + NEW), (day1, "ingest", first_rows)]
    audit = cli_json(capsys, "history", f"audit.{RESOURCE}")
    assert [(v["operation"], v["batch"], v["step"]) for v in audit if v["batch"] == day2] == [
        ("DELETE", day2, "validate"), ("WRITE", day2, "conform")]
    assert cli_json(capsys, "history", f"silver.{RESOURCE}", "--limit", "1") == silver[:1]


def test_silver_change_feed_reads_with_delta_rs(two_days):
    settings, (_, day2), changed, _ = two_days
    table = DeltaTable(table_uri(settings.table_path("silver", RESOURCE)))
    assert table.metadata().configuration.get("delta.enableChangeDataFeed") == "true"
    merge = max(h["version"] for h in table.history() if h["operation"] == "MERGE")
    feed = pa.table(table.load_cdf(starting_version=merge)).to_pylist()
    kinds = {}
    for row in feed:
        kinds.setdefault(row["_change_type"], []).append(row)
    assert {k: len(v) for k, v in kinds.items()} == {
        "insert": NEW, "update_preimage": CHANGED + UNCHANGED, "update_postimage": CHANGED + UNCHANGED}
    assert {r["_commit_version"] for r in feed} == {merge}
    before = {r["credit_code"]: r["status"] for r in kinds["update_preimage"]}
    after = {r["credit_code"]: r["status"] for r in kinds["update_postimage"]}
    assert {k for k in after if before[k] != after[k]} == changed
    assert {after[k] for k in changed} == {"在业"} and {before[k] for k in changed} == {"存续"}


def query(settings, sql: str, **kw) -> list[dict]:
    out = io.StringIO()
    run_query(sql, settings, engine="duckdb", output="json", out=out, **kw)
    return json.loads(out.getvalue())


def test_sql_as_of_a_version_or_an_instant(two_days):
    settings, _, changed, first_rows = two_days
    key = sorted(changed)[0]
    sql = f"SELECT status FROM silver.{RESOURCE} WHERE credit_code = '{key}'"
    history = DeltaTable(table_uri(settings.table_path("silver", RESOURCE))).history()
    write = next(h for h in history if h["operation"] == "WRITE")
    assert query(settings, sql) == [{"status": "在业"}]
    assert query(settings, sql, as_of=write["version"]) == [{"status": "存续"}]
    # an instant reads the version current then: just after day 1's write, before day 2's MERGE
    instant = datetime.fromtimestamp(write["timestamp"] / 1000).astimezone()
    assert query(settings, sql, as_of=instant) == [{"status": "存续"}]
    assert query(settings, f"SELECT count(*) AS n FROM silver.{RESOURCE}", as_of=instant) == [{"n": first_rows}]
    # an instant applies to every table the query names
    both = (f"SELECT (SELECT count(*) FROM silver.{RESOURCE}) AS s, "
            f"(SELECT count(*) FROM bronze.{RESOURCE}) AS b")
    assert query(settings, both, as_of=instant) == [{"s": first_rows, "b": first_rows}]


@pytest.mark.parametrize(("as_of", "engine", "message"), [
    (99, "duckdb", r"silver.market_entities has no version 99: its versions are 0 to \d+"),
    (datetime(2020, 1, 1), "duckdb", r"did not exist at 2020-01-01T00:00:00\+08:00"),
    (1, "spark", r"VERSION AS OF"),
])
def test_as_of_a_version_or_time_the_table_never_had_is_refused(two_days, as_of, engine, message):
    settings, *_ = two_days
    with pytest.raises(QueryError, match=message):
        run_query(f"SELECT * FROM silver.{RESOURCE}", settings, engine=engine, as_of=as_of, out=io.StringIO())


def test_a_version_for_two_tables_or_none_is_refused(two_days):
    settings, *_ = two_days
    with pytest.raises(QueryError, match="versions are per table"):
        run_query(f"SELECT * FROM silver.{RESOURCE} JOIN bronze.{RESOURCE} USING (credit_code)", settings,
                  as_of=1, out=io.StringIO())
    with pytest.raises(QueryError, match="names its lake tables"):
        run_query("SHOW TABLES", settings, as_of=1, out=io.StringIO())


def test_history_of_an_unknown_table_is_a_usage_error(two_days, capsys, monkeypatch):
    settings, *_ = two_days
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
