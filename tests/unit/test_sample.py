"""The sample generator is deterministic, realistic and injects the defects it reports."""

from __future__ import annotations

import csv
from datetime import date

from jobs.rules import divisions
from jobs.rules.identifiers import MOBILE_PATTERN, is_valid_resident_id_checksum
from jobs.sample.generator import DEFECT_CLASSES, generate, write_export

DAY = date(2026, 11, 26)


def test_same_seed_same_bytes(tmp_path, appeals):
    a = write_export(appeals, tmp_path / "a", day=DAY, rows=200, seed=7)
    b = write_export(appeals, tmp_path / "b", day=DAY, rows=200, seed=7)
    c = write_export(appeals, tmp_path / "c", day=DAY, rows=200, seed=8)
    assert a.path.read_bytes() == b.path.read_bytes() != c.path.read_bytes()


def test_file_is_gb18030_with_chinese_header(tmp_path, appeals):
    export = write_export(appeals, tmp_path, day=DAY, rows=50)
    assert export.path.name == "citizen_appeals_20261126.csv"
    assert export.path.parent == tmp_path / "network_governance" / "citizen_appeals"
    with export.path.open(encoding="gb18030", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0][0] == "工单编号" and len(rows) == 51
    assert b"\r\n" in export.path.read_bytes()


def test_about_one_percent_defects_of_every_class(appeals):
    rows, defects = generate(appeals, day=DAY, rows=1000)
    assert 10 <= len(defects) <= 12
    assert {d.kind for d in defects} == set(DEFECT_CLASSES)


def test_clean_rows_are_valid(appeals):
    rows, defects = generate(appeals, day=DAY, rows=400)
    bad_lines = {d.line for d in defects}
    counties = divisions.codes_at("county", "5101")
    for n, row in enumerate(rows, start=2):
        if n in bad_lines:
            continue
        if row["appellant_id_no"]:
            assert is_valid_resident_id_checksum(row["appellant_id_no"])
        assert row["district_code"] in counties
        assert MOBILE_PATTERN.match(row["appellant_phone"])
        if row["street_code"]:
            assert divisions.township_codes()[row["street_code"]] == row["district_code"]
        if row["finished_at"]:
            assert row["finished_at"] >= row["received_at"]


def test_defects_really_damage_the_row(appeals):
    rows, defects = generate(appeals, day=DAY, rows=500)
    for d in defects:
        value = rows[d.line - 2][d.field]
        if d.kind == "bad_id_check":
            assert not is_valid_resident_id_checksum(value)
        elif d.kind == "duplicate_key":
            assert sum(r[d.field] == value for r in rows) == 2
        elif d.kind == "missing_required":
            assert value == ""
        elif d.kind == "bad_phone":
            assert not MOBILE_PATTERN.match(value)
        elif d.kind == "unknown_district":
            assert value not in divisions.county_codes()
        else:
            assert d.kind == "bad_date" and value in ("2026-02-30 10:00:00", "明天上午", "26/11/2026 9点")
    assert {d.kind for d in defects} == set(DEFECT_CLASSES)
