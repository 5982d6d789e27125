"""The PII gate's eyes: which values count as identifiers, in text and in each published file format.

Files come from `write_downloads` itself and from the helpers below, which write the same layout the way
other tools do (csv module, json, pyarrow, openpyxl, Excel's shared strings, raw tokens and cells), so the
scanner is held to the layout, not to one writer's habits. The columnar `scan_file` must find exactly what
`_scan_file_rowwise`, the value-by-value scan it replaced, finds: counts and examples.
"""

from __future__ import annotations

import csv
import json
import random
import re
import time
import zipfile
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from jobs.catalog.model import IDENTIFIER_KINDS
from jobs.publish.cells import column_letters
from jobs.publish.downloads import OutColumn, json_value, record_batches, write_downloads
from jobs.publish.readback import string_batches, value_text
from jobs.publish.scanner import (
    APPROXIMATIONS,
    COMPILED,
    JSON_APPROXIMATIONS,
    PATTERNS,
    _file_rows,
    _mask,
    _scan_file_rowwise,
    _Tally,
    find_identifiers,
    luhn_ok,
    scan_file,
    scan_rows,
    scan_text,
)
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


NOT_PHONES = [
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
]


@pytest.mark.parametrize("text", NOT_PHONES)
def test_ordinary_numbers_are_not_phone_numbers(text):
    assert scan_text(text) == [], text


def test_a_field_may_allow_phone_numbers():
    rows = [("+1 718 229 5905", "市民来电 (718) 229-5905 反映噪音")]
    found = scan_rows(rows, ["hotline", "note"], where="t", allowed={"hotline": ["phone"]})
    assert [(f.column, f.kind, f.count) for f in found] == [("note", "phone", 1)]
    assert "229-5905" not in found[0].example  # examples are masked
    assert set(PATTERNS) == set(IDENTIFIER_KINDS)  # every kind the gate reports, the catalog can allow


# --- the RE2 screens ---------------------------------------------------------------------------------------

#: every text above that holds an identifier
POSITIVES = ["身份证 11010519491231002X 已登记", "电话13812345678", "卡号 6222020000000000000 已绑定",
             "邮箱 zhang.san@example.com.cn", "11010519491231002X", "6222020000000000000", "13800000000",
             *PHONES, *(s.format(p) for p in PHONES for s in ("市民来电反映：噪音扰民，回电{}。", "311 complaint ({})",
                                                              "Caller reports noise at 5th Ave, call back {} today.")),
             *(v for c in CANARIES for v in (c.resident_id, c.phone, c.email, c.bank_card))]


def _re2(texts: Sequence[str], pattern: str) -> list[bool]:
    return pc.match_substring_regex(pa.array(list(texts), pa.string()), pattern).to_pylist()


def test_every_kind_has_an_re2_approximation_that_compiles():
    assert set(APPROXIMATIONS) == set(JSON_APPROXIMATIONS) == set(PATTERNS)
    for approximations in (APPROXIMATIONS, JSON_APPROXIMATIONS):
        for kind, pattern in approximations.items():
            assert "(?<" not in pattern and "(?=" not in pattern and "(?!" not in pattern, kind
            _re2([""], pattern)  # Arrow's RE2 takes it


def test_every_exact_match_is_matched_by_its_approximation():
    matched = {kind: 0 for kind in PATTERNS}
    for text in POSITIVES:
        for kind, rx in COMPILED.items():
            for m in rx.finditer(text):
                matched[kind] += 1
                # the match alone and the text around it: the approximation must see both
                assert _re2([m.group(0), text], APPROXIMATIONS[kind]) == [True, True], (kind, text)
                assert _re2([m.group(0), text], JSON_APPROXIMATIONS[kind]) == [True, True], (kind, text)
    assert all(matched.values()), matched  # every kind has positive examples


