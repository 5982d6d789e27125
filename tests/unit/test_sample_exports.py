"""Sample exports in every source format read back by the real stagers, with valid identifiers,
catalog-driven value kinds, defects at the lines the readers give them, and seeded determinism."""

from __future__ import annotations

import dataclasses
import json
import random
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import openpyxl
import pyarrow.parquet as pq
import pytest

from jobs.catalog.model import DataItem, Resource, RuleRef, ShareAttribute, SourceSpec
from jobs.errors import CatalogError
from jobs.io.excel import stage_xlsx
from jobs.io.exports import stage_csv
from jobs.io.jsonlines import stage_jsonl
from jobs.rules import divisions
from jobs.rules.identifiers import MOBILE_PATTERN, is_valid_resident_id_checksum, is_valid_uscc
from jobs.sample import values
from jobs.sample.generator import (
    DEFECT_CLASSES,
    DEFECTS,
    applicable,
    generate,
    generate_day,
    make_rows,
    rows_for,
    write_days,
    write_export,
)
from jobs.sample.writers import DATETIME_CELL_SHARE

DAY = date(2026, 11, 26)
STAMP = ["yyyy-MM-dd HH:mm:ss"]


def rule(name: str, **params: object) -> RuleRef:
    return RuleRef(rule=name, params=params)


def item(name: str, title: str, **kw: object) -> DataItem:
    return DataItem(name=name, title=title, **kw)  # type: ignore[arg-type]


#: 行政审批办件: persons and enterprises apply; every new value kind appears once.
APPROVAL_ITEMS = (
    item("case_id", "办件编号", required=True, rules=(rule("regex", pattern="^SP[0-9]{14}$"),),
         sample={"kind": "sequence", "format": "SP{day:%Y%m%d}{n:06d}"}),
    item("applicant_name", "申请人名称", required=True,
         sample={"kind": "by", "field": "applicant_type", "cases": {"个人": "name", "企业": "company"}}),
    item("applicant_type", "申请人类型", required=True, rules=(rule("in_set", values=["个人", "企业"]),),
         sample={"kind": "choice", "values": ["个人", "企业"], "weights": [6, 4]}),
    item("applicant_cert", "申请人证件号码", pii="resident_id", publish="drop",
         sample={"kind": "by", "field": "applicant_type", "cases": {"个人": "resident_id", "企业": "uscc"}}),
    item("agent_id_no", "经办人身份证号", pii="resident_id", publish="drop", rules=(rule("cn_resident_id"),)),
    item("company_uscc", "统一社会信用代码",
         rules=(rule("cn_uscc"), RuleRef(rule="cn_uscc_checksum", severity="warn")),
         sample={"when": {"applicant_type": ["企业"]}}),
    item("phone", "联系电话", pii="phone", publish="mask", rules=(rule("cn_mobile"),)),
    item("province_code", "省级代码", length=6, rules=(rule("cn_division", level="province"),),
         sample={"kind": "division", "level": "province", "within": "51"}),
    item("city_code", "市级代码", length=4,
         rules=(rule("cn_division", level="city", parent="province_code"),)),
    item("district_code", "区县代码", length=6, required=True,
         rules=(rule("cn_division", level="county", within="5101"),)),
    item("street_code", "街道代码", length=9,
         rules=(rule("cn_division", level="township", within="5101", parent="district_code"),)),
    item("address", "申请人地址", pii="address", publish="drop"),
    item("received_at", "受理时间", type="timestamp", formats=("yyyy/MM/dd HH:mm:ss", *STAMP), required=True),
    item("finished_at", "办结时间", type="timestamp", formats=tuple(STAMP),
         sample={"kind": "after", "field": "received_at", "hours": [1, 72]}),
    item("registered_on", "成立日期", type="date", formats=("yyyy年MM月dd日",),
         sample={"kind": "date", "days_back": [30, 3650], "when": {"applicant_type": ["企业"]}}),
    item("fee", "收费金额", type="decimal", precision=10, scale=2,
         sample={"kind": "decimal", "min": 0, "max": 500}),
    item("discount", "减免比例", type="decimal", precision=4, scale=3, rules=(rule("range", min=0, max=1),)),
    item("online", "是否网办", type="boolean", sample={"kind": "flag", "rate": 0.8}),
    item("paid", "已缴费", rules=(rule("in_set", values=["1", "0"]),), sample={"kind": "flag", "rate": 0.3}),
    item("materials", "材料份数", type="integer", rules=(rule("range", min=1, max=20),)),
    item("handling_dept", "承办部门", required=True,
         sample={"kind": "choice", "values": ["市市场监管局", "市住建局", "武侯区行政审批局"]}),
)


