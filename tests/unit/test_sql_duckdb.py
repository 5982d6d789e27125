"""`citylake sql --engine duckdb`: the lake's tables by their Spark names, read through delta-rs, no JVM.

A tiny lake is written with delta-rs where `Settings.table_path` puts the tables; the CLI runs on it as an
analyst runs it (`CITYLAKE_HOME`), and its stdout is parsed back. One test compares the Spark engine's
`--json` with DuckDB's on the same lake (it needs the shared SparkSession), one runs on a real S3 server.
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import write_deltalake
from deltalake.exceptions import DeltaError

from jobs.cli import EXIT_USAGE, main
from jobs.io.query import default_engine
from jobs.settings import REPO_ROOT, Settings

APPEALS = pa.table({
    "appeal_id": ["A1", "A2", "A3", "A4"],
    "district": ["锦江区", "青羊区", None, "锦江区"],
    "status": ["办结", "open", "open", "办结"],
    "amount": pa.array([Decimal("12.50"), Decimal("0.00"), None, Decimal("1234567890.05")], pa.decimal128(14, 2)),
    "received_at": pa.array([datetime(2026, 11, 26, 1, 0, tzinfo=UTC),
                             datetime(2026, 11, 26, 2, 30, 0, 500000, tzinfo=UTC),
                             None, datetime(2026, 11, 25, 16, 0, tzinfo=UTC)], pa.timestamp("us", tz="UTC")),
    "satisfaction": pa.array([5, 3, None, 4], pa.int32()),
})
OPEN = pa.table({"appeal_id": ["A1", "A2", "A4"], "district": ["锦江区", "青羊区", "锦江区"],
                 "score": [1.5, float("nan"), 2.0]})
LEDGER = pa.table({"resource": ["sqltest_appeals"], "batch_id": ["b1"], "rows_read": pa.array([4], pa.int64())})

JOIN = ("SELECT s.appeal_id, s.district, s.amount, s.received_at, o.score, l.batch_id "
        "FROM silver.sqltest_appeals s JOIN open.sqltest_appeals o ON o.appeal_id = s.appeal_id "
        "JOIN ops.ledger l ON l.resource = 'sqltest_appeals' ORDER BY s.appeal_id")
JOIN_ROWS = [
    {"appeal_id": "A1", "district": "锦江区", "amount": "12.50", "received_at": "2026-11-26T09:00:00+08:00",
     "score": 1.5, "batch_id": "b1"},
    {"appeal_id": "A2", "district": "青羊区", "amount": "0.00", "received_at": "2026-11-26T10:30:00.500000+08:00",
     "score": "NaN", "batch_id": "b1"},
    {"appeal_id": "A4", "district": "锦江区", "amount": "1234567890.05", "received_at": "2026-11-26T00:00:00+08:00",
     "score": 2.0, "batch_id": "b1"},
]


def write_lake(settings: Settings, *, options: dict[str, str] | None = None) -> None:
    """A table in each of three zones."""
    from jobs.io.deltars import table_uri

    for zone, name, data in (("silver", "sqltest_appeals", APPEALS), ("open", "sqltest_appeals", OPEN),
                             ("ops", "ledger", LEDGER)):
        write_deltalake(table_uri(settings.table_path(zone, name)), data, storage_options=options)


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """CITYLAKE_HOME on a fresh embedded lake (no developer setting leaks in)."""
    for var in ("CITYLAKE_PROFILE", "CITYLAKE_LAKE", "CITYLAKE_METASTORE_URL", "CITYLAKE_S3_ENDPOINT",
                "CITYLAKE_S3_ACCESS_KEY", "CITYLAKE_S3_SECRET_KEY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("CITYLAKE_HOME", str(tmp_path))
    settings = Settings(home=tmp_path)
    write_lake(settings)
    (Path(settings.table_path("silver", "sqltest_not_a_table"))).mkdir()
    return tmp_path


def sql(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["sql", "--engine", "duckdb", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_join_across_zones_as_json(home, capsys):
    code, out, err = sql(capsys, "--json", JOIN)
    assert code == 0, err
    assert json.loads(out) == JOIN_ROWS


def test_csv_has_a_header_and_the_json_text_per_cell(home, capsys):
    code, out, err = sql(capsys, "--csv", "SELECT appeal_id, district, amount, received_at, satisfaction, "
                                          "[1, 2] AS tags FROM silver.sqltest_appeals ORDER BY appeal_id")
    assert code == 0, err
    assert list(csv.reader(io.StringIO(out))) == [
        ["appeal_id", "district", "amount", "received_at", "satisfaction", "tags"],
        ["A1", "锦江区", "12.50", "2026-11-26T09:00:00+08:00", "5", "[1, 2]"],
        ["A2", "青羊区", "0.00", "2026-11-26T10:30:00.500000+08:00", "3", "[1, 2]"],
        ["A3", "", "", "", "", "[1, 2]"],
        ["A4", "锦江区", "1234567890.05", "2026-11-26T00:00:00+08:00", "4", "[1, 2]"],
    ]


def test_table_output_is_aligned_and_says_when_it_is_cut(home, capsys):
    code, out, err = sql(capsys, "--limit", "2", "SELECT appeal_id, district, status, amount, received_at "
                                                 "FROM silver.sqltest_appeals ORDER BY appeal_id")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[-1] == "(4 rows, showing 2)"
    grid = lines[:-1]
    assert grid == [  # wide characters take two columns; widths are those of the rows shown
        "+---------+--------+------+------+---------------------+",
        "|appeal_id|district|status|amount|received_at          |",
        "+---------+--------+------+------+---------------------+",
        "|A1       |锦江区  |办结  |12.50 |2026-11-26 09:00:00  |",
        "|A2       |青羊区  |open  |0.00  |2026-11-26 10:30:00.5|",
        "+---------+--------+------+------+---------------------+",
    ]
    code, out, _ = sql(capsys, "SELECT count(*) AS n, count(district) AS districts FROM silver.sqltest_appeals")
    assert out.splitlines()[-2:] == ["+-+---------+", "(1 row)"] and "|4|3        |" in out


def test_unknown_table_exits_2_naming_it(home, capsys):
    code, out, err = sql(capsys, "SELECT * FROM silver.sqltest_apeals")
    assert code == EXIT_USAGE
    assert "QueryError: unknown table silver.sqltest_apeals" in err
    assert "did you mean silver.sqltest_appeals?" in err and out == ""
    code, _, err = sql(capsys, "SELECT * FROM silver.sqltest_not_a_table")  # a folder without _delta_log
    assert code == EXIT_USAGE and "unknown table silver.sqltest_not_a_table" in err


def test_bad_sql_exits_2_with_the_engine_message(home, capsys):
    code, out, err = sql(capsys, "SELEC * FROM silver.sqltest_appeals")
    assert code == EXIT_USAGE and out == ""
    assert "QueryError: Parser Error: syntax error at or near \"SELEC\"" in err
    code, _, err = sql(capsys, "SELECT no_such_column FROM silver.sqltest_appeals")
    assert code == EXIT_USAGE and "no_such_column" in err


def test_only_the_tables_a_query_names_are_opened(home, capsys):
    """bronze.sqltest_broken has an unreadable log: a query not naming it never reads it."""
    broken = home / "lake" / "bronze" / "sqltest_broken" / "_delta_log"
    broken.mkdir(parents=True)
    (broken / "00000000000000000000.json").write_text("not a delta log\n", encoding="utf-8")
    code, out, err = sql(capsys, "--json", "SELECT count(*) AS n FROM silver.sqltest_appeals s "
                                           "JOIN ops.ledger l ON l.rows_read = 4 WHERE s.status = 'open'")
    assert code == 0, err
    assert json.loads(out) == [{"n": 2}]
    code, _, err = sql(capsys, "SELEC * FROM silver.sqltest_appeals")  # reported before any table is opened
    assert code == EXIT_USAGE and "syntax error" in err
    with pytest.raises(DeltaError) as caught:  # not the query's fault: delta-rs' own error, naming the table
        sql(capsys, "SELECT * FROM bronze.sqltest_broken")
    assert "bronze.sqltest_broken" in " ".join(caught.value.__notes__)


def test_duckdb_is_the_embedded_default_and_never_imports_pyspark(home):
    code = ("import sys; from jobs.cli import main; rc = main(['sql', '--json', sys.argv[1]]); "
            "print('PYSPARK' if 'pyspark' in sys.modules else 'NO-PYSPARK', file=sys.stderr); sys.exit(rc)")
    done = subprocess.run([sys.executable, "-c", code, JOIN], cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == JOIN_ROWS
    assert done.stderr.strip().splitlines()[-1] == "NO-PYSPARK"


def test_spark_stays_the_default_with_a_cluster(tmp_path):
    assert default_engine(Settings(home=tmp_path)) == "duckdb"
    assert default_engine(Settings(home=tmp_path, metastore_url="jdbc:postgresql://db/hive")) == "spark"
    assert default_engine(Settings(home=tmp_path, profile="production", lake_location="s3a://lake/lake",
                                   metastore_url="jdbc:postgresql://db/hive")) == "spark"


def test_lake_on_s3_is_listed_and_read_with_boto3_and_delta_rs(s3_server, tmp_path, monkeypatch, capsys):
    from jobs.io.deltars import storage_options
    from jobs.io.lake_tables import lake_tables

    bucket = "sql-duckdb"
    s3_server.client().create_bucket(Bucket=bucket)
    env = {"CITYLAKE_HOME": str(tmp_path), "CITYLAKE_LAKE": f"s3a://{bucket}/lake",
           "CITYLAKE_S3_ENDPOINT": s3_server.endpoint_url, "CITYLAKE_S3_ACCESS_KEY": s3_server.access_key,
           "CITYLAKE_S3_SECRET_KEY": s3_server.secret_key}
    monkeypatch.delenv("CITYLAKE_PROFILE", raising=False)
    monkeypatch.delenv("CITYLAKE_METASTORE_URL", raising=False)
    for var, value in env.items():
        monkeypatch.setenv(var, value)
    settings = Settings(home=tmp_path, lake_location=env["CITYLAKE_LAKE"], s3_endpoint=s3_server.endpoint_url,
                        s3_access_key=s3_server.access_key, s3_secret_key=s3_server.secret_key)
    write_lake(settings, options=storage_options(settings))
    s3_server.client().put_object(Bucket=bucket, Key="lake/silver/sqltest_not_a_table/part-0.parquet", Body=b"")

    assert [t.qualified for t in lake_tables(settings, ("silver", "open", "ops", "bronze"))] == [
        "silver.sqltest_appeals", "open.sqltest_appeals", "ops.ledger"]
    code, out, err = sql(capsys, "--json", JOIN)
    assert code == 0, err
    assert json.loads(out) == JOIN_ROWS
    code, _, err = sql(capsys, "SELECT * FROM silver.sqltest_not_a_table")
    assert code == EXIT_USAGE and "unknown table silver.sqltest_not_a_table" in err


@pytest.mark.spark
def test_spark_engine_prints_the_same_json(home, spark, capsys, monkeypatch):
    """`--engine spark --json` on the same lake: the same rows, text and types as DuckDB's, even when the
    session answered for another lake before (its `ops.ledger` must not shadow this lake's)."""
    other = home / "other"
    monkeypatch.setenv("CITYLAKE_HOME", str(other))
    from jobs.io.deltars import table_uri

    write_deltalake(table_uri(Settings(home=other).table_path("ops", "ledger")),
                    pa.table({"resource": ["elsewhere"], "batch_id": ["x"], "rows_read": pa.array([1], pa.int64())}))
    assert main(["sql", "--engine", "spark", "--json", "SELECT resource FROM ops.ledger"]) == 0
    assert json.loads(capsys.readouterr().out) == [{"resource": "elsewhere"}]
    monkeypatch.setenv("CITYLAKE_HOME", str(home))
    assert main(["sql", "--engine", "spark", "--json", JOIN]) == 0
    assert json.loads(capsys.readouterr().out) == JOIN_ROWS
    assert main(["sql", "--engine", "spark", "SELECT * FROM silver.sqltest_no_such_table"]) == EXIT_USAGE
    assert "sqltest_no_such_table" in capsys.readouterr().err
