"""The PII gate's eyes: which values count as identifiers, in text and in each published file format."""

from __future__ import annotations

from decimal import Decimal

import pytest

from jobs.catalog.model import IDENTIFIER_KINDS
from jobs.publish.downloads import OutColumn, record_batches, write_downloads
from jobs.publish.scanner import PATTERNS, luhn_ok, scan_file, scan_rows, scan_text
from jobs.sample.canaries import CANARIES, canary_values


def test_finds_raw_identifiers():
    assert scan_text("身份证 11010519491231002X 已登记") == ["resident_id"]
    assert scan_text("电话13812345678") == ["mobile"]
    assert scan_text("卡号 6222020000000000000 已绑定") == ["bank_card"]
    assert scan_text("邮箱 zhang.san@example.com.cn") == ["email"]


def test_check_digits_decide():
    assert scan_text("11010519491231002X") == ["resident_id"]
    assert scan_text("110105194912310021") == []  # right shape, wrong check digit
    assert luhn_ok("6222020000000000000") and not luhn_ok("6222020000000000001")
    assert scan_text("6222020000000000001") == []


def test_masked_and_ordinary_values_are_clean():
    for text in ("138****5678", "510104************", "GD2026112600000001", "张**", "12345热线", "2026-11-26 13:00",
                 "E3002", "91350100M000100Y43", "ghijklmnopabcdef" * 4):
        assert scan_text(text) == [], text


def test_allowed_fields_and_canaries():
    rows = [("市政务服务中心", "13800000000"), (CANARIES[0].name + "来电", "")]
    found = scan_rows(rows, ["name", "hotline"], where="t", allowed={"hotline": ["mobile"]}, canaries=canary_values())
    assert [(f.column, f.kind, f.count) for f in found] == [("name", "canary", 1)]
    assert "13800000000" not in str(found) and CANARIES[0].name not in found[0].example  # examples are masked


PHONES = ["+1 718 229 5905", "+17182295905", "+44 20 7946 0958", "+86 138 1234 5678", "(718) 229-5905",
          "718-229-5905", "718.229.5905", "718 229-5905", "1-718-229-5905", "+1 (718) 229-5905", "(718) 229 5905"]


@pytest.mark.parametrize("phone", PHONES)
def test_finds_international_phone_numbers_in_free_text(phone):
    # `+17182295905` also reads as a mainland mobile (17x...), so each sentence is asked for `phone`, not only it
    for sentence in (f"市民来电反映：噪音扰民，回电{phone}。", f"311 complaint ({phone})",
                     f"Caller reports noise at 5th Ave, call back {phone} today.", phone):
        assert "phone" in scan_text(sentence), sentence


@pytest.mark.parametrize("text", [
    "2026-11-26 13:00", "2026-11-26", "20261126", "2026-11-26T13:00:00+08:00", "2026-11-26T13:00:00.123+0800",
    "4506.8717", "1,234,567.00", "+4506.8717", "+1,234,567.00", "+123456.7890", "3.14159265358979",
    "GD2026112600000001", "E3002", "510104", "91350100M000100Y43", "138****5678", "12345热线", "100-200",
    "104.0657, 30.6595", "v2.10.3", "10.0.0.1", "192.168.100.200", "UTC+8 2026-11-26 13:00",
    "7182295905",  # ten bare digits: no grouping, no country code
    "718 229 5905",  # three numbers in a row, no parentheses
    "718-129-5905", "118-229-5905",  # NANP exchange and area code start with 2-9
    "718.229.5905.1", "GD718-229-5905",  # a dotted run, a longer code
    "028-8765-4321", "(028) 8765 4321", "+6222020000000000001",  # a mainland landline; no phone has 19 digits
    "+17****5905", "(71****5905",  # international numbers as masking publishes them
])
def test_ordinary_numbers_are_not_phone_numbers(text):
    assert scan_text(text) == [], text


def test_a_field_may_allow_phone_numbers():
    rows = [("+1 718 229 5905", "市民来电 (718) 229-5905 反映噪音")]
    found = scan_rows(rows, ["hotline", "note"], where="t", allowed={"hotline": ["phone"]})
    assert [(f.column, f.kind, f.count) for f in found] == [("note", "phone", 1)]
    assert "229-5905" not in found[0].example  # examples are masked
    assert set(PATTERNS) == set(IDENTIFIER_KINDS)  # every kind the gate reports, the catalog can allow


COLUMNS = [OutColumn("id", "编号", "string"), OutColumn("note", "备注", "string"),
           OutColumn("amount", "金额", "decimal(12,2)"), OutColumn("n", "数量", "bigint")]


def test_every_format_is_read_back(tmp_path):
    rows = [("A1", "联系 13912345678", Decimal("12.50"), 1), ("A2", "无", Decimal("3.00"), 13800000000)]
    files = write_downloads(record_batches(rows, COLUMNS), COLUMNS, tmp_path, "t")
    for f in files:
        kinds = {(x.column, x.kind) for x in scan_file(f.path, f.format)}
        label = "备注" if f.format in ("CSV", "XLSX") else "note"
        count = "数量" if f.format in ("CSV", "XLSX") else "n"
        assert kinds == {(label, "mobile"), (count, "mobile")}, f.format  # numbers are scanned as text too


def test_xlsx_is_read_on_every_sheet_as_openpyxl_reads_it(tmp_path, monkeypatch):
    from openpyxl import load_workbook

    from jobs.publish import downloads
    from jobs.publish.scanner import _file_rows

    monkeypatch.setattr(downloads, "XLSX_MAX_ROWS", 2)
    rows = [(f"A{n}", "无" if n < 5 else "电话 13912345678", Decimal("12.50"), n) for n in range(1, 6)]
    rows.append(("A6", None, None, 13800000000))
    written = write_downloads(record_batches(rows, COLUMNS), COLUMNS, tmp_path, "t")
    xlsx = next(f for f in written if f.format == "XLSX")
    header, data = _file_rows(xlsx.path, "XLSX")
    ours = [[None if v is None else str(v) for v in r] for r in data]
    book = load_workbook(xlsx.path, read_only=True)
    theirs = [[None if v is None else str(v) for v in r] for ws in book.worksheets
              for r in ws.iter_rows(min_row=2, values_only=True)]
    assert header == [c.title for c in COLUMNS] and len(book.worksheets) == 3
    assert [r[:2] + r[3:] for r in ours] == [r[:2] + r[3:] for r in theirs]
    assert [r[2] for r in ours] == ["12"] * 5 + [None]  # numbers by their whole part (see below)
    found = {(f.column, f.kind, f.count) for f in scan_file(xlsx.path, "XLSX")}
    assert found == {("备注", "mobile", 1), ("数量", "mobile", 1)}


def test_xlsx_numbers_count_by_their_whole_part():
    from jobs.publish.scanner import _number_text

    assert _number_text("46353.416666666664") == "46353"  # a time of day is a fraction of a day serial
    assert _number_text("1.38E10") == "13800000000" and _number_text("13800000000") == "13800000000"
    assert _number_text("12.5") == "12" and _number_text("x.y") == "x.y"


def test_times_in_xlsx_are_not_phone_numbers(tmp_path):
    from datetime import datetime

    columns = [OutColumn("id", "编号", "string"), OutColumn("at", "办结时间", "timestamp")]
    rows = [(f"A{h}", datetime(2026, 11, 26, h, 0, 0)) for h in range(24)]  # 04:00 is day 46352.1666666...
    written = write_downloads(record_batches(rows, columns), columns, tmp_path, "t")
    xlsx = next(f for f in written if f.format == "XLSX")
    assert scan_file(xlsx.path, "XLSX") == []