def test_approximations_match_a_superset_of_the_patterns():
    """Random texts over the characters the patterns care about: wherever Python's pattern matches, RE2's
    approximation must too (and it may match more)."""
    rnd = random.Random(20261126)
    pieces = ["1", "3", "8", "0", "2", "5", "6", "9", "7", "4", "X", "x", "a", "Z", "@", ".", "-", " ", "+", "(", ")",
              ":", "_", "中", "\n", "13800000000", "110105194912", "31002X", "622202000000", "0000000", "718", "229",
              "5905", "example", ".com", "1-", "+1 ", "+86 ", "(718) "]
    texts = ["".join(rnd.choice(pieces) for _ in range(rnd.randint(1, 14))) for _ in range(30_000)]
    for kind, rx in COMPILED.items():
        exact = [rx.search(t) is not None for t in texts]
        assert sum(exact) > 20, kind  # the sample does exercise the pattern
        for approximations in (APPROXIMATIONS, JSON_APPROXIMATIONS):
            approx = _re2(texts, approximations[kind])
            missed = [t for t, e, a in zip(texts, exact, approx, strict=True) if e and not a]
            assert not missed, (kind, missed[:5])


def test_approximations_keep_the_patterns_context():
    # a lookbehind of one class kept as a consumed character: long digit runs and codes do not pass
    assert _re2(["GD2026112600000001", "a13800000000", "913800000000", "13800000000"], APPROXIMATIONS["mobile"]) \
        == [False, True, False, True]
    # raw JSON: the `n` of an escaped line break before a phone number stands for a separator
    assert _re2(["\\n(718) 229-5905", "n(718) 229-5905"], JSON_APPROXIMATIONS["phone"]) == [True, False]


# --- download files, written in the layout of jobs.publish.downloads ---------------------------------------

TITLES = {"id": "编号", "name": "姓名", "note": "备注", "hotline": "联系电话", "mail": "邮箱", "amount": "金额",
          "n": "数量", "ratio": "比率", "at": "办结时间", "day": "日期", "ok": "是否"}
SCHEMA = pa.schema([("id", pa.string()), ("name", pa.string()), ("note", pa.string()), ("hotline", pa.string()),
                    ("mail", pa.string()), ("amount", pa.decimal128(16, 2)), ("n", pa.int64()),
                    ("ratio", pa.float64()), ("at", pa.timestamp("us")), ("day", pa.date32()), ("ok", pa.bool_())])


