"""The whole path on a temporary lake with real Spark, Delta and Great Expectations:
landing -> bronze -> silver + quarantine -> validated -> open table and CSV."""

from __future__ import annotations

import csv
import json
from datetime import date, datetime

import pytest
from pyspark.sql import functions as F

from jobs.errors import FilesRejected, ValidationFailed
from jobs.io import delta, ops
from jobs.io.landing import LocalLanding
from jobs.io.tables import register_tables
from jobs.sample.generator import DEFECTS, generate, write_export
from jobs.steps import conform, ingest, publish, run, validate

pytestmark = pytest.mark.spark

DAY = date(2026, 11, 26)
NOW = datetime(2026, 11, 27, 1, 0, 0)
ROWS = 300
#: Where each seeded defect must end up: the rule the sample generator's defect table names.
EXPECTED_RULE = {kind: defect.rule for kind, defect in DEFECTS.items()}


def latest_csv(settings):
    return settings.open_files / "datasets" / "citizen_appeals" / "latest" / "510100_1101-00001.csv"


@pytest.fixture(scope="module")
def published(tmp_path_factory, spark, catalog, settings_for):
    """One full run of the appeals resource, shared by the assertions below."""
    settings = settings_for(tmp_path_factory.mktemp("pipeline") / "home")
    res = catalog.resource("citizen_appeals")
    export = write_export(res, settings.landing, day=DAY, rows=ROWS)
    result = run("citizen_appeals", settings=settings, now=NOW)
    return settings, res, export, result


def test_ledger_balances(published, spark):
    settings, _, export, result = published
    assert result["ingest"][0]["status"] == "ingested" and result["ingest"][0]["rows_read"] == ROWS
    conf = result["conform"][0]
    assert conf["rows_read"] == conf["rows_accepted"] + conf["rows_quarantined"] == ROWS
    assert conf["rows_quarantined"] == len(export.defects)
    ledger = ops.read(spark, settings, "ledger", "citizen_appeals").where(F.col("step") == "conform").first()
    assert (ledger.rows_read, ledger.rows_accepted, ledger.rows_quarantined) == (
        ROWS, ROWS - len(export.defects), len(export.defects))
    bronze = delta.read(spark, settings.table_path("bronze", "citizen_appeals"))
    silver = delta.read(spark, settings.table_path("silver", "citizen_appeals"))
    quarantine = delta.read(spark, settings.table_path("quarantine", "citizen_appeals"))
    assert bronze.count() == silver.count() + quarantine.count() == ROWS


def test_each_defect_class_is_quarantined_with_its_reason(published, spark):
    settings, _, export, _ = published
    quarantine = delta.read(spark, settings.table_path("quarantine", "citizen_appeals")).collect()
    by_line = {r["_row_number"]: r for r in quarantine}
    assert set(by_line) == {d.line for d in export.defects}
    for d in export.defects:
        reasons = [(x.rule, x.field) for x in by_line[d.line]["reasons"]]
        assert (EXPECTED_RULE[d.kind], d.field) in reasons, (d, reasons)
        assert by_line[d.line][d.field] == (d.value or None) or d.kind == "missing_required"
        assert by_line[d.line]["_source_file"].endswith("citizen_appeals_20261126.csv")


def test_bronze_keeps_lineage(published, spark):
    settings, _, export, _ = published
    bronze = delta.read(spark, settings.table_path("bronze", "citizen_appeals"))
    row = bronze.where(F.col("_row_number") == 2).first()
    assert row["appeal_id"] == "GD2026112600000001"
    assert len(row["_source_sha256"]) == 64 and row["_batch_id"] == row["_source_sha256"][:16]
    assert bronze.select(F.countDistinct("_row_number")).first()[0] == ROWS


def test_validation_results_and_data_docs(published, spark):
    settings, _, _, result = published
    assert result["validate"][0]["success"] is True
    vals = ops.read(spark, settings, "validations", "citizen_appeals")
    assert vals.count() == result["validate"][0]["expectations"] > 10
    assert (settings.ops / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html").exists()


def test_no_raw_phone_or_id_reaches_open_table_or_csv(published, spark):
    settings, res, export, result = published
    rows, _ = generate(res, day=DAY, rows=ROWS)
    phones = {r["appellant_phone"] for r in rows if r["appellant_phone"]}
    ids = {r["appellant_id_no"] for r in rows if r["appellant_id_no"]}
    names = {r["appellant_name"] for r in rows if len(r["appellant_name"]) > 1}
    open_df = delta.read(spark, settings.table_path("open", "citizen_appeals"))
    assert "appellant_id_no" not in open_df.columns and "content" not in open_df.columns
    values = {v for r in open_df.collect() for v in r.asDict().values() if isinstance(v, str)}
    assert not values & (phones | ids | names)
    text = latest_csv(settings).read_text(encoding="utf-8-sig")
    assert not any(p in text for p in phones | ids)
    assert "****" in text
    detail = result["publish"]["tables"]["citizen_appeals"]
    assert detail["rows"] == open_df.count()
    assert detail["rows"] + detail["suppressed"] == ROWS - len(export.defects)  # k-anonymity, counted


def test_csv_opens_in_excel_encoding(published):
    settings, res, _, _ = published
    raw = latest_csv(settings).read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(raw.decode("utf-8-sig").splitlines()))
    assert rows[0][0] == "工单编号" and "诉求人姓名" in rows[0] and "身份证号码" not in rows[0]


