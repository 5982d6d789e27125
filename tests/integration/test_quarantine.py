"""Quarantine as the departments see it: a correction file per department, and corrections linked."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime

import pytest

from jobs.errors import ConfigurationError
from jobs.io import delta, ops
from jobs.io.landing import LocalLanding
from jobs.sample.generator import generate
from jobs.steps import run
from jobs.steps.quarantine import EXTRA_TITLES, quarantine
from jobs.steps.scorecard import scorecard
from jobs.steps.summary import summary as summary_of

DAY = date(2026, 11, 26)


def deliver(settings, res, tmp_path, name: str, rows: list[dict]) -> None:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow([i.title for i in res.items])
    for r in rows:
        writer.writerow([r[i.name] for i in res.items])
    local = tmp_path / name
    local.write_bytes(buf.getvalue().encode("gb18030"))
    LocalLanding(settings.landing).deliver(local, res)


def test_correction_file_per_department_and_corrected_rows_are_linked(lake, spark, appeals, tmp_path):
    settings = lake
    rows, _ = generate(appeals, day=DAY, rows=6, seed=3, defect_rate=0)
    good_district = rows[2]["district_code"]
    rows[2] = dict(rows[2], district_code="519999")
    deliver(settings, appeals, tmp_path, "citizen_appeals_20261126.csv", rows)
    first = run(appeals.name, settings=settings, now=datetime(2026, 11, 27, 2))
    assert first["conform"][0]["rows_quarantined"] == 1

    summary = quarantine(department="network_governance", export_dir=tmp_path / "back", settings=settings)
    assert [(s.resource, s.open, s.corrected, s.export is not None) for s in summary] == [
        ("citizen_appeals", 1, 0, True), ("leader_instructions", 0, 0, False)]
    with open(summary[0].export, encoding="utf-8-sig", newline="") as fh:
        table = list(csv.reader(fh))
    assert table[0] == [i.title for i in appeals.items] + list(EXTRA_TITLES)
    assert len(table) == 2
    record = dict(zip(table[0], table[1], strict=True))
    assert record["工单编号"] == rows[2]["appeal_id"] and record["区县代码"] == "519999"
    assert "district_code" in record["问题说明"] and "cn_division" not in record["问题说明"]
    assert record["来源文件"].endswith("citizen_appeals_20261126.csv") and record["行号"] == "4"

    # the department fixes the row and sends it again in its usual export layout
    deliver(settings, appeals, tmp_path, "citizen_appeals_20261126_fix.csv",
            [dict(rows[2], district_code=good_district)])
    second = run(appeals.name, settings=settings, now=datetime(2026, 11, 27, 9))
    assert "1 earlier quarantined row(s) marked corrected" in " ".join(
        str(v) for v in second["validate"][0].values())
    assert [(s.open, s.corrected) for s in quarantine(appeals.name, settings=settings)] == [(0, 1)]
    kept = delta.read(spark, settings.table_path("quarantine", appeals.name)).collect()
    assert len(kept) == 1 and kept[0]._corrected_by_batch == second["conform"][0]["batch_id"]
    silver = delta.read(spark, settings.table_path("silver", appeals.name))
    assert silver.where(f"appeal_id = '{rows[2]['appeal_id']}'").first().district_code == good_district
    detail = second["publish"]["tables"][appeals.name]
    assert detail["rows"] + detail["suppressed"] == 6  # k-anonymity may hold some back; none is lost

    card = scorecard([appeals.name], settings=settings, now=datetime(2026, 11, 28, 12))[0]
    assert (card.batches, card.rows_read, card.rows_quarantined, card.drift_files) == (2, 7, 1, 0)
    assert (card.periods, card.periods_delivered) == (2, 1)  # delivered on the 27th, nothing yet on the 28th
    # all passed but one warning: a 1-row batch is far below the recent mean (row count within ±50 %)
    assert card.expectations_passed == card.expectations_evaluated - 1
    assert card.trend == "better"  # 1/6 quarantined, then 0/1
    recorded = ops.read(spark, settings, "scorecard", appeals.name).collect()
    assert [(r.batches, r.on_time_rate) for r in recorded] == [(2, 0.5)]

    # the run summary tells the same story from the ops tables and the quarantine, without a Spark job
    jobs_before = spark.sparkContext.statusTracker().getJobIdsForGroup()
    text = summary_of([appeals.name], settings=settings)
    assert spark.sparkContext.statusTracker().getJobIdsForGroup() == jobs_before
    section = text.split(f"== {appeals.name} ", 1)[1].split("\n\n", 1)[0].splitlines()
    assert section[1] == "files: 2"
    assert all(line.startswith("  ingested  network_governance/citizen_appeals/citizen_appeals_20261126")
               for line in section[2:4])
    assert section[4] == "rows read 7 = accepted 6 + quarantined 1 (balanced); warned 0"
    assert "  quarantine reason cn_division on district_code: 1" in section
    assert f"expectations: {card.expectations_evaluated} evaluated over 2 batch(es), 1 failed" in section
    assert any(line.startswith(f"published: {detail['rows']} rows, open.{appeals.name} v") for line in section)
    assert "\n  network_governance/citizen_appeals: on time " in text  # its scorecard, as of today

    # the same three reports as JSON, for scripts (`--json`): the documented shapes, the same numbers
    reports = cli_json(settings, ["summary", appeals.name], ["scorecard", appeals.name], ["quarantine", appeals.name])
    (entry,) = reports[0]["resources"]
    assert entry["rows"] == {"read": 7, "accepted": 6, "quarantined": 1, "warned": 0, "balanced": True}
    assert {"rule": "cn_division", "field": "district_code", "rows": 1} in entry["quarantine_reasons"]
    assert len(entry["files"]) == 2 and entry["expectations"]["failed"] == 1
    assert entry["published"][0]["rows"] == detail["rows"] and set(reports[0]) == {"lake", "resources",
                                                                                   "scorecard", "where"}
    (card_json,) = reports[1]
    assert card_json["rows_read"] == 7 and card_json["trend"] == reports[0]["scorecard"][0]["trend"]
    assert 0 <= card_json["quarantine_rate"] <= 1
    assert reports[2] == [{"resource": appeals.name, "department": "network_governance", "open": 0, "corrected": 1,
                           "export": None}]


def cli_json(settings, *commands: list[str]) -> list:
    """Each `citylake <command> --json` run in this process on `settings`' lake, its stdout parsed."""
    import contextlib
    import json
    import os

    from jobs.cli import main

    outputs = []
    previous = os.environ.get("CITYLAKE_HOME")
    os.environ["CITYLAKE_HOME"] = str(settings.home)
    try:
        for command in commands:
            buffer = io.StringIO()
            with contextlib.redirect_stdout(buffer):
                assert main([*command, "--json"]) == 0, command
            outputs.append(json.loads(buffer.getvalue()))
    finally:
        if previous is None:
            os.environ.pop("CITYLAKE_HOME", None)
        else:
            os.environ["CITYLAKE_HOME"] = previous
    return outputs


def test_quarantine_needs_a_resource_or_a_known_department(lake, spark):
    with pytest.raises(ConfigurationError, match="name a resource or a --department"):
        quarantine(settings=lake)
    with pytest.raises(ConfigurationError, match="no department 'nowhere'"):
        quarantine(department="nowhere", settings=lake)