def _cell_text(value: Any) -> str:
    """A value as the CSV download writes it."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def write_csv(path: Path, titles: Sequence[str], rows: Sequence[Sequence[Any]]) -> Path:
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        writer = csv.writer(f, lineterminator="\r\n")
        writer.writerow(titles)
        writer.writerows([_cell_text(v) for v in row] for row in rows)
    return path


def write_json(path: Path, names: Sequence[str], rows: Sequence[Sequence[Any]], *, ensure_ascii: bool = False) -> Path:
    objects = [json.dumps({n: json_value(v) for n, v in zip(names, row, strict=True)}, ensure_ascii=ensure_ascii)
               for row in rows]
    path.write_text("[\n" + ",\n".join(objects) + "\n]\n", encoding="utf-8")
    return path


def write_parquet(path: Path, schema: pa.Schema, rows: Sequence[Sequence[Any]]) -> Path:
    pq.write_table(pa.Table.from_pylist([dict(zip(schema.names, r, strict=True)) for r in rows], schema=schema), path)
    return path


def write_xlsx(path: Path, titles: Sequence[str], rows: Sequence[Sequence[Any]], *, per_sheet: int,
               shared_strings: bool = False) -> Path:
    """A workbook with a new sheet every `per_sheet` rows, each with the titles: openpyxl's (inline strings,
    numbers, booleans, dates as day serials), or with every text a shared string, as Excel stores it."""
    chunks = [rows[start:start + per_sheet] for start in range(0, max(len(rows), 1), per_sheet)]
    if shared_strings:
        return _write_shared_xlsx(path, titles, chunks)
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    for number, chunk in enumerate(chunks, start=1):
        sheet = book.create_sheet(title=f"data({number})")
        sheet.append(list(titles))
        for row in chunk:
            sheet.append(list(row))
    book.save(path)
    return path


def _write_shared_xlsx(path: Path, titles: Sequence[str], chunks: Sequence[Sequence[Sequence[Any]]]) -> Path:
    from openpyxl.utils.datetime import to_excel

    shared: dict[str, int] = {}

    def cell(ref: str, v: Any) -> str:
        if v is None:
            return ""
        if isinstance(v, bool):
            return f'<c r="{ref}" t="b"><v>{int(v)}</v></c>'
        if isinstance(v, datetime | date):
            return f'<c r="{ref}"><v>{to_excel(v)}</v></c>'
        if isinstance(v, int | float | Decimal):
            return f'<c r="{ref}"><v>{v}</v></c>'
        return f'<c r="{ref}" t="s"><v>{shared.setdefault(str(v), len(shared))}</v></c>'

    sheets = [[f'<row r="{n}">' + "".join(cell(f"{column_letters(k)}{n}", v) for k, v in enumerate(row)) + "</row>"
               for n, row in enumerate([titles, *chunk], start=1)] for chunk in chunks]
    return write_raw_xlsx(path, sheets, list(shared))


_WORKBOOK_PARTS = {
    "[Content_Types].xml": '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/'
    'package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
    'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.'
    'xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>{sheets}</Types>',
    "_rels/.rels": '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/'
    'package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/'
    '2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>',
}


def write_raw_xlsx(path: Path, sheets: Sequence[Sequence[str]], shared: Sequence[str] = ()) -> Path:
    """A workbook whose sheets hold the given `<row>` XML as is (cells the way other tools write them)."""
    ns = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        overrides = "".join(f'<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="application/vnd.'
                            f'openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
                            for i in range(1, len(sheets) + 1))
        if shared:
            overrides += ('<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-'
                          'officedocument.spreadsheetml.sharedStrings+xml"/>')
            items = "".join(f"<si>{s}</si>" if s.startswith("<r>") else
                            f'<si><t xml:space="preserve">{escape(s)}</t></si>' for s in shared)
            z.writestr("xl/sharedStrings.xml", f'<?xml version="1.0" encoding="UTF-8"?><sst xmlns="{ns}">{items}</sst>')
        z.writestr("[Content_Types].xml", _WORKBOOK_PARTS["[Content_Types].xml"].format(sheets=overrides))
        z.writestr("_rels/.rels", _WORKBOOK_PARTS["_rels/.rels"])
        z.writestr("xl/workbook.xml", f'<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="{ns}" xmlns:r="{rel}">'
                   "<sheets>" + "".join(f'<sheet name="data{i}" sheetId="{i}" r:id="rId{i}"/>'
                                        for i in range(1, len(sheets) + 1)) + "</sheets></workbook>")
        z.writestr("xl/_rels/workbook.xml.rels", '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://'
                   'schemas.openxmlformats.org/package/2006/relationships">' + "".join(
                       f'<Relationship Id="rId{i}" Type="{rel}/worksheet" Target="worksheets/sheet{i}.xml"/>'
                       for i in range(1, len(sheets) + 1)) + (f'<Relationship Id="rIdS" Type="{rel}/sharedStrings" '
                                                             'Target="sharedStrings.xml"/>' if shared else "")
                   + "</Relationships>")
        for i, rows in enumerate(sheets, start=1):
            with z.open(f"xl/worksheets/sheet{i}.xml", "w") as f:
                f.write(f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet xmlns="{ns}">'
                        "<sheetData>".encode())
                for start in range(0, len(rows), 10_000):
                    f.write("".join(rows[start:start + 10_000]).encode())
                f.write(b"</sheetData></worksheet>")
    return path


def inline_row(number: int, values: Sequence[Any]) -> str:
    """A `<row>` as an inline-string writer makes it: strings inline, numbers as numbers."""
    cells = []
    for k, v in enumerate(values):
        ref = f"{column_letters(k)}{number}"
        if v is None:
            continue
        if isinstance(v, int | float | Decimal) and not isinstance(v, bool):
            cells.append(f'<c r="{ref}" t="n"><v>{v}</v></c>')
        else:
            cells.append(f'<c r="{ref}" t="inlineStr"><is><t>{escape(str(v))}</t></is></c>')
    return f'<row r="{number}">' + "".join(cells) + "</row>"


def _rows_of(batches) -> list[list[str | None]]:
    return [list(r) for b in batches for r in zip(*(c.to_pylist() for c in b.columns), strict=True)]


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
    assert _rows_of(string_batches(xlsx.path, "XLSX")) == ours  # the streaming reader reads the same cells
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


def test_xlsx_of_other_writers_is_read_as_openpyxl_reads_it(tmp_path):
    """openpyxl's inline strings, and shared strings as Excel writes them."""
    from openpyxl import load_workbook

    titles = ["编号", "备注", "金额", "数量"]
    rows: list[tuple[Any, ...]] = [(f"A{n}", "无" if n < 5 else "电话 13912345678", Decimal("12.50"), n)
                                   for n in range(1, 6)]
    rows.append(("A6", None, None, 13800000000))
    for shared in (False, True):
        xlsx = write_xlsx(tmp_path / f"t{shared}.xlsx", titles, rows, per_sheet=2, shared_strings=shared)
        header, data = _file_rows(xlsx, "XLSX")
        ours = [[None if v is None else str(v) for v in r] for r in data]
        book = load_workbook(xlsx, read_only=True)
        theirs = [[None if v is None else str(v) for v in r] for ws in book.worksheets
                  for r in ws.iter_rows(min_row=2, values_only=True)]
        assert header == titles and len(book.worksheets) == 3
        assert [r[:2] + r[3:] for r in ours] == [r[:2] + r[3:] for r in theirs]
        assert [r[2] for r in ours] == ["12"] * 5 + [None]  # numbers by their whole part (see below)
        assert _rows_of(string_batches(xlsx, "XLSX")) == ours  # the streaming reader reads the same cells
        found = {(f.column, f.kind, f.count) for f in scan_file(xlsx, "XLSX")}
        assert found == {("备注", "mobile", 1), ("数量", "mobile", 1)}


