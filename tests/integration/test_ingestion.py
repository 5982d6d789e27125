"""Exactly-once ingestion, the same suite against a local landing folder and a real S3 server.

Every bad-input class is delivered as its own file; each test asserts exact counts: rows read = rows in
bronze, and for every bad row where it went and with which reason.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path

import pytest
from pyspark.sql import functions as F

from jobs.catalog import load_catalog
from jobs.errors import DirtyBatch, FilesRejected
from jobs.io import delta, ops
from jobs.io.landing import Landing, landing_for
from jobs.sample.generator import generate
from jobs.steps import conform, ingest, run

DAY = date(2026, 11, 26)
NOW = datetime(2026, 11, 27, 2, 0)
FOLDER = "network_governance/citizen_appeals"
BASE_YAML = Path(__file__).resolve().parents[2] / "schemas" / "network_governance" / "citizen_appeals.yaml"


def variant_catalog(root: Path) -> Path:
    """An extra catalog folder with copies of the appeals resource under other policies."""
    text = BASE_YAML.read_text(encoding="utf-8")
    variants = {
        "appeals_rescue": ("510100/1101-80001", "csv", "  drift: rescue\n", ""),
        "appeals_evolve": ("510100/1101-80002", "csv", "  drift: evolve\n", ""),
        "appeals_limited": ("510100/1101-80003", "csv", "", "error_limit: {records: 2, ratio: 0.5}\n"),
        "appeals_xlsx": ("510100/1101-80004", "xlsx", "  sheet: 工单明细\n  header_row: 2\n", ""),
    }
    folder = root / "network_governance"
    folder.mkdir(parents=True)
    for name, (code, fmt, source_extra, top_extra) in variants.items():
        body = (text.replace("name: citizen_appeals", f"name: {name}")
                .replace('code: "510100/1101-00001"', f'code: "{code}"')
                .replace('code: "510100/1101-90001"', f'code: "{code}9"')  # its aggregate table
                .replace("  format: csv\n", f"  format: {fmt}\n")
                .replace('file_pattern: "citizen_appeals_*.csv"', f'file_pattern: "{name}_*.{fmt}"')
                .replace("  header: title\n", "  header: title\n" + source_extra))
        (folder / f"{name}.yaml").write_text(body + top_extra, encoding="utf-8")
    return root


@pytest.fixture(params=["local", "s3"])
def landed(request, lake, tmp_path):
    """(settings, landing) on an empty lake; the landing is a folder or a fresh prefix in an S3 bucket."""
    settings = replace(lake, catalog_dirs=(*lake.catalog_dirs, variant_catalog(tmp_path / "catalog")))
    if request.param == "s3":
        server = request.getfixturevalue("s3_server")
        client = server.client()
        if "landing" not in {b["Name"] for b in client.list_buckets().get("Buckets", [])}:
            client.create_bucket(Bucket="landing")
        settings = replace(settings, landing_location=f"s3://landing/{tmp_path.name}", s3_endpoint=server.endpoint_url,
                           s3_access_key=server.access_key, s3_secret_key=server.secret_key)
    return settings, landing_for(settings)


def resource(settings, name="citizen_appeals"):
    return load_catalog(settings.catalog_dirs).resource(name)


def export_bytes(res, rows: list[dict], *, encoding="gb18030", bom=False, header=None, extra_cols=None,
                 newline="\r\n") -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator=newline)
    labels = header or [i.title for i in res.items]
    writer.writerow(labels + list(extra_cols or {}))
    for r in rows:
        writer.writerow([r.get(i.name, "") for i in res.items if i.title in labels]
                        + [v for v in (extra_cols or {}).values()])
    return (b"\xef\xbb\xbf" if bom else b"") + buf.getvalue().encode(encoding)


def deliver(landing: Landing, res, tmp_path: Path, name: str, data: bytes, *, ready=True) -> str:
    local = tmp_path / "out" / name
    local.parent.mkdir(parents=True, exist_ok=True)
    local.write_bytes(data)
    return landing.deliver(local, res, name, ready=ready)


def clean_rows(res, n: int, seed: int = 1) -> list[dict]:
    data, defects = generate(res, day=DAY, rows=n, seed=seed, defect_rate=0)
    assert defects == ()
    return data


def bronze_counts(spark, settings, name="citizen_appeals") -> dict[str, int]:
    rows = delta.read(spark, settings.table_path("bronze", name)).groupBy("_source_file").count().collect()
    return {r._source_file.rsplit("/", 1)[-1]: r["count"] for r in rows}


def test_export_waits_for_its_marker_and_is_ingested_once(landed, spark, tmp_path):
    settings, landing = landed
    res = resource(settings)
    data = export_bytes(res, clean_rows(res, 12))
    key = deliver(landing, res, tmp_path, "citizen_appeals_20261126.csv", data, ready=False)
    assert ingest(res.name, settings=settings, now=NOW) == []
    assert [f.relative for f in landing.incomplete(res)] == [key]

    deliver(landing, res, tmp_path, "citizen_appeals_20261126.csv", data)  # the department marks it complete
    out = ingest(res.name, settings=settings, now=NOW)
    assert [(o["status"], o["rows_read"]) for o in out] == [("ingested", 12)]
    batch = out[0]["batch_id"]
    assert landing.exists(f"{FOLDER}/archive/{batch}/citizen_appeals_20261126.csv")
    assert landing.exists(f"{FOLDER}/archive/{batch}/citizen_appeals_20261126.csv.ok")
    assert landing.pending(res) == [] and landing.incomplete(res) == []
    assert ingest(res.name, settings=settings, now=NOW) == []
    assert bronze_counts(spark, settings) == {"citizen_appeals_20261126.csv": 12}


def test_manifest_keys_content_and_location(landed, spark, tmp_path):
    settings, landing = landed
    res = resource(settings)
    first = export_bytes(res, clean_rows(res, 5, seed=1))
    second = export_bytes(res, clean_rows(res, 7, seed=2))
    deliver(landing, res, tmp_path, "citizen_appeals_a.csv", first)
    ingest(res.name, settings=settings, now=NOW)
    deliver(landing, res, tmp_path, "citizen_appeals_b.csv", first)   # same content, another name
    deliver(landing, res, tmp_path, "citizen_appeals_a.csv", second)  # same name, new content
    out = {o["file"].rsplit("/", 1)[-1]: o for o in ingest(res.name, settings=settings, now=NOW)}
    assert out["citizen_appeals_b.csv"]["status"] == "duplicate"
    assert "same content as network_governance/citizen_appeals/citizen_appeals_a.csv" in \
        out["citizen_appeals_b.csv"]["detail"]
    assert (out["citizen_appeals_a.csv"]["status"], out["citizen_appeals_a.csv"]["rows_read"]) == ("ingested", 7)
    manifest = ops.read(spark, settings, "manifest", res.name).orderBy("recorded_at", "file", "version").collect()
    assert sorted((m.file.rsplit("/", 1)[-1], m.status, m.version) for m in manifest) == [
        ("citizen_appeals_a.csv", "ingested", 1), ("citizen_appeals_a.csv", "ingested", 2),
        ("citizen_appeals_b.csv", "duplicate", 1)]
    assert all(m.etag and m.size > 0 for m in manifest)
    assert delta.read(spark, settings.table_path("bronze", res.name)).count() == 12


def test_every_bad_input_class_is_accounted_for(landed, spark, tmp_path):
    settings, landing = landed
    res = resource(settings)
    rows = clean_rows(res, 8)
    rows[0] = {**rows[0], "content": "䢺江镇（510129106）路灯不亮"}
    width = len(res.items)
    files = {
        # GBK-labelled but GB18030 (a township outside GBK), CRLF
        "citizen_appeals_01_gb18030.csv": export_bytes(res, rows[:3]),
        # UTF-8 with BOM, LF, a quoted newline and a blank line
        "citizen_appeals_02_utf8.csv": export_bytes(res, [{**rows[3], "content": "第一行\n第二行"}], encoding="utf-8",
                                                    bom=True, newline="\n") + b"\n" + export_bytes(
            res, rows[4:5], encoding="utf-8", newline="\n").split(b"\n", 1)[1],
        "citizen_appeals_03_header_only.csv": export_bytes(res, []),
        "citizen_appeals_04_empty.csv": b"",
        "citizen_appeals_05_undecodable.csv": export_bytes(res, []) + b"GD1,\x81\x30\xff\x30\r\n",
        "citizen_appeals_06_new_column.csv": export_bytes(res, rows[:1], extra_cols={"投诉人邮箱": "a@b.cn"}),
        "citizen_appeals_07_gzip.csv.gz": gzip.compress(export_bytes(res, rows[5:7])),
    }
    fields = export_bytes(res, rows[7:8]).decode("gb18030").splitlines()
    files["citizen_appeals_08_field_count.csv"] = "\r\n".join(
        [fields[0], fields[1] + ",多余", fields[1].rsplit(",", 1)[0], fields[1].replace("GD", "GX", 1)]
    ).encode("gb18030") + b"\r\n"
    for name, data in files.items():
        deliver(landing, res, tmp_path, name, data)

    with pytest.raises(FilesRejected) as rejected:  # after every file was looked at
        ingest(res.name, settings=settings, now=NOW)
    assert "2 of 8 file(s) rejected" in str(rejected.value)
    out = {o["file"].rsplit("/", 1)[-1]: o for o in rejected.value.outcomes}
    assert {n: (o["status"], o["rows_read"], o["malformed"]) for n, o in out.items()} == {
        "citizen_appeals_01_gb18030.csv": ("ingested", 3, 0),
        "citizen_appeals_02_utf8.csv": ("ingested", 2, 0),
        "citizen_appeals_03_header_only.csv": ("ingested", 0, 0),
        "citizen_appeals_04_empty.csv": ("ingested", 0, 0),
        "citizen_appeals_05_undecodable.csv": ("rejected", 0, 0),
        "citizen_appeals_06_new_column.csv": ("rejected", 0, 0),
        "citizen_appeals_07_gzip.csv.gz": ("ingested", 2, 0),
        "citizen_appeals_08_field_count.csv": ("ingested", 3, 2),
    }
    encodings = {m.file.rsplit("/", 1)[-1]: (m.declared_encoding, m.encoding, m.detail)
                 for m in ops.read(spark, settings, "manifest", res.name).collect()}
    assert encodings["citizen_appeals_01_gb18030.csv"] == ("gb18030", "gb18030", "")
    assert encodings["citizen_appeals_02_utf8.csv"] == ("gb18030", "utf-8-sig",
                                                        "declared encoding gb18030, read as utf-8-sig")
    header_len = len(export_bytes(res, []))
    assert f"byte offset {header_len + 4}" in out["citizen_appeals_05_undecodable.csv"]["detail"]
    assert "file network_governance/citizen_appeals/citizen_appeals_05_undecodable.csv" in \
        out["citizen_appeals_05_undecodable.csv"]["detail"]
    new_column = out["citizen_appeals_06_new_column.csv"]["detail"]
    # the message names the file, the resource, its catalog entry (YAML file) and the items concerned
    assert "added: 投诉人邮箱" in new_column and "citizen_appeals_06_new_column.csv" in new_column
    assert "resource citizen_appeals" in new_column and "citizen_appeals.yaml" in new_column
    assert "every catalog item is in the file" in new_column
    assert "byte offset" in landing.read_text(f"{FOLDER}/rejected/citizen_appeals_05_undecodable.csv.reason.txt")
    assert bronze_counts(spark, settings) == {"citizen_appeals_01_gb18030.csv": 3, "citizen_appeals_02_utf8.csv": 2,
                                             "citizen_appeals_07_gzip.csv.gz": 2,
                                             "citizen_appeals_08_field_count.csv": 3}
    drift = json.loads(next((settings.ops / "drift" / "network_governance" / "citizen_appeals").glob("*.json"))
                       .read_text(encoding="utf-8"))
    assert (drift["action"], drift["added"], drift["missing"]) == ("rejected", ["投诉人邮箱"], [])

    conformed = {r["source_file"].rsplit("/", 1)[-1]: r for r in conform(res.name, settings=settings, now=NOW)}
    assert {n: (r["rows_read"], r["rows_accepted"], r["rows_quarantined"]) for n, r in conformed.items()} == {
        "citizen_appeals_01_gb18030.csv": (3, 3, 0), "citizen_appeals_02_utf8.csv": (2, 2, 0),
        "citizen_appeals_03_header_only.csv": (0, 0, 0), "citizen_appeals_04_empty.csv": (0, 0, 0),
        "citizen_appeals_07_gzip.csv.gz": (2, 2, 0), "citizen_appeals_08_field_count.csv": (3, 0, 3)}
    silver = delta.read(spark, settings.table_path("audit", res.name))  # conformed, waiting for validation
    assert silver.where(F.col("content").startswith("䢺江镇（510129106）")).count() == 1
    assert silver.where(F.col("content") == "第一行\n第二行").count() == 1
    assert silver.where(F.col("content").contains("\ufffd")).count() == 0
    reasons = {(r._row_number, r.r.rule, r.r.message)
               for r in delta.read(spark, settings.table_path("quarantine", res.name))
               .select("_row_number", F.explode("reasons").alias("r")).where("r.rule = 'malformed_record'").collect()}
    assert {(n, rule) for n, rule, _ in reasons} == {(2, "malformed_record"), (3, "malformed_record")}
    messages = " ".join(m for *_, m in reasons)
    assert f"line 2 has {width + 1} fields, header has {width}" in messages
    assert f"line 3 has {width - 1} fields, header has {width}" in messages
    ledger = ops.read(spark, settings, "ledger", res.name).where("step = 'conform'").collect()
    assert all(e.rows_read == e.rows_accepted + e.rows_quarantined for e in ledger)


def test_rescue_keeps_unknown_columns_and_evolve_adds_them_to_bronze(landed, spark, tmp_path):
    settings, landing = landed
    rescue, evolve = resource(settings, "appeals_rescue"), resource(settings, "appeals_evolve")
    rows = clean_rows(rescue, 3)
    without_satisfaction = [i.title for i in rescue.items if i.name != "satisfaction"]
    deliver(landing, rescue, tmp_path, "appeals_rescue_1.csv",
            export_bytes(rescue, rows, header=without_satisfaction, extra_cols={"投诉人邮箱": "a@b.cn"}))
    deliver(landing, evolve, tmp_path, "appeals_evolve_1.csv",
            export_bytes(evolve, rows, extra_cols={"紧急程度": "一般"}))

    out = ingest("appeals_rescue", settings=settings, now=NOW)
    assert (out[0]["status"], out[0]["rows_read"]) == ("ingested", 3)
    assert out[0]["drift"] == "added: 投诉人邮箱; missing: 满意度; renamed?: 满意度 -> 投诉人邮箱"
    bronze = delta.read(spark, settings.table_path("bronze", "appeals_rescue")).collect()
    assert [r._rescued for r in bronze] == [{"投诉人邮箱": "a@b.cn"}] * 3
    assert [r.satisfaction for r in bronze] == [None] * 3
    entry = ops.read(spark, settings, "drift", "appeals_rescue").first()
    assert (entry.action, json.loads(entry.added), json.loads(entry.missing)) == ("rescued", ["投诉人邮箱"], ["满意度"])

    out = ingest("appeals_evolve", settings=settings, now=NOW)
    assert (out[0]["status"], out[0]["rows_read"]) == ("ingested", 3)
    bronze = delta.read(spark, settings.table_path("bronze", "appeals_evolve"))
    assert [(r["紧急程度"], r._rescued) for r in bronze.collect()] == [("一般", None)] * 3
    result = conform("appeals_evolve", settings=settings, now=NOW)
    assert (result[0]["rows_accepted"], result[0]["rows_quarantined"]) == (3, 0)
    conformed = delta.read(spark, settings.table_path("audit", "appeals_evolve"))
    assert "紧急程度" not in conformed.columns and conformed.count() == 3


def test_batch_over_the_error_limit_is_quarantined_and_kept_out_of_silver(landed, spark, tmp_path):
    settings, landing = landed
    res = resource(settings, "appeals_limited")
    rows = clean_rows(res, 10)
    for k in (1, 4, 7):
        rows[k] = {**rows[k], "district_code": "519999"}
    deliver(landing, res, tmp_path, "appeals_limited_1.csv", export_bytes(res, rows))
    ingest(res.name, settings=settings, now=NOW)
    with pytest.raises(DirtyBatch, match="3 quarantined rows exceed the limit of 2"):
        conform(res.name, settings=settings, now=NOW)
    quarantine = delta.read(spark, settings.table_path("quarantine", res.name))
    assert sorted(r._row_number for r in quarantine.collect()) == [3, 6, 9]
    for zone in ("audit", "silver"):
        path = settings.table_path(zone, res.name)
        assert not delta.exists(spark, path) or delta.read(spark, path).count() == 0
    entry = ops.read(spark, settings, "ledger", res.name).where("step = 'conform'").first()
    assert (entry.status, entry.rows_read, entry.rows_accepted, entry.rows_quarantined) == ("failed", 10, 7, 3)
    assert conform(res.name, settings=settings, now=NOW) == []  # failed is final: no retry merges it later


def test_rerun_on_unchanged_landing_changes_nothing(lake, spark, tmp_path):
    settings, landing = lake, landing_for(lake)
    res = resource(settings)
    deliver(landing, res, tmp_path, "citizen_appeals_20261126.csv", export_bytes(res, clean_rows(res, 6)))
    first = run(res.name, settings=settings, now=NOW)
    tables = [settings.table_path(z, n) for z, n in (("bronze", res.name), ("silver", res.name),
                                                     ("quarantine", res.name), ("open", res.name), ("open", "catalog"),
                                                     ("ops", "manifest"), ("ops", "ledger"), ("ops", "validations"))]
    before = {str(t): delta.version(spark, t) for t in tables if delta.exists(spark, t)}
    again = run(res.name, settings=settings, now=datetime(2026, 11, 28, 2, 0))
    assert again["ingest"] == [] and again["conform"] == [] and again["validate"] == []
    assert again["publish"]["status"] == "unchanged" and again["publish"]["rows"] == first["publish"]["rows"]
    assert {str(t): delta.version(spark, t) for t in tables if delta.exists(spark, t)} == before


def test_excel_sheet_with_title_rows_notes_and_numeric_ids(landed, spark, tmp_path):
    import openpyxl

    settings, landing = landed
    res = resource(settings, "appeals_xlsx")
    rows = clean_rows(res, 4)
    wb = openpyxl.Workbook()
    wb.active.title = "说明"
    ws = wb.create_sheet("工单明细")
    ws.append(["成都市12345市民服务热线诉求工单明细"])
    ws.append([i.title for i in res.items])
    id_row = next(k for k, r in enumerate(rows) if r["appellant_id_no"])
    date_row = (id_row + 1) % len(rows)
    names = [i.name for i in res.items]
    for k, r in enumerate(rows):
        cells = [r[i.name] for i in res.items]
        if k == id_row:  # Excel turned the resident ID into a number
            cells[names.index("appellant_id_no")] = int(r["appellant_id_no"][:17] + "0")
        if k == date_row:  # a real date cell, and the satisfaction as a number
            cells[names.index("received_at")] = datetime(2026, 11, 26, 9, 15, 0)
            cells[names.index("satisfaction")] = 4
        ws.append(cells)
    ws.append([])
    ws.append(["注：数据截至2026年11月26日24时"])
    wb.save(tmp_path / "book.xlsx")
    deliver(landing, res, tmp_path, "appeals_xlsx_20261126.xlsx", (tmp_path / "book.xlsx").read_bytes())

    out = ingest(res.name, settings=settings, now=NOW)
    assert [(o["status"], o["rows_read"], o["malformed"]) for o in out] == [("ingested", 4, 1)]
    result = conform(res.name, settings=settings, now=NOW)
    assert (result[0]["rows_read"], result[0]["rows_accepted"], result[0]["rows_quarantined"]) == (4, 3, 1)
    q = delta.read(spark, settings.table_path("quarantine", res.name)).select(
        "_row_number", F.explode("reasons").alias("r")).where("r.rule = 'malformed_record'").collect()
    assert [row._row_number for row in q] == [id_row + 3]
    assert "stored as a number" in q[0].r.message and "身份证号码" in q[0].r.message
    silver = {r.appeal_id: r for r in delta.read(spark, settings.table_path("audit", res.name)).collect()}
    third = silver[rows[date_row]["appeal_id"]]
    assert (str(third.received_at), third.satisfaction) == ("2026-11-26 09:15:00", 4)