def approvals(**source: Any) -> Resource:
    """An Excel-delivered resource built in the test (no catalog file needed)."""
    spec = SourceSpec(format="xlsx", encoding="utf-8", file_pattern="approvals_*.xlsx", sheet="办件明细",
                      header_row=3, header_rows=2)
    return Resource(name="approvals", code="510100/2201-00001", title="成都市行政审批办件明细",
                    title_en="approvals", provider="approval_bureau", summary="", theme="公共服务",
                    update_cycle="daily", share=ShareAttribute(type="有条件共享"), open_type="不予开放",
                    source=dataclasses.replace(spec, **source), items=APPROVAL_ITEMS, primary_key=("case_id",))


def as_format(resource: Resource, fmt: Any, **source: Any) -> Resource:
    spec = dataclasses.replace(resource.source, format=fmt, file_pattern=f"{resource.name}_*.{fmt}", **source)
    return dataclasses.replace(resource, source=spec)


def staged_rows(export_path, resource, stager) -> list[dict]:
    staged = stager(export_path, resource, export_path.parent / "staged.parquet")
    rows = pq.read_table(staged.path).to_pylist()
    assert staged.rows == len(rows)
    return rows


def assert_defects_at_their_lines(rows: list[dict], defects) -> None:
    by_line = {r["_row_number"]: r for r in rows}
    assert defects
    for d in defects:
        got = by_line[d.line][d.field]
        assert (got or None) == (d.value or None), d  # CSV stages "" where JSON and Excel stage None


# --- round trips through the real readers -------------------------------------------------------

def test_csv_round_trip_with_defect_lines(tmp_path, appeals):
    export = write_export(appeals, tmp_path, day=DAY, rows=300, seed=3)
    expected, defects = generate(appeals, day=DAY, rows=300, seed=3)
    rows = staged_rows(export.path, appeals, stage_csv)
    assert len(rows) == 300 == export.rows
    assert all(r["_parse_error"] is None for r in rows)
    assert [r["appeal_id"] for r in rows] == [e["appeal_id"] for e in expected]
    assert [r["_row_number"] for r in rows] == list(range(2, 302))
    assert export.defects == defects
    assert_defects_at_their_lines(rows, export.defects)


def test_utf8_sig_csv_starts_with_a_bom_the_reader_strips(tmp_path, appeals):
    res = dataclasses.replace(appeals, source=dataclasses.replace(appeals.source, encoding="utf-8-sig"))
    export = write_export(res, tmp_path, day=DAY, rows=20, defect_rate=0)
    raw = export.path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf" + "工单编号".encode())
    rows = staged_rows(export.path, res, stage_csv)
    expected, _ = generate(res, day=DAY, rows=20, defect_rate=0)
    assert [r["content"] for r in rows] == [e["content"] for e in expected]


def test_jsonl_round_trip_numbers_and_missing_keys(tmp_path, appeals):
    res = as_format(appeals, "jsonl", header="name", encoding="utf-8")
    export = write_export(res, tmp_path, day=DAY, rows=200, seed=5)
    assert export.path.name == "citizen_appeals_20261126.jsonl"
    lines = export.path.read_text(encoding="utf-8").splitlines()
    objects = [json.loads(line) for line in lines]
    assert len(objects) == 200
    rated = [o for o in objects if "satisfaction" in o]
    assert rated and all(isinstance(o["satisfaction"], int) for o in rated)
    assert all("finished_at" not in o for o in objects if o["status"] in ("已受理", "办理中"))
    rows = staged_rows(export.path, res, stage_jsonl)
    expected, defects = generate(res, day=DAY, rows=200, seed=5)
    assert all(r["_parse_error"] is None for r in rows)
    assert [r["appeal_id"] for r in rows] == [e["appeal_id"] for e in expected]
    assert [r["_row_number"] for r in rows] == list(range(1, 201))
    for row, exp in zip(rows, expected, strict=True):
        assert {k: row[k] for k in exp} == {k: (v or None) for k, v in exp.items()}
    assert export.defects == defects and {d.line for d in defects} <= set(range(1, 201))
    assert_defects_at_their_lines(rows, export.defects)