# --- the columnar scan finds what the row-by-row scan found ------------------------------------------------

_ID = "11010519491231002X"
_PLANTED = [_ID, _ID.lower(), "13912345678", "6222020000000000000", "zhang.san@example.com.cn", *PHONES,
            *canary_values(), "110105194912310021", "6222020000000000001", "138****5678", "GD2026112600000001"]
_FILLER = ["市民来电反映噪音扰民", "已办结，满意", "道路积水, 请尽快处理", "回访\r\n满意", '他说"好的"', "a,b", "  ",
           "",
           "无", "2026-11-26 13:00", "4506.8717", "+4506.8717", "UTC+8", "v2.10.3", "&amp; <b>", "x\\y", "_x000D_"]


def _free_text(rnd: random.Random) -> str:
    parts = [rnd.choice(_FILLER) for _ in range(rnd.randint(0, 3))]
    if rnd.random() < 0.3:
        parts.insert(rnd.randint(0, len(parts)), rnd.choice(_PLANTED))
    return rnd.choice(["", " ", "\n", "，", "/"]).join(parts)


def _mixed_rows(n: int, seed: int = 7) -> list[tuple[Any, ...]]:
    rnd = random.Random(seed)
    rows = []
    for i in range(n):
        rows.append((
            f"GD2026{i:012d}" if i % 5 else rnd.choice(_PLANTED),
            rnd.choice([CANARIES[0].name, "张**", "市政务服务中心", None, CANARIES[1].name + "来电"]),
            _free_text(rnd),
            rnd.choice(["13800000000", "+86 138 1234 5678", "(718) 229-5905", "12345", "028-8765-4321", None]),
            rnd.choice(["zhang.san@example.com.cn", CANARIES[0].email, "无", None]),
            rnd.choice([Decimal("12.50"), Decimal("13800000000.00"), Decimal("0.00"), Decimal("-4506.87"), None]),
            rnd.choice([13800000000, 6222020000000000000, 5, -13912345678, 0, None]),
            rnd.choice([13800000000.0, 12.5, 1e16, 6.2e15, 4506.8717, 0.1 + 0.2, -0.0, 1.38e-05, None]),
            rnd.choice([datetime(2026, 11, 26, i % 24, 30, 0), datetime(2026, 1, 2, 3, 4, 5, 600000), None]),
            rnd.choice([date(2026, 11, 26), date(1949, 12, 31), None]),
            rnd.choice([True, False, None]),
        ))
    return rows


def _configurations(labels: dict[str, str]) -> list[tuple[dict[str, list[str]], tuple[str, ...]]]:
    """(allowed, canaries) as the release step passes them: allowed by field name and by title."""
    allowed = {"hotline": ["mobile", "phone"], "mail": ["email"], "id": ["resident_id", "bank_card"]}
    by_label = {**allowed, **{labels[c]: kinds for c, kinds in allowed.items()}}
    return [({}, ()), (by_label, canary_values()), ({labels["note"]: list(PATTERNS)}, canary_values())]


