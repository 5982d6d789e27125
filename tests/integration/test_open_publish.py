"""Open-data publishing on a temporary lake with real Spark and Delta: the open-type gate, de-identified
and k-anonymous detail tables, aggregates, versioned downloads with checksums, and the PII gate that
withdraws a leaking version while the previous one stays served."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from dataclasses import replace
from datetime import date, datetime

import pyarrow.parquet as pq
import pytest
from openpyxl import load_workbook
from pyspark.sql import functions as F

from jobs.errors import PersonalDataLeak
from jobs.io import delta
from jobs.publish import layout
from jobs.publish.records import from_json
from jobs.publish.site import load_records
from jobs.sample.canaries import CANARIES
from jobs.sample.generator import write_export
from jobs.steps import publish, run
from jobs.steps.publish import zone_store
from jobs.transforms.pseudonym import pseudonym_of

pytestmark = pytest.mark.spark

DAY = date(2026, 11, 26)
NOW = datetime(2026, 11, 27, 1, 0, 0)
KEY = "test-only pseudonym key"


@pytest.fixture(scope="module")
def lake3(tmp_path_factory, spark, catalog, settings_for):
    """Three resources, one per open type, run from landing to publish."""
    settings = replace(settings_for(tmp_path_factory.mktemp("open") / "home"), pseudonym_key=KEY)
    results = {}
    for name, rows in (("citizen_appeals", 400), ("service_usage_log", 600), ("leader_instructions", 40)):
        write_export(catalog.resource(name), settings.landing, day=DAY, rows=rows)
        results[name] = run(name, settings=settings, now=NOW)
    return settings, results


def records(settings, zone):
    return {d.name: d for d in load_records(zone_store(settings, zone))}


def test_gate_sends_each_open_type_to_its_zone_only(lake3, spark):
    settings, results = lake3
    public, restricted = records(settings, "open"), records(settings, "restricted")
    assert set(public) == {"citizen_appeals", "citizen_appeals_monthly"}
    assert set(restricted) == {"service_usage_log", "service_usage_log_daily"}
    assert results["service_usage_log"]["publish"]["zone"] == "restricted"
    # 有条件开放: nothing in the public zone's files, catalog or lake tables
    public_keys = zone_store(settings, "open").list()
    assert not any("service_usage_log" in k for k in public_keys)
    assert "service_usage_log" not in (settings.open_files / "catalog.json").read_text(encoding="utf-8")
    assert not delta.exists(spark, settings.table_path("open", "service_usage_log"))
    # 不予开放: nowhere at all
    assert results["leader_instructions"]["publish"]["status"] == "skipped"
    for zone in ("open", "restricted"):
        assert not any("leader_instructions" in k for k in zone_store(settings, zone).list())
        assert not delta.exists(spark, settings.table_path(zone, "leader_instructions"))
    catalog_rows = delta.read(spark, settings.table_path("open", "catalog")).select("name").collect()
    assert {r.name for r in catalog_rows} == {"citizen_appeals", "citizen_appeals_monthly"}


def test_every_distribution_matches_its_checksum_size_and_rows(lake3, spark):
    settings, _ = lake3
    for zone in ("open", "restricted"):
        store = zone_store(settings, zone)
        for d in records(settings, zone).values():
            table_rows = delta.read(spark, settings.table_path(zone, d.name)).count()
            assert {x.format for x in d.distributions} == {"CSV", "JSON", "Parquet", "XLSX"}
            manifest = json.loads(store.read_bytes(f"{layout.version_prefix(d.name, d.version)}/manifest.json"))
            for x in d.distributions:
                data = store.read_bytes(x.path)
                assert hashlib.sha256(data).hexdigest() == x.sha256 and len(data) == x.size
                assert store.read_bytes(x.latest_path) == data
                assert x.rows == d.rows == table_rows
                assert x.file_name.startswith(d.code.replace("/", "_") + "_20261127")
                assert {m["file"]: m["sha256"] for m in manifest["files"]}[x.file_name] == x.sha256


def test_four_formats_hold_the_same_rows(lake3):
    settings, _ = lake3
    d = records(settings, "open")["citizen_appeals"]
    base = settings.open_files
    raw = (base / d.distribution("CSV").path).read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0][:2] == ["工单编号", "受理时间"] and "身份证号码" not in rows[0]
    as_json = json.loads((base / d.distribution("JSON").path).read_text(encoding="utf-8"))
    parquet = pq.read_table(base / d.distribution("Parquet").path)
    sheet = load_workbook(base / d.distribution("XLSX").path, read_only=True).worksheets[0]
    xlsx = list(sheet.iter_rows(values_only=True))
    assert len(rows) - 1 == len(as_json) == parquet.num_rows == len(xlsx) - 1 == d.rows
    assert xlsx[0][0] == "工单编号" and [r[0] for r in xlsx[1:4]] == [r[0] for r in rows[1:4]]
    assert [r["appeal_id"] for r in as_json[:3]] == parquet.column("appeal_id").to_pylist()[:3] == \
        [r[0] for r in rows[1:4]]
    assert sorted(r["appeal_id"] for r in as_json) == [r["appeal_id"] for r in as_json]  # stable order


def test_field_dictionary_states_each_technique(lake3):
    settings, _ = lake3
    path = settings.open_files / layout.latest_fields("citizen_appeals", "510100/1101-00001")
    rows = {r[0]: r[4] for r in csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig")))}
    assert rows["appellant_phone"] == "masking (phone)" and rows["appellant_name"] == "masking (name)"
    assert rows["appellant_id_no"] == rows["content"] == "suppression" and rows["status"] == "none"
    # the record (portal, DCAT, API) lists the same whole entry: published items, then the withheld ones
    appeals = records(settings, "open")["citizen_appeals"]
    listed = {f.name: f.deidentification for f in (*appeals.fields, *appeals.withheld_fields)}
    assert {name: listed[name] for name in rows if name in listed} == {n: t for n, t in rows.items() if n in listed}
    assert {f.name for f in appeals.withheld_fields} >= {"appellant_id_no", "content"}
    assert not {f.name for f in appeals.withheld_fields} & {f.name for f in appeals.fields}
    restricted = records(settings, "restricted")["service_usage_log"]
    techniques = {f.name: f.deidentification for f in restricted.fields}
    assert techniques["user_token"].startswith("pseudonymisation")
    assert techniques["occurred_at"] == "generalisation (hour)"


def test_published_detail_is_k_anonymous_and_nothing_is_lost(lake3, spark):
    settings, results = lake3
    for zone, name, qis in (("open", "citizen_appeals", ["district_code", "category"]),
                            ("restricted", "service_usage_log", ["district_code", "os", "channel", "login_state"])):
        table = delta.read(spark, settings.table_path(zone, name))
        smallest = table.groupBy(*qis).count().agg(F.min("count")).first()[0]
        assert smallest >= 5
        silver = delta.read(spark, settings.table_path("silver", name)).count()
        info = results[name]["publish"]["tables"][name]
        assert info["rows"] + info["suppressed"] == silver and info["suppressed"] > 0


def test_pseudonyms_are_keyed_hmacs_without_digits(lake3, spark):
    settings, _ = lake3
    silver = delta.read(spark, settings.table_path("silver", "service_usage_log"))
    opened = delta.read(spark, settings.table_path("restricted", "service_usage_log"))
    pair = silver.join(opened.select("event_id", F.col("user_token").alias("pseudonym")), "event_id").first()
    assert pair.pseudonym == pseudonym_of(pair.user_token, KEY) != pseudonym_of(pair.user_token, "another key")
    assert opened.where(F.col("user_token").rlike("[0-9]")).count() == 0
    assert opened.select(F.max(F.length("occurred_at"))).first()[0] == len("2026-11-26 13:00")


def test_aggregate_reproduces_silver(lake3, spark):
    settings, _ = lake3
    silver = delta.read(spark, settings.table_path("silver", "citizen_appeals"))
    monthly = delta.read(spark, settings.table_path("open", "citizen_appeals_monthly"))
    assert monthly.agg(F.sum("appeals")).first()[0] == silver.count()
    cell = monthly.orderBy(F.desc("appeals")).first()
    rows = silver.where((F.col("district_code") == cell.district_code) & (F.col("category") == cell.category))
    done = rows.where(F.col("status").isin("已办结", "已回访")).count()
    assert cell.appeals == rows.count() and cell.resolution_rate == round(done / rows.count(), 4)
    record = records(settings, "open")["citizen_appeals_monthly"]
    assert record.kind == "aggregate" and record.chart.dimension == "district_code"
    assert len(record.preview) == record.rows


def test_canaries_reached_silver_but_not_the_open_zone(lake3, spark):
    settings, _ = lake3
    silver = delta.read(spark, settings.table_path("silver", "citizen_appeals"))
    assert silver.where(F.col("appellant_phone") == CANARIES[0].phone).count() > 0
    for key in zone_store(settings, "open").list("datasets/citizen_appeals"):
        data = (settings.open_files / key).read_bytes()
        assert CANARIES[0].phone.encode() not in data and CANARIES[0].resident_id.encode() not in data


def test_republishing_unchanged_silver_changes_nothing(lake3):
    settings, _ = lake3
    before = zone_store(settings, "open").list()
    out = publish("citizen_appeals", settings=settings, now=datetime(2026, 11, 28, 1, 0, 0))
    assert out["status"] == "unchanged" and zone_store(settings, "open").list() == before


def test_pii_gate_withdraws_a_leaking_version_and_keeps_the_previous(lake3, spark):
    settings, _ = lake3
    store = zone_store(settings, "open")
    open_path = settings.table_path("open", "citizen_appeals")
    silver = settings.table_path("silver", "citizen_appeals")
    served = records(settings, "open")["citizen_appeals"]
    catalog_json = store.read_bytes("catalog.json")
    latest_csv = store.read_bytes(served.distribution("CSV").latest_path)
    open_version = delta.version(spark, open_path)
    victim = delta.read(spark, open_path).orderBy("appeal_id").first().appeal_id
    later = datetime(2026, 11, 29, 1, 0, 0)
    for planted, kind in (("市住建局（联系人手机13912345678）", "mobile"), (CANARIES[1].name, "canary")):
        spark.sql(f"UPDATE delta.`{silver}` SET handling_dept = '{planted}' WHERE appeal_id = '{victim}'")
        with pytest.raises(PersonalDataLeak, match=f"handling_dept \\(\\d+ {kind}.*withdrawn|withdrawn.*"
                                                   f"handling_dept \\(\\d+ {kind}"):
            publish("citizen_appeals", settings=settings, now=later)
        # the leaking version is gone: table content back, its files deleted, latest/record/catalog untouched
        table = delta.read(spark, open_path)
        assert table.where(F.col("handling_dept") == planted).count() == 0
        assert delta.version(spark, open_path) > open_version
        assert store.read_bytes("catalog.json") == catalog_json
        assert store.read_bytes(served.distribution("CSV").latest_path) == latest_csv
        assert from_json(store.read_bytes(layout.record_key("citizen_appeals")).decode())[0] == served
        assert layout.versions_in(store.list("datasets/citizen_appeals"), "citizen_appeals") == [served.version]
    spark.sql(f"UPDATE delta.`{silver}` SET handling_dept = '市住建局' WHERE appeal_id = '{victim}'")
    out = publish("citizen_appeals", settings=settings, now=later)
    assert out["tables"]["citizen_appeals"]["status"] == "published"
    fresh = records(settings, "open")["citizen_appeals"]
    assert fresh.version > served.version and fresh.modified.startswith("2026-11-29")


def test_changing_the_open_type_retracts_what_was_published(lake3, tmp_path, spark):
    """A resource re-classified 有条件开放 moves to the restricted zone; 不予开放 withdraws it everywhere."""
    import shutil

    from jobs.settings import BUILTIN_CATALOG

    schemas = tmp_path / "schemas"
    shutil.copytree(BUILTIN_CATALOG, schemas)
    entry = schemas / "network_governance" / "citizen_appeals.yaml"
    text = entry.read_text(encoding="utf-8")
    # a copy of the published lake (its own home, so the other tests' lake stays as it is)
    shutil.copytree(lake3[0].home, tmp_path / "home", ignore=shutil.ignore_patterns("landing"))
    settings = replace(lake3[0], home=tmp_path / "home", catalog_dirs=(schemas,))
    assert {"citizen_appeals", "citizen_appeals_monthly"} <= set(records(settings, "open"))

    entry.write_text(text.replace("open_type: 无条件开放", "open_type: 有条件开放"), encoding="utf-8")
    out = publish("citizen_appeals", settings=settings, now=datetime(2026, 11, 28))
    assert sorted(out["retracted"]) == ["open.citizen_appeals", "open.citizen_appeals_monthly"]
    assert records(settings, "open") == {} and not delta.exists(spark, settings.table_path("open", "citizen_appeals"))
    assert {"citizen_appeals", "citizen_appeals_monthly"} <= set(records(settings, "restricted"))
    assert "citizen_appeals" not in (settings.open_files / "catalog.json").read_text(encoding="utf-8")
    assert not (settings.open_files / "portal" / "datasets" / "citizen_appeals.html").exists()

    entry.write_text(text.replace("open_type: 无条件开放", "open_type: 不予开放"), encoding="utf-8")
    out = publish("citizen_appeals", settings=settings, now=datetime(2026, 11, 29))
    assert out["status"] == "skipped" and len(out["retracted"]) == 2
    held = set(records(settings, "restricted")) | set(records(settings, "open"))
    assert not held & {"citizen_appeals", "citizen_appeals_monthly"}, held


def test_the_published_portal_lists_and_links_what_was_published(lake3, chromium, tmp_path):
    from pathlib import Path

    from selenium.webdriver.common.by import By

    settings, _ = lake3
    chromium.get((settings.open_files / "portal" / "index.html").as_uri())
    cards = [c.get_attribute("data-name") for c in chromium.find_elements(By.CSS_SELECTOR, ".dataset-card")]
    assert sorted(cards) == ["citizen_appeals", "citizen_appeals_monthly"]
    chromium.get((settings.open_files / "portal" / "datasets" / "citizen_appeals_monthly.html").as_uri())
    assert len(chromium.find_elements(By.CSS_SELECTOR, "svg rect")) > 0
    links = [a.get_attribute("href") for a in chromium.find_elements(By.CSS_SELECTOR, "a[href$='.csv']")]
    assert links and all(Path(link.removeprefix("file://")).exists() for link in links)
    chromium.save_screenshot(str(tmp_path / "published-aggregate.png"))
    assert (tmp_path / "published-aggregate.png").stat().st_size > 10_000


def test_the_restricted_zone_is_not_reachable_through_the_public_server(lake3):
    """`citylake serve` serves the open zone: a 有条件开放 dataset is in no list, search, page, file or row
    answer, whatever the name, id or path a client tries."""
    from fastapi.testclient import TestClient

    from jobs.publish.ckan import create_app

    settings, _ = lake3
    restricted = records(settings, "restricted")["service_usage_log"]
    app = create_app(zone_store(settings, "open"), base_url="http://testserver/",
                     tables_root=settings.table_path("open", "").rstrip("/"))
    with TestClient(app) as web:
        assert web.get("/api/3/action/package_list").json()["result"] == ["citizen_appeals", "citizen_appeals_monthly"]
        assert web.get("/api/3/action/package_search", params={"q": "service_usage"}).json()["result"]["count"] == 0
        for action, params in (("package_show", {"id": "service_usage_log"}), ("package_show", {"id": restricted.code}),
                               ("datastore_search", {"resource_id": "service_usage_log"}),
                               ("resource_show", {"id": "service_usage_log-csv"})):
            assert web.get(f"/api/3/action/{action}", params=params).status_code == 404, (action, params)
        for path in (f"/{restricted.distributions[0].path}", f"/{restricted.distributions[0].latest_path}",
                     "/datasets/service_usage_log/record.json", "/portal/datasets/service_usage_log.html",
                     "/datasets/../../restricted/catalog.json", "/datasets/%2e%2e/%2e%2e/restricted/catalog.json"):
            assert web.get(path).status_code == 404, path
        assert "service_usage_log" not in web.get("/catalog.json").text + web.get("/catalog.jsonld").text