def test_xlsx_round_trip_with_titles_two_row_header_and_notes(tmp_path):
    res = approvals()
    export = write_export(res, tmp_path, day=DAY, rows=150, seed=11)
    assert export.path.name == "approvals_20261126.xlsx"
    assert export.path.with_name(export.path.name + ".ok").exists()
    rows = staged_rows(export.path, res, stage_xlsx)
    expected, defects = generate(res, day=DAY, rows=150, seed=11)
    assert len(rows) == 150 and all(r["_parse_error"] is None for r in rows)
    assert [r["_row_number"] for r in rows] == list(range(5, 155))  # 2 title rows + 2 header rows
    numeric = {"fee", "discount"}
    for row, exp in zip(rows, expected, strict=True):
        for name, text in exp.items():
            if name in numeric and text:
                assert Decimal(row[name]) == Decimal(text), (name, row[name], text)
            else:
                assert row[name] == (text or None), (row["_row_number"], name, row[name], text)
    assert_defects_at_their_lines(rows, defects)

    sheet = openpyxl.load_workbook(export.path, read_only=True)["办件明细"]
    cells = list(sheet.iter_rows(values_only=True))
    assert cells[0][0] == "成都市行政审批办件明细" and str(cells[1][0]).startswith("导出时间：")
    assert cells[3][0] == "办件编号"
    assert not any(cells[154]) and str(cells[155][0]).startswith("注：")  # blank row, then the note
    received = [c[12] for c in cells[4:154]]
    as_cells = sum(isinstance(v, datetime) for v in received)
    assert 0 < as_cells < 150 and all(isinstance(v, datetime | str) for v in received)
    assert abs(as_cells / 150 - DATETIME_CELL_SHARE) < 0.15
    assert all(isinstance(c[15], float | int) for c in cells[4:154] if c[15] is not None)  # fee as numbers


def test_xlsx_defects_point_at_the_damaged_excel_rows(tmp_path):
    res = approvals(header_row=1, header_rows=1)
    export = write_export(res, tmp_path, day=DAY, rows=400, seed=2)
    rows = staged_rows(export.path, res, stage_xlsx)
    assert {d.kind for d in export.defects} == set(DEFECT_CLASSES)
    assert min(d.line for d in export.defects) >= 2
    assert_defects_at_their_lines(rows, export.defects)


def test_xlsx_note_row_is_not_data(tmp_path):
    res = approvals(sheet=None, header_row=2, header_rows=1)
    export = write_export(res, tmp_path, day=DAY, rows=3, defect_rate=0)
    rows = staged_rows(export.path, res, stage_xlsx)
    assert [r["_row_number"] for r in rows] == [3, 4, 5]
    book = openpyxl.load_workbook(export.path, read_only=True)
    assert book.sheetnames == ["Sheet1"]
    last = list(book.worksheets[0].iter_rows(values_only=True))[-1]
    assert str(last[0]).startswith("注：")


# --- values -------------------------------------------------------------------------------------

def test_credit_codes_and_ids_are_valid_and_follow_the_applicant_type():
    data, _ = make_rows(approvals(), day=DAY, rows=300, defect_rate=0)
    kinds = {"个人": 0, "企业": 0}
    for row in data:
        kinds[row["applicant_type"]] += 1
        cert = row["applicant_cert"]
        if row["applicant_type"] == "个人":
            assert is_valid_resident_id_checksum(cert) and row["company_uscc"] is None
            assert len(row["applicant_name"]) <= 3
        else:
            assert is_valid_uscc(cert) and is_valid_uscc(row["company_uscc"])
            assert row["applicant_name"].startswith("成都") and row["applicant_name"].endswith("公司")
            code = row["company_uscc"]
            assert code[:2] in ("91", "92", "93") and code[2:8] in divisions.codes_at("county", "5101") | {"510100"}
            assert values.org_code_check_char(code[8:16]) == code[16]
        assert is_valid_resident_id_checksum(row["agent_id_no"])
    assert min(kinds.values()) > 60