def _assert_same_findings(path: Path, fmt: str) -> None:
    """`scan_file` finds what `_scan_file_rowwise` finds (counts and examples), whatever is allowed."""
    for allowed, canaries in _configurations(TITLES):
        ours = scan_file(path, fmt, allowed=allowed, canaries=canaries)
        theirs = _scan_file_rowwise(path, fmt, allowed=allowed, canaries=canaries)
        assert ours == theirs, (path.name, allowed, canaries)
        assert theirs, (path.name, allowed)  # the fixture does hold findings


@pytest.fixture(params=["default", "small"])
def chunks(request, monkeypatch):
    """The readers' chunk sizes as shipped, and small enough that every file spans many chunks (a row, a
    tag or `</sheetData>` cut by a chunk's end)."""
    if request.param == "small":
        from jobs.publish import readback

        for name, size in (("CSV_BLOCK", 16_384), ("JSON_CHUNK", 8_000), ("XLSX_CHUNK", 20_000), ("BATCH_ROWS", 50)):
            monkeypatch.setattr(readback, name, size)
    return request.param


def test_columnar_scan_equals_the_rowwise_scan_in_every_format(tmp_path, chunks):
    rows = _mixed_rows(400)
    names, titles = SCHEMA.names, [TITLES[n] for n in SCHEMA.names]
    files = [(write_csv(tmp_path / "t.csv", titles, rows), "CSV"),
             (write_json(tmp_path / "t.json", names, rows), "JSON"),
             (write_json(tmp_path / "ascii.json", names, rows, ensure_ascii=True), "JSON"),
             (write_parquet(tmp_path / "t.parquet", SCHEMA, rows), "Parquet"),
             (write_xlsx(tmp_path / "t.xlsx", titles, rows, per_sheet=250), "XLSX"),
             (write_xlsx(tmp_path / "shared.xlsx", titles, rows, per_sheet=250, shared_strings=True), "XLSX")]
    for path, fmt in files:
        _assert_same_findings(path, fmt)
    # and the example of a finding is the first value found in file order, masked
    first = next(v for r in rows for kind, v in find_identifiers(_cell_text(r[0])) if kind == "resident_id")
    found = {(f.column, f.kind): f.example for f in scan_file(files[0][0], "CSV", canaries=canary_values())}
    assert found[("编号", "resident_id")] == _mask(first)


def test_columnar_scan_equals_the_rowwise_scan_on_the_published_downloads(tmp_path, chunks, monkeypatch):
    from jobs.publish import downloads

    monkeypatch.setattr(downloads, "XLSX_MAX_ROWS", 150)
    spark_types = {"amount": "decimal(16,2)", "n": "bigint", "ratio": "double", "at": "timestamp", "day": "date",
                   "ok": "boolean"}
    columns = [OutColumn(n, TITLES[n], spark_types.get(n, "string")) for n in SCHEMA.names]
    rows = _mixed_rows(400, seed=11)
    for f in write_downloads(record_batches(rows, columns, batch_rows=128), columns, tmp_path, "t"):
        _assert_same_findings(f.path, f.format)


def test_columnar_scan_equals_the_rowwise_scan_on_raw_json_tokens(tmp_path, chunks):
    """Number tokens other writers produce, escapes, and Python's text of them (`str(float)`, `True`)."""
    tokens = ["1.38e10", "1.39E10", "12.13800000000", "0.13900000018999999999", "12999999999.9999999", "1E400",
              "-0.0", "13800000000", "13800000000.000", "6222020000000000000", "true", "null", "[13800000000]",
              '{"x": "13912345678"}', '"\\u0031\\u0033\\u0039\\u0031\\u0032\\u0033\\u0034\\u0035\\u0036\\u0037\\u0038"',
              '"\\n(718) 229-5905"', '"\\t+86 138 1234 5678"', '"\\u4e2d13912345678"', '"a\\"13912345678"',
              '"\\u91d1\\u4e1d\\u96c0\\u7532"', '"zhang.san\\u0040example.com"', '"x\\/13912345678"',
              "11380000000100000.0", "0.0000213800000001"]
    lines = [f'{{"id": "{i}", "v": {t}, "w": {tokens[(i * 7) % len(tokens)]}}}' for i, t in enumerate(tokens)]
    lines += ['{"id": "t", "v": true, "w": {"x": "y"}}', '{"id": "n", "v": NaN, "w": -Infinity}']  # no digits at all
    path = tmp_path / "raw.json"
    path.write_text("[\n" + ",\n".join(lines) + "\n]\n", encoding="utf-8")
    for canaries in ((), canary_values(), ("True",), ("1.38",), ("'y'",), ("inf",)):  # Python's True, repr, -inf
        theirs = _scan_file_rowwise(path, "JSON", canaries=canaries)
        assert scan_file(path, "JSON", canaries=canaries) == theirs, canaries
    assert {f.kind for f in _scan_file_rowwise(path, "JSON")} >= {"mobile", "phone", "email", "bank_card"}
    assert all(_scan_file_rowwise(path, "JSON", canaries=[c]) for c in ("True", "'y'", "inf"))


