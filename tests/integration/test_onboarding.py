"""A resource onboarded from an extra catalog folder (no change to the repository), delivered as
gzip-compressed JSON lines, goes the whole way to its open table."""

from __future__ import annotations

import gzip
import json
import textwrap
from dataclasses import replace
from datetime import datetime

import pytest

from jobs.catalog import load_catalog
from jobs.catalog.suite import render, suite_document, suite_path
from jobs.io import delta, ops
from jobs.steps import run

pytestmark = pytest.mark.spark

DEPARTMENTS = textwrap.dedent("""
    departments:
      - {key: eco_env, code: "11510100MB0000001Y", name: 成都市生态环境局, name_en: Chengdu Ecology and
         Environment Bureau, system: 物联网监测平台}
""")
RESOURCE = textwrap.dedent("""
    name: air_readings
    code: "510100/2201-00001"
    title: 空气质量监测数据
    title_en: Air quality readings
    provider: eco_env
    summary: 物联网空气质量监测点的小时读数。
    theme: 生态环保
    update_cycle: hourly
    share: {type: 无条件共享}
    open_type: 无条件开放
    source: {format: jsonl, encoding: utf-8, header: name, file_pattern: "air_readings_*.jsonl.gz"}
    primary_key: [point_id, measured_at]
    items:
      - {name: point_id, title: 监测点编号, required: true}
      - {name: district_code, title: 区县代码, rules: [{rule: cn_division, level: county, within: "5101"}]}
      - {name: measured_at, title: 监测时间, type: timestamp, required: true, formats: ["yyyy-MM-dd HH:mm:ss"]}
      - {name: pm25, title: PM2.5浓度, type: decimal, precision: 8, scale: 1,
         rules: [{rule: range, min: 0, max: 1000}]}
""")
LINES = [
    {"point_id": "AQ001", "district_code": "510104", "measured_at": "2026-11-26 08:00:00", "pm25": 35.2},
    {"point_id": "AQ002", "district_code": "510129", "measured_at": "2026-11-26 08:00:00", "pm25": 12},
    {"point_id": "AQ003", "district_code": "510104", "measured_at": "2026-11-26 08:00:00", "pm25": -4},
    "not json",
    {"point_id": "AQ001", "district_code": "510104", "measured_at": "2026-11-26 09:00:00", "pm25": 40.0},
]


def test_extra_catalog_jsonl_gzip_end_to_end(lake, spark, tmp_path):
    extra = tmp_path / "catalog"
    (extra / "eco_env").mkdir(parents=True)
    (extra / "departments.yaml").write_text(DEPARTMENTS, encoding="utf-8")
    (extra / "eco_env" / "air_readings.yaml").write_text(RESOURCE, encoding="utf-8")
    settings = replace(lake, catalog_dirs=(*lake.catalog_dirs, extra), expectations_dir=tmp_path / "expectations")
    res = load_catalog(settings.catalog_dirs).resource("air_readings")
    # no suite yet, and none is needed in the checkout: the first validation writes the baseline beside the entry
    beside = extra / "expectations" / "air_readings.json"
    assert suite_path(settings.expectations_dir, res) == beside and not beside.exists()
    folder = settings.landing / "eco_env" / "air_readings"
    folder.mkdir(parents=True)
    text = "\n".join(line if isinstance(line, str) else json.dumps(line) for line in LINES) + "\n"
    (folder / "air_readings_2026112608.jsonl.gz").write_bytes(gzip.compress(text.encode("utf-8")))
    (folder / "air_readings_2026112608.jsonl.gz.ok").touch()

    out = run("air_readings", settings=settings, now=datetime(2026, 11, 26, 10))
    assert out["validate"][0]["suite"] == str(beside) and out["validate"][0]["suite_generated"] is True
    assert beside.is_file() and not (tmp_path / "expectations").exists()
    assert beside.read_text(encoding="utf-8") == render(suite_document(res, None))
    assert out["conform"][0]["rows_read"] == 5
    assert (out["conform"][0]["rows_accepted"], out["conform"][0]["rows_quarantined"]) == (3, 2)
    q = {r["_row_number"]: [x.rule for x in r["reasons"]]
         for r in delta.read(spark, settings.table_path("quarantine", "air_readings")).collect()}
    assert q == {3: ["range"], 4: ["not_null", "not_null", "malformed_record"]}
    silver = delta.read(spark, settings.table_path("silver", "air_readings"))
    assert sorted((r.point_id, str(r.pm25)) for r in silver.collect()) == [
        ("AQ001", "35.2"), ("AQ001", "40.0"), ("AQ002", "12.0")]
    assert out["publish"]["rows"] == 3
    ledger = ops.read(spark, settings, "ledger", "air_readings").where("step = 'conform'").first()
    assert ledger.rows_read == ledger.rows_accepted + ledger.rows_quarantined