def test_uscc_arithmetic_matches_published_codes():
    assert values.org_code_check_char("M000100Y") == "4"  # 91350100M000100Y43 (GB 32100 example)
    assert values.org_code_check_char("00000000") == "0"  # 11 - 0: a check of 11 is written 0
    assert values.org_code_check_char("00000006") == "X"  # 11 - (6 * 2 mod 11): a check of 10 is written X
    rng = random.Random(1)
    codes = [values.uscc(rng) for _ in range(2000)]
    assert all(is_valid_uscc(c) for c in codes)
    assert any(c[17] == "0" for c in codes)  # the "remainder 0 gives 0" case is generated too


def test_division_levels_parents_and_addresses():
    data, _ = make_rows(approvals(), day=DAY, rows=200, defect_rate=0)
    names = divisions.names()
    for row in data:
        assert row["province_code"] == "510000"
        assert row["city_code"] in divisions.codes_at("city", "51") and len(row["city_code"]) == 4
        assert row["district_code"] in divisions.codes_at("county", "5101")
        if row["street_code"]:
            assert divisions.township_codes()[row["street_code"]] == row["district_code"]
            assert row["address"].startswith(names[row["district_code"]] + names[row["street_code"]])
        assert row["address"].endswith("号")
    padded = dataclasses.replace(approvals(), items=(
        item("city6", "城市代码", length=6, rules=(rule("cn_division", level="city", within="51"),)),
        item("county", "区县", rules=(rule("cn_division", level="county", parent="city6"),)),
        item("province2", "省份", length=2, rules=(rule("cn_division", level="province"),))), primary_key=())
    data, _ = make_rows(padded, day=DAY, rows=100, defect_rate=0)
    assert all(r["city6"].endswith("00") and r["city6"] in divisions.codes_at("city", "51") for r in data)
    assert all(r["county"].startswith(r["city6"][:4]) and r["county"] in divisions.county_codes() for r in data)
    assert all(r["province2"] in divisions.province_codes() for r in data)
    assert len({r["city6"] for r in data}) > 5


def test_decimals_flags_dates_and_integers():
    data, _ = make_rows(approvals(), day=DAY, rows=400, defect_rate=0)
    fees = [r["fee"] for r in data]
    assert all(Decimal(0) <= f <= Decimal(500) and f.as_tuple().exponent == -2 for f in fees)
    assert all(Decimal(0) <= r["discount"] <= 1 and r["discount"].as_tuple().exponent == -3 for r in data)
    online = [r["online"] for r in data]
    assert set(online) == {"是", "否"} and 0.72 < online.count("是") / 400 < 0.88
    paid = [r["paid"] for r in data]
    assert set(paid) == {"1", "0"} and 0.22 < paid.count("1") / 400 < 0.38
    for r in data:
        assert 1 <= r["materials"] <= 20
        assert r["finished_at"] > r["received_at"] and r["received_at"].date() == DAY
        if r["registered_on"] is not None:
            assert DAY - timedelta(days=3650) <= r["registered_on"] <= DAY - timedelta(days=30)
    rendered, _ = generate(approvals(), day=DAY, rows=5, defect_rate=0)
    assert all("年" in r["registered_on"] for r in rendered if r["registered_on"])


def test_hints_may_refer_to_later_items_but_not_in_a_cycle():
    data, _ = make_rows(approvals(), day=DAY, rows=50, defect_rate=0)  # applicant_name precedes its switch
    assert all(r["applicant_name"] for r in data)
    a = item("a", "甲", sample={"kind": "after", "field": "b"})
    b = item("b", "乙", type="timestamp", formats=tuple(STAMP), sample={"kind": "after", "field": "a"})
    cyclic = dataclasses.replace(approvals(), items=(*APPROVAL_ITEMS, a, b))
    with pytest.raises(CatalogError, match="cycle"):
        make_rows(cyclic, day=DAY, rows=1)
    unknown = dataclasses.replace(approvals(), items=(item("x", "未知", sample={"kind": "lottery"}),),
                                  primary_key=("x",))
    with pytest.raises(CatalogError, match="unknown sample kind 'lottery'"):
        make_rows(unknown, day=DAY, rows=1)


# --- defects ------------------------------------------------------------------------------------