def test_columnar_scan_equals_the_rowwise_scan_on_raw_xlsx_cells(tmp_path, chunks):
    """Cells other tools write: without references, entities, character references, rich text, exponents,
    leading zeros, shared strings holding identifiers, an empty shared-string index."""
    shared = ["编号", "备注", "数量", "13912345678", "无", "<r><t>139</t></r><r><t>12345678</t></r>",
              "zhang.san@example.com", "+86 138 1234 5678"]
    header = '<row r="1"><c t="s"><v>0</v></c><c t="s"><v>1</v></c><c t="s"><v>2</v></c></row>'
    cells = ['<c t="inlineStr"><is><t>a&amp;13912345678</t></is></c>',
             '<c t="inlineStr"><is><t>&#49;3912345678</t></is></c>',
             '<c t="inlineStr"><is><r><t>139</t></r><r><t>12345678</t></r></is></c>', '<c><v>1.3912345678E10</v></c>',
             '<c t="n"><v>0013912345678.5</v></c>', '<c t="s"><v>3</v></c>', '<c t="s"><v> 05</v></c>',
             '<c t="s"><v>6</v></c>', '<c t="s"><v>7</v></c>', '<c t="s"><v>4</v></c>',
             '<c t="str"><v>13912345678</v></c>',
             '<c t="b"><v>1</v></c>', '<c t="inlineStr"><is><t xml:space="preserve"> (718) 229-5905 </t></is></c>',
             '<c t="inlineStr"><is><t>x_x000D_13912345678</t></is></c>', '<c t="n"><v>13912345678.25</v></c>',
             "<c/>", '<c t="inlineStr"><is><t/></is></c>', '<c t="inlineStr"><is><t>回访\r\n13912345678</t></is></c>']
    rows = [header] + [f'<row r="{i + 2}">' + cells[i % len(cells)] + cells[(i * 5 + 1) % len(cells)]
                       + cells[(i * 3 + 2) % len(cells)] + "</row>" for i in range(60)]
    rows.append('<row r="62"><c r="C62" t="n"><v>13800000000</v></c>'
                '<c r="A62" t="inlineStr"><is><t>无</t></is></c></row>')
    rows.append('<row r="63"/>')
    path = write_raw_xlsx(tmp_path / "raw.xlsx", [rows, [header, *rows[1:30]]], shared)
    _, data = _file_rows(path, "XLSX")
    assert _rows_of(string_batches(path, "XLSX")) == [(list(r) + [None] * 3)[:3] for r in data]
    allowances = ({}, {"备注": list(PATTERNS)}, {"编号": ["mobile"], "数量": ["mobile", "phone"]}, {"数量": ["email"]})
    for allowed in allowances:  # each cell is screened with its own column's kinds (placed by `r` or position)
        for canaries in ((), canary_values(), ("a&1",)):
            theirs = _scan_file_rowwise(path, "XLSX", allowed=allowed, canaries=canaries)
            assert scan_file(path, "XLSX", allowed=allowed, canaries=canaries) == theirs, (allowed, canaries)
    assert {f.kind for f in _scan_file_rowwise(path, "XLSX")} >= {"mobile", "phone", "email"}