def test_open_catalog_row(published, spark):
    settings, res, _, _ = published
    row = delta.read(spark, settings.table_path("open", "catalog")).where(F.col("code") == res.code).first()
    assert row.title == "市民诉求工单" and row.open_type == "无条件开放" and row.update_cycle == "每日"
    fields = {f["name"]: f["deidentification"] for f in row.fields}
    assert fields["appellant_phone"] == "masking (phone)" and "appellant_id_no" not in fields


def test_open_table_reads_without_a_jvm(published):
    from deltalake import DeltaTable

    settings, _, export, _ = published
    frame = DeltaTable(str(settings.table_path("open", "citizen_appeals"))).to_pandas()
    assert len(frame) == published[3]["publish"]["tables"]["citizen_appeals"]["rows"] > 0
    assert frame["appellant_phone"].str.contains(r"^\d{3}\*{4}\d{4}$").all()


def test_tables_have_names_for_sql(published, spark):
    settings, _, export, _ = published
    names = register_tables(spark, settings)
    assert {"bronze.citizen_appeals", "silver.citizen_appeals", "open.citizen_appeals", "ops.ledger"} <= set(names)
    assert spark.sql("select count(*) from silver.citizen_appeals").first()[0] == ROWS - len(export.defects)


def test_same_file_twice_adds_nothing(published, spark):
    settings, res, export, _ = published
    archived = next((settings.landing / res.provider / res.name / "archive").rglob("*.csv"))
    LocalLanding(settings.landing).deliver(archived, res, "citizen_appeals_20261126_resent.csv")
    out = ingest("citizen_appeals", settings=settings, now=NOW)
    assert [o["status"] for o in out] == ["duplicate"]
    assert conform("citizen_appeals", settings=settings, now=NOW) == []
    assert delta.read(spark, settings.table_path("bronze", "citizen_appeals")).count() == ROWS
    ledger = ops.read(spark, settings, "ledger", "citizen_appeals").where(F.col("step") == "conform")
    assert ledger.count() == 1


def test_retried_bronze_append_is_a_no_op(lake, spark):
    path = lake.table_path("bronze", "t")
    frame = spark.range(5)
    delta.append_once(frame, path, txn_app_id="bronze:abc")
    delta.append_once(frame, path, txn_app_id="bronze:abc")
    delta.append_once(frame, path, txn_app_id="bronze:def")
    assert delta.read(spark, path).count() == 10


def test_undecodable_file_is_rejected_whole(lake, spark, appeals):
    folder = lake.landing / appeals.provider / appeals.name
    folder.mkdir(parents=True)
    header = ",".join(i.title for i in appeals.items).encode("gb18030") + b"\r\n"
    (folder / "citizen_appeals_bad.csv").write_bytes(header + b"GD1,\x81\x30\xff\x30\r\n")
    (folder / "citizen_appeals_bad.csv.ok").touch()
    with pytest.raises(FilesRejected) as rejected:
        ingest("citizen_appeals", settings=lake, now=NOW)
    out = rejected.value.outcomes
    assert out[0]["status"] == "rejected" and f"byte offset {len(header) + 4}" in out[0]["detail"]
    assert "citizen_appeals_bad.csv" in str(rejected.value) and "1 of 1 file(s) rejected" in str(rejected.value)
    assert (folder / "rejected" / "citizen_appeals_bad.csv").exists()
    assert "byte offset" in (folder / "rejected" / "citizen_appeals_bad.csv.reason.txt").read_text(encoding="utf-8")
    entry = ops.read(spark, lake, "manifest", "citizen_appeals").first()
    assert entry.status == "rejected"


def test_failed_error_expectation_blocks_publish(lake, spark, appeals):
    from jobs.catalog.suite import suite_document

    doc = suite_document(appeals)
    doc["expectations"].append({"type": "expect_table_row_count_to_be_between",
                                "kwargs": {"min_value": 0, "max_value": 3}, "severity": "critical", "meta": {}})
    (lake.home / "exp").mkdir(parents=True)
    (lake.home / "exp" / "citizen_appeals.json").write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    from dataclasses import replace

    settings = replace(lake, expectations_dir=lake.home / "exp")
    silver, open_ = settings.table_path("silver", "citizen_appeals"), settings.table_path("open", "citizen_appeals")
    write_export(appeals, settings.landing, day=DAY, rows=3, defect_rate=0)
    first = run("citizen_appeals", settings=settings, now=NOW)["publish"]["tables"]["citizen_appeals"]
    assert first["rows"] + first["suppressed"] == 3
    versions = delta.version(spark, silver), delta.version(spark, open_)

    write_export(appeals, settings.landing, day=date(2026, 11, 27), rows=20, defect_rate=0)
    ingest("citizen_appeals", settings=settings, now=NOW)
    batch = conform("citizen_appeals", settings=settings, now=NOW)[0]["batch_id"]
    with pytest.raises(ValidationFailed, match="expect_table_row_count_to_be_between.*silver is unchanged|"
                                               "silver is unchanged.*expect_table_row_count_to_be_between"):
        validate("citizen_appeals", settings=settings, now=NOW)
    assert (delta.version(spark, silver), delta.read(spark, silver).count()) == (versions[0], 3)
    audit = delta.read(spark, settings.table_path("audit", "citizen_appeals"))
    assert audit.where(F.col("_batch_id") == batch).count() == 20  # kept for inspection, never merged
    with pytest.raises(ValidationFailed, match="failed validation"):
        publish("citizen_appeals", settings=settings, now=NOW)
    assert delta.version(spark, open_) == versions[1]
    assert_history_page(settings, batches=2, failed=1)