def test_defect_table_documents_every_class():
    assert set(DEFECTS) == set(DEFECT_CLASSES) == {"bad_id_check", "unknown_district", "bad_date",
                                                   "duplicate_key", "missing_required", "bad_phone"}
    assert {k: c.rule for k, c in DEFECTS.items()} == {
        "bad_id_check": "cn_resident_id", "unknown_district": "cn_division", "bad_date": "type",
        "duplicate_key": "duplicate_key", "missing_required": "not_null", "bad_phone": "cn_mobile"}
    assert all(c.damages and c.target and c.weight >= 1 for c in DEFECTS.values())
    assert {k: i.name for k, i in applicable(approvals()).items()} == {
        "bad_id_check": "agent_id_no", "unknown_district": "district_code", "bad_date": "received_at",
        "duplicate_key": "case_id", "missing_required": "applicant_name", "bad_phone": "phone"}


def test_wrong_length_phones_fail_the_mobile_pattern(appeals):
    rows, defects = generate(appeals, day=DAY, rows=2000)
    phones = [d for d in defects if d.kind == "bad_phone"]
    assert phones
    for d in phones:
        assert len(d.value) in (10, 12) and not MOBILE_PATTERN.match(d.value)
        assert rows[d.line - 2]["appellant_phone"] == d.value


# --- determinism, volumes, files ----------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["csv", "jsonl", "xlsx"])
def test_same_seed_same_bytes_in_every_format(tmp_path, fmt):
    res = as_format(approvals(), fmt)
    a = write_export(res, tmp_path / "a", day=DAY, rows=120, seed=7)
    b = write_export(res, tmp_path / "b", day=DAY, rows=120, seed=7)
    c = write_export(res, tmp_path / "c", day=DAY, rows=120, seed=8)
    assert a.path.read_bytes() == b.path.read_bytes() != c.path.read_bytes()
    assert a.defects == b.defects


def test_xlsx_same_seed_same_cells(tmp_path):
    res = approvals()
    exports = [write_export(res, tmp_path / k, day=DAY, rows=60, seed=s) for k, s in (("a", 4), ("b", 4), ("c", 5))]
    cells = [list(openpyxl.load_workbook(e.path, read_only=True)["办件明细"].iter_rows(values_only=True))
             for e in exports]
    assert cells[0] == cells[1] != cells[2]


def test_rows_for_jitters_within_ten_percent_deterministically():
    counts = [rows_for(1000, 2.0, random.Random(k)) for k in range(200)]
    assert all(1800 <= n <= 2200 for n in counts) and len(set(counts)) > 50
    assert counts == [rows_for(1000, 2.0, random.Random(k)) for k in range(200)]
    assert rows_for(0, 1.0, random.Random(1)) == 0 and rows_for(1, 0.1, random.Random(1)) == 1


def test_generate_day_differs_per_day_and_repeats_per_seed(appeals):
    a, _ = generate_day(appeals, day=DAY, rows=100, seed=1)
    b, _ = generate_day(appeals, day=DAY, rows=100, seed=1)
    c, _ = generate_day(appeals, day=DAY + timedelta(days=1), rows=100, seed=1)
    assert a == b and 90 <= len(a) <= 110 and [r["content"] for r in a] != [r["content"] for r in c]


def test_write_days_writes_one_distinct_file_per_day(tmp_path):
    res = as_format(approvals(), "jsonl")
    exports = write_days(res, tmp_path, start_day=DAY, days=4, rows_per_day=50, seed=9)
    folder = tmp_path / "approval_bureau" / "approvals"
    assert sorted(p.name for p in folder.glob("*.jsonl")) == [f"approvals_202611{d}.jsonl" for d in (26, 27, 28, 29)]
    assert len({e.path.read_bytes() for e in exports}) == 4
    assert all(45 <= e.rows <= 55 for e in exports) and all(e.path.with_name(e.path.name + ".ok").exists()
                                                            for e in exports)
    again = write_days(res, tmp_path / "again", start_day=DAY, days=4, rows_per_day=50, seed=9)
    assert [e.path.read_bytes() for e in again] == [e.path.read_bytes() for e in exports]


def test_a_name_outside_the_file_pattern_is_refused(tmp_path, appeals):
    res = dataclasses.replace(appeals, source=dataclasses.replace(appeals.source, format="xlsx"))
    with pytest.raises(CatalogError, match="file_pattern"):
        write_export(res, tmp_path, day=DAY, rows=5)
    assert not list(tmp_path.rglob("*.xlsx"))