def test_parquet_values_read_as_python_writes_them():
    values = [
        pa.array([1, -13800000000, None], pa.int64()), pa.array([13800000000.0, 1e16, 6.2e15, 1.38e-05, None]),
        pa.array([Decimal("12.50"), Decimal("-0.50"), None], pa.decimal128(12, 2)),
        pa.array([Decimal("0E-9"), Decimal("1E-7"), Decimal("13800000000.000000001")], pa.decimal128(38, 9)),
        pa.array([datetime(2026, 11, 26, 4), datetime(2026, 1, 2, 3, 4, 5, 6), None], pa.timestamp("us")),
        pa.array([datetime(2026, 11, 26, 4), datetime(2026, 1, 2, 3, 4, 5, 6000)], pa.timestamp("ms")),
        pa.array([datetime(2026, 11, 26, 4)], pa.timestamp("s")),
        pa.array([datetime(2026, 11, 26, 4)], pa.timestamp("us", "UTC")),
        pa.array([date(2026, 11, 26), date(5, 1, 1), None]), pa.array([True, False, None]),
        pa.array(["a", None], pa.large_string()), pa.array(["x", "y", "x"]).dictionary_encode(),
        pa.array([[1, 2], None]), pa.array([{"a": 1}]), pa.array([None, None], pa.null()), pa.array([b"\x00a"]),
    ]
    for array in values:
        assert value_text(array).to_pylist() == [None if v is None else str(v) for v in array.to_pylist()], array.type


@pytest.mark.parametrize("fmt", ["CSV", "JSON"])
def test_layouts_the_streaming_readers_do_not_take_are_read_row_by_row(tmp_path, chunks, fmt):
    rows = _mixed_rows(40)
    if fmt == "CSV":  # a row with a field more than the header (the csv module ignores it)
        path = write_csv(tmp_path / "t.csv", [TITLES[n] for n in SCHEMA.names], rows)
        path.write_bytes(path.read_bytes() + b"a,13912345678," + b",".join([b"x"] * 11) + b"\r\n")
    else:  # an array written by another tool, pretty-printed
        path = tmp_path / "t.json"
        path.write_text(json.dumps([{n: json_value(v) for n, v in zip(SCHEMA.names, r, strict=True)} for r in rows],
                                   ensure_ascii=False, indent=2), encoding="utf-8")
    _assert_same_findings(path, fmt)


def test_json_and_xlsx_rows_that_cannot_hold_findings_are_not_parsed(tmp_path):
    rows = [(f"A{i}", "无" if i % 50 else "电话 13912345678", i) for i in range(1_000)]
    json_path = write_json(tmp_path / "t.json", ["id", "note", "n"], rows)
    xlsx = write_raw_xlsx(tmp_path / "t.xlsx", [[inline_row(1, ["编号", "备注", "数量"]),
                                                 *(inline_row(i + 2, r) for i, r in enumerate(rows))]])
    screen = _Tally("t", {}, canary_values()).screen()
    for path, fmt in ((json_path, "JSON"), (xlsx, "XLSX")):
        parsed = _rows_of(string_batches(path, fmt, screen=screen))
        assert len(_rows_of(string_batches(path, fmt))) == 1_000
        assert [r[1] for r in parsed] == ["电话 13912345678"] * 20, fmt


@pytest.mark.parametrize("shared_strings", [False, True])
def test_an_allowed_column_full_of_identifiers_does_not_send_every_xlsx_row_to_the_parser(tmp_path, shared_strings):
    rows = [(f"A{i}", f"139{i:08d}", "无" if i % 50 else "电话 13912345678") for i in range(300)]
    xlsx = write_xlsx(tmp_path / "t.xlsx", ["编号", "热线", "备注"], rows, per_sheet=120, shared_strings=shared_strings)
    screen = _Tally("t", {"热线": ["mobile"]}, canary_values()).screen()
    parsed = [r[0] for r in _rows_of(string_batches(xlsx, "XLSX", screen=screen))]
    # the mobiles in 备注, and A19, whose 热线 is a canary's phone (13900000019): allowed kinds, but a canary
    assert parsed == ["A0", "A19", "A50", "A100", "A150", "A200", "A250"]
    allowed = {"热线": ["mobile"]}
    assert scan_file(xlsx, "XLSX", allowed=allowed, canaries=canary_values()) \
        == _scan_file_rowwise(xlsx, "XLSX", allowed=allowed, canaries=canary_values())