def assert_history_page(settings, *, batches: int, failed: int) -> None:
    """The resource's page in Data Docs lists every validated batch and links to GX's page of each."""
    import re

    from jobs.io.quality import gx_context, history_page

    page = history_page(settings.ops, "citizen_appeals")
    text = page.read_text(encoding="utf-8")
    assert f"batches validated: {batches}" in text and "市民诉求工单" in text
    assert text.count("未通过 failed") == failed
    links = re.findall(r'<a href="\.\./(validations/[^"]+)">', text)
    assert len(links) == batches and all((page.parent.parent / link).exists() for link in links)
    assert "citizen_appeals.html" in (page.parent / "index.html").read_text(encoding="utf-8")
    checkpoint = gx_context(settings.ops).checkpoints.get("citizen_appeals")
    assert [a.type for a in checkpoint.actions] == ["update_data_docs", "citylake_resource_history"]


def test_failed_warning_is_recorded_and_publish_proceeds(lake, spark, appeals):
    """A hand-written expectation GX evaluates itself (not one-pass), severity warning, failing."""
    from dataclasses import replace

    from jobs.catalog.suite import suite_document

    doc = suite_document(appeals)
    doc["expectations"].append({"type": "expect_column_unique_value_count_to_be_between",
                                "kwargs": {"column": "satisfaction", "max_value": 1},
                                "severity": "warning", "meta": {"owner": "12345 data team"}})
    (lake.home / "exp").mkdir(parents=True)
    (lake.home / "exp" / "citizen_appeals.json").write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    settings = replace(lake, expectations_dir=lake.home / "exp")
    write_export(appeals, settings.landing, day=DAY, rows=30)
    out = run("citizen_appeals", settings=settings, now=NOW)
    assert out["validate"][0]["success"] is True
    assert out["validate"][0]["failed_warnings"][0].startswith(
        "expect_column_unique_value_count_to_be_between(satisfaction)")
    assert out["publish"]["status"] == "published"
    ledger = ops.read(spark, settings, "ledger", "citizen_appeals").where(F.col("step") == "validate").first()
    assert ledger.status == "ok" and ledger.rows_warned == 1
    vals = ops.read(spark, settings, "validations", "citizen_appeals")
    assert vals.where(~F.col("success")).select("expectation").collect()[0][0] == \
        "expect_column_unique_value_count_to_be_between"
    docs = settings.ops / "gx" / "uncommitted" / "data_docs" / "local_site"
    assert list((docs / "validations").rglob("*.html"))


def test_downloads_hold_exactly_the_open_table(published, spark):
    """The four files of the published version hold the open table's rows, no more, no fewer, in the order
    the catalog gives (the files are made from the table version itself, read back by delta-rs)."""
    import pyarrow.parquet as pq
    from openpyxl import load_workbook

    settings, _, _, _ = published
    table = delta.read(spark, settings.table_path("open", "citizen_appeals"))
    expected = [tuple(r) for r in table.orderBy("appeal_id").collect()]  # the primary key orders a detail table
    folder = latest_csv(settings).parent
    parquet = [tuple(r.values()) for r in pq.read_table(folder / "510100_1101-00001.parquet").to_pylist()]
    assert len(expected) > 10  # k-anonymity suppresses part of the 300 rows
    assert parquet == expected
    as_csv = list(csv.reader(latest_csv(settings).read_bytes().decode("utf-8-sig").splitlines()))[1:]
    text = [["" if v is None else v.strftime("%Y-%m-%d %H:%M:%S") if isinstance(v, datetime) else str(v)
             for v in row] for row in expected]
    assert as_csv == text
    as_json = json.loads((folder / "510100_1101-00001.json").read_text(encoding="utf-8"))
    assert [r["appeal_id"] for r in as_json] == [row[table.columns.index("appeal_id")] for row in expected]
    book = load_workbook(folder / "510100_1101-00001.xlsx", read_only=True)
    sheet = [list(r) for r in book.worksheets[0].iter_rows(values_only=True)]
    assert len(sheet) == len(expected) + 1 and [r[table.columns.index("appeal_id")] for r in sheet[1:]] == [
        row[table.columns.index("appeal_id")] for row in expected]