def test_scanning_200k_rows_takes_seconds(tmp_path):
    """CSV and XLSX of 200,000 rows x 8 columns (times printed, not asserted: run with -s to see them)."""
    titles = ["编号", "名称", "备注", "金额", "数量", "办结时间", "地址", "热线"]
    notes = ["市民来电反映噪音扰民", "已办结，满意", "转交区住建局处理\n次日回访", "道路积水, 请尽快处理"]
    rows = [[f"GD2026{i:012d}", f"市政务服务中心{i % 50}号窗口",
             notes[i % 4] + (" 联系13912345678" if i % 997 == 0 else ""), f"{i * 37 % 10**5}.{i % 100:02d}",
             str(i * 7919 % 10**6), f"2026-11-{1 + i % 28:02d} {i % 24:02d}:00:00", f"成都市锦江区红星路{i % 300}号",
             "12345" if i % 3 else "028-8765-4321"] for i in range(200_000)]
    csv_path = write_csv(tmp_path / "t.csv", titles, rows)
    xml = ['<row r="1">' + "".join(f'<c r="{column_letters(k)}1" t="inlineStr"><is><t>{t}</t></is></c>'
                                   for k, t in enumerate(titles)) + "</row>"]
    xml += [f'<row r="{n}"><c r="A{n}" t="inlineStr"><is><t>{a}</t></is></c><c r="B{n}" t="inlineStr"><is><t>{b}</t>'
            f'</is></c><c r="C{n}" t="inlineStr"><is><t>{c}</t></is></c><c r="D{n}" t="n"><v>{d}</v></c><c r="E{n}" '
            f't="n"><v>{e}</v></c><c r="F{n}" t="inlineStr"><is><t>{f}</t></is></c><c r="G{n}" t="inlineStr"><is>'
            f'<t>{g}</t></is></c><c r="H{n}" t="inlineStr"><is><t>{h}</t></is></c></row>'
            for n, (a, b, c, d, e, f, g, h) in enumerate(rows, start=2)]
    xlsx = write_raw_xlsx(tmp_path / "t.xlsx", [xml])
    for path, fmt in ((csv_path, "CSV"), (xlsx, "XLSX")):
        start = time.perf_counter()
        found = scan_file(path, fmt, allowed={"热线": ["phone"]}, canaries=canary_values())
        print(f"\n{fmt} 200,000 x 8 ({path.stat().st_size / 1e6:.0f} MB): {time.perf_counter() - start:.2f} s")
        assert [(f.column, f.kind, f.count) for f in found] == [("备注", "mobile", 201)], fmt


@pytest.mark.parametrize("size", [5, 61, 997])
def test_chunk_ends_cut_no_row(tmp_path, monkeypatch, size):
    """Whatever the chunk size, every row is read whole (a chunk's end may cut `<row`, `</sheetData>`, a
    shared string, a UTF-8 character or a JSON line)."""
    from jobs.publish import readback

    rows = _mixed_rows(60)
    titles = [TITLES[n] for n in SCHEMA.names]
    files = [(write_xlsx(tmp_path / "t.xlsx", titles, rows, per_sheet=25), "XLSX"),
             (write_xlsx(tmp_path / "s.xlsx", titles, rows, per_sheet=25, shared_strings=True), "XLSX"),
             (write_json(tmp_path / "t.json", SCHEMA.names, rows), "JSON")]
    whole = {path: _rows_of(string_batches(path, fmt)) for path, fmt in files}
    monkeypatch.setattr(readback, "XLSX_CHUNK", size)
    monkeypatch.setattr(readback, "JSON_CHUNK", size)
    for path, fmt in files:
        assert len(whole[path]) == 60 and _rows_of(string_batches(path, fmt)) == whole[path], path.name


def test_the_screens_are_what_the_tally_uses():
    tally = _Tally("t", {"hotline": list(PATTERNS)}, ["", "金丝雀甲"])
    assert tally._column_screen("hotline") == r"(?:金丝雀甲)"  # only the canary is looked for there
    assert re.escape("金丝雀甲") in (tally._column_screen("note") or "") and tally.screen().literals == ("金丝雀甲",)
    assert _Tally("t", {"hotline": list(PATTERNS)}, [])._column_screen("hotline") is None
