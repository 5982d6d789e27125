"""Reading a department's Excel export (.xlsx), in one streaming pass, into a staged Parquet file.

Departments export spreadsheets, not tables: title rows above the header, a header of two rows with
merged group cells, notes below the table ("注：数据截至……", "制表人：……"), and codes that Excel
turned into numbers. This reader streams one sheet with openpyxl's read-only mode (bounded memory),
records each record's Excel row number, and stages every cell as a string the way `conform` expects it
for its catalog item (dates in the item's first declared pattern). A value Excel cannot have kept
exactly (an 18-digit resident ID stored as a number keeps only 15 significant digits) is staged as
Excel stored it and its record is marked with `_parse_error`, so it is quarantined, never "repaired".
The staged Parquet has the same shape as the CSV stager's (`jobs.io.exports`).
"""

from __future__ import annotations

import math
import re
import zipfile
import zlib
from collections.abc import Collection, Iterator, Sequence
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import IO, Any
from xml.etree.ElementTree import ParseError
from zoneinfo import ZoneInfo

from openpyxl import load_workbook
from openpyxl.utils import get_column_letter
from openpyxl.utils.datetime import WINDOWS_EPOCH, from_excel, to_excel
from openpyxl.utils.exceptions import InvalidFileException

from jobs.catalog.drift import DriftReport, clean_label, label_of, plan_columns
from jobs.catalog.loader import EPOCH_MILLIS, EPOCH_SECONDS, EXCEL_SERIAL, SPECIAL_FORMATS
from jobs.catalog.model import DataItem, Resource
from jobs.errors import CatalogError, ExportRejected
from jobs.io.exports import StagedExport, StagingWriter
from jobs.io.spark import TIMEZONE

#: Excel keeps 15 significant digits: from 10^15 on, an integer stored as a number may have lost digits.
EXACT_LIMIT = 10**15
#: Rules (and the PII class) of items that are identifiers and must arrive as text, whatever their size.
IDENTIFIER_RULES = frozenset({"cn_resident_id", "cn_uscc", "cn_uscc_checksum"})
#: The first serial day that is not a date any more (10000-01-01 in the 1900 date system).
_SERIAL_END = 2958466
_ISO_TIMESTAMP, _ISO_DATE = "%Y-%m-%d %H:%M:%S", "%Y-%m-%d"
#: Java/Spark pattern letters this reader can format, by letter and count (Spark parses a one-letter
#: field of one or two digits, so zero-padded output reads back with the same pattern).
_PATTERN_FIELDS: dict[str, dict[int, str]] = {
    "y": {1: "%Y", 2: "%y", 4: "%Y"},
    "M": {1: "%m", 2: "%m"},
    "d": {1: "%d", 2: "%d"},
    "H": {1: "%H", 2: "%H"},
    "m": {1: "%M", 2: "%M"},
    "s": {1: "%S", 2: "%S"},
}
#: What openpyxl raises on a damaged archive or sheet (it never reaches our own code).
_BROKEN = (zipfile.BadZipFile, zlib.error, ParseError, EOFError, InvalidFileException,
           KeyError, ValueError, TypeError, OverflowError)


def stage_xlsx(path: Path, resource: Resource, staged: Path) -> StagedExport:
    """Stream one sheet of `path` into `staged` (Parquet), columns in catalog order.

    The sheet is `source.sheet` or the first worksheet. Rows above `source.header_row` are titles;
    the header spans `source.header_rows` rows and its labels are built by `header_labels`. The
    resource's drift policy judges the labels (`plan_columns`, reported at the header's first row).
    Each record keeps its Excel row number in `_row_number`. Blank rows are skipped; the table ends
    at the first note row: its first non-empty cell starts with one of `source.footer_prefixes` and is
    alone in the row or continues with a colon ("注：……", "制表人：……"); that row and everything below
    are not data.

    A record is kept with `_parse_error` set (it will be quarantined) when it has values right of the
    last header column (kept in `_rescued` as `_column_<letter>`) or when a cell of a text item holds a
    number Excel cannot have stored exactly (see `CellText`). A sheet that ends before its header is
    an empty export (0 rows, no drift report); a header-only sheet stages 0 rows like a header-only CSV.

    Raises:
        ExportRejected: not a readable .xlsx, no such sheet, or a blank header above data rows.
        SchemaMismatch: the drift policy refuses the header (a subclass of ExportRejected).
        CatalogError: a date item's first pattern uses letters this reader cannot format.
    """
    file = str(path)
    out = StagingWriter(staged, resource)
    try:
        with path.open("rb") as stream:
            header, drift = _stage_workbook(stream, resource, out, file)
    except BaseException:
        out.abort()
        raise
    return out.close(header, drift)


def header_labels(rows: Sequence[Sequence[str]], known: Collection[str]) -> list[str]:
    """Column labels from a header of one or more rows of cleaned cell texts ("" for an empty cell).

    Read-only openpyxl shows a merged cell's text only in its top-left cell, so:
    1. The header is as wide as its last non-empty cell; empty columns right of it are ignored.
    2. Group titles: in every header row but the lowest, a non-empty cell with a non-empty cell below
       it (in a lower header row) is a group title, and it is carried right across the empty cells of
       its row, as long as the column has a non-empty cell below and no row above starts a new cell
       there. A non-empty cell with nothing below it is a whole-column label merged vertically (e.g.
       "工单编号" over rows 1-2) and is not carried.
    3. A column's label is its lowest header cell when that cell alone is a catalog label (`known`), so a
       group title above catalog labels ("申请人信息" over "姓名", "证件号码") is dropped; otherwise it is
       the column's non-empty cells, top to bottom, joined without a separator (a repeated text counts
       once): "受理" over "时间" gives "受理时间", a vertically merged "工单编号" gives "工单编号".
    """
    width = max((k + 1 for row in rows for k, text in enumerate(row) if text), default=0)
    own = [[row[k] if k < len(row) else "" for k in range(width)] for row in rows]
    filled = [list(row) for row in own]
    height = len(own)
    for r in range(height - 1):
        group = ""
        for c in range(width):
            below = any(own[b][c] for b in range(r + 1, height))
            if own[r][c] or any(own[a][c] for a in range(r)):
                group = own[r][c] if below else ""
            elif group and below:
                filled[r][c] = group
            else:
                group = ""
    labels = []
    for c in range(width):
        lowest = own[-1][c]
        if lowest and lowest in known:
            labels.append(lowest)
            continue
        parts: list[str] = []
        for row in filled:
            if row[c] and (not parts or parts[-1] != row[c]):
                parts.append(row[c])
        labels.append("".join(parts))
    return labels


@lru_cache(maxsize=64)
def java_to_strftime(pattern: str) -> str:
    """The `strftime` format writing what the Java/Spark datetime `pattern` reads.

    Supported: `yyyy`/`y`, `yy`, `MM`/`M`, `dd`/`d`, `HH`/`H`, `mm`/`m`, `ss`/`s` (one-letter fields are
    written zero-padded), any other character as literal text (Chinese included), and quoted literals
    (`'T'`, `''` for a quote). Example: `java_to_strftime("yyyy年MM月dd日") == "%Y年%m月%d日"`.

    Raises:
        ValueError: another pattern letter (e.g. `SSS`, `a`, `E`), an optional section or an open quote.
    """
    out: list[str] = []
    k, n = 0, len(pattern)
    while k < n:
        ch = pattern[k]
        if ch == "'":
            k += 1
            if k < n and pattern[k] == "'":
                out.append("'")
                k += 1
                continue
            while True:
                if k >= n:
                    raise ValueError(f"date pattern {pattern!r} has an unclosed quote")
                if pattern[k] == "'":
                    if k + 1 < n and pattern[k + 1] == "'":
                        out.append("'")
                        k += 2
                        continue
                    k += 1
                    break
                out.append(pattern[k].replace("%", "%%"))
                k += 1
        elif "a" <= ch <= "z" or "A" <= ch <= "Z":
            end = k
            while end < n and pattern[end] == ch:
                end += 1
            spec = _PATTERN_FIELDS.get(ch, {}).get(end - k)
            if spec is None:
                raise ValueError(f"date pattern {pattern!r}: {pattern[k:end]!r} cannot be written "
                                 "(supported: yyyy, yy, MM, M, dd, d, HH, H, mm, m, ss, s and literal text)")
            out.append(spec)
            k = end
        elif ch in "[]{}#":
            raise ValueError(f"date pattern {pattern!r}: {ch!r} is reserved by Java and cannot be written")
        else:
            out.append("%%" if ch == "%" else ch)
            k += 1
    return "".join(out)


class CellText:
    """Turns openpyxl cell values into staged strings for the catalog item of their column.

    - None stays None; text is kept as is; booleans become "true"/"false".
    - Dates and times in a `date`/`timestamp` item, and numbers there that are plausible Excel serial days
      (counted in the workbook's date system, 1900 or 1904), are written in the item's first declared
      pattern that is not `excel_serial`; with no such pattern, as the serial day of the 1900 system when
      the item reads `excel_serial`, else as ISO "YYYY-MM-DD HH:MM:SS" (timestamp) or "YYYY-MM-DD" (date).
      Times are rounded to the second. Other numbers there stay numbers (e.g. 20240115 for `yyyyMMdd`).
    - Dates in any other item are ISO text ("YYYY-MM-DD" at midnight); a time of day is "HH:MM:SS".
    - Numbers are written exactly, without exponent: 3.0 -> "3", 0.25 -> "0.25", at most Excel's 15
      significant digits (0.1 + 0.2 -> "0.3").
    - A number in a `string` item is untrustworthy when it is not whole, when it is 10^15 or more, or when
      the item is an identifier (resident ID, unified social credit code): it is staged as Excel stored
      it (5.10104199001011e+17) and `why` says so, to quarantine the record. Smaller whole numbers
      (a phone 13812345678, a division code 510104) are staged as their digits.
    """

    def __init__(self, resource: Resource, *, epoch: datetime = WINDOWS_EPOCH):
        self.resource = resource
        self.epoch = epoch

    def text(self, value: Any, item: DataItem | None) -> tuple[str | None, str | None]:
        """The staged string of `value` and, when it cannot be trusted, why (else None)."""
        if value is None or isinstance(value, str):
            return value, None
        if isinstance(value, bool):
            return ("true" if value else "false"), None
        kind = item.type if item is not None else None
        if isinstance(value, date):
            moment = value if isinstance(value, datetime) else datetime(value.year, value.month, value.day)
            if item is not None and kind in ("date", "timestamp"):
                return self._written(moment, item), None
            return _iso(moment), None
        if isinstance(value, time):
            return value.replace(microsecond=0).isoformat(), None
        if isinstance(value, timedelta):
            return str(value), None
        if isinstance(value, int | float):
            if item is not None and kind in ("date", "timestamp"):
                day = self._from_serial(value)
                return (_exact(value) if day is None else self._written(day, item)), None
            if item is not None and kind == "string":
                why = _distrust(value, item)
                if why is not None:
                    return _as_stored(value), why
            return _exact(value), None
        return str(value), None

    def _from_serial(self, value: float) -> datetime | None:
        """The moment an Excel serial day stands for, or None when `value` is no plausible date."""
        if not math.isfinite(value):
            return None
        if self.epoch == WINDOWS_EPOCH:
            plausible = 1 <= value < _SERIAL_END and not 60 <= value < 61  # 60 is 1900-02-29, a day Excel invented
        else:
            plausible = 0 <= value < _SERIAL_END - 1462
        converted = from_excel(value, self.epoch) if plausible else None
        return converted if isinstance(converted, datetime) else None

    def _written(self, moment: datetime, item: DataItem) -> str:
        moment = _whole_seconds(moment)
        pattern = next((f for f in item.formats if f not in SPECIAL_FORMATS), None)
        if pattern is None:
            special = next((f for f in item.formats if f in SPECIAL_FORMATS), None)
            if special == EXCEL_SERIAL:
                return _exact(to_excel(moment))
            if special in (EPOCH_SECONDS, EPOCH_MILLIS):
                # a date cell of an item the department writes as epoch numbers: the instant of that wall-clock
                # time in the city, as conform reads the number back
                seconds = moment.replace(tzinfo=ZoneInfo(TIMEZONE)).timestamp()
                return str(round(seconds * 1000) if special == EPOCH_MILLIS else round(seconds))
            return moment.strftime(_ISO_DATE if item.type == "date" else _ISO_TIMESTAMP)
        try:
            return moment.strftime(java_to_strftime(pattern))
        except ValueError as exc:
            raise CatalogError(f"{exc}; the Excel stager writes dates in the item's first pattern",
                               file=self.resource.file or "<catalog>", resource=self.resource.name,
                               field=item.name) from None


def _whole_seconds(moment: datetime) -> datetime:
    rounded = moment.replace(microsecond=0)
    return rounded + timedelta(seconds=1) if moment.microsecond >= 500_000 else rounded


def _iso(moment: datetime) -> str:
    moment = _whole_seconds(moment)
    return moment.strftime(_ISO_DATE if moment.time() == time() else _ISO_TIMESTAMP)


def _exact(value: int | float) -> str:
    """A number as plain digits: no exponent, no ".0", at most 15 significant digits for fractions."""
    if isinstance(value, int):
        return str(value)
    if not math.isfinite(value):
        return repr(value)
    if value.is_integer():
        return str(int(value))
    shortest = float(f"{value:.15g}")
    return format(Decimal(repr(shortest)), "f")


def _as_stored(value: int | float) -> str:
    """A number the way Excel stored it (its shortest round-trip text), for a value not to be repaired."""
    return repr(value) if isinstance(value, float) else str(value)


def _distrust(value: int | float, item: DataItem) -> str | None:
    if isinstance(value, float) and not value.is_integer():
        return "a text column holds a fractional number, so the value cannot be trusted"
    if abs(value) >= EXACT_LIMIT:
        return "Excel keeps only 15 significant digits, so the value cannot be trusted"
    if item.pii == "resident_id" or any(r.rule in IDENTIFIER_RULES for r in item.rules):
        return "an identifier stored as a number loses leading zeros and digits beyond the 15th"
    return None


def _stage_workbook(stream: IO[bytes], resource: Resource, out: StagingWriter,
                    file: str) -> tuple[list[str], DriftReport | None]:
    try:
        book = load_workbook(stream, read_only=True, data_only=True)
    except _BROKEN as exc:
        raise ExportRejected(f"is not a readable .xlsx workbook ({type(exc).__name__}: {exc})", file=file) from None
    try:
        wanted = resource.source.sheet
        sheets = {ws.title: ws for ws in book.worksheets}
        if wanted is not None and wanted not in sheets:
            present = ", ".join(book.sheetnames) or "none"
            raise ExportRejected(f"has no sheet {wanted!r} (sheets: {present})", file=file)
        if not sheets:
            raise ExportRejected("has no worksheet", file=file)
        sheet = sheets[wanted] if wanted is not None else book.worksheets[0]
        return _stage_rows(_rows(sheet, file), resource, out, file, CellText(resource, epoch=book.epoch))
    finally:
        book.close()


def _rows(sheet: Any, file: str) -> Iterator[tuple[int, Sequence[Any]]]:
    """(Excel row number, cell values) of every row, blank ones included, whatever the sheet's
    recorded dimensions say (some writers record too small a range)."""
    sheet.reset_dimensions()
    rows = sheet.iter_rows(values_only=True)
    number = 0
    while True:
        try:
            cells = next(rows)
        except StopIteration:
            return
        except _BROKEN as exc:
            raise ExportRejected(f"the sheet cannot be read ({type(exc).__name__}: {exc})", file=file,
                                 line=number + 1) from None
        number += 1
        yield number, cells


def _stage_rows(rows: Iterator[tuple[int, Sequence[Any]]], resource: Resource, out: StagingWriter, file: str,
                cells: CellText) -> tuple[list[str], DriftReport | None]:
    source = resource.source
    first, last = source.header_row, source.header_row + source.header_rows - 1
    header: list[list[str]] = []
    for number, values in rows:
        if number >= first:
            header.append([clean_label(cells.text(v, None)[0] or "") for v in values])
        if number >= last:
            break
    labels = header_labels(header, {label_of(i, resource) for i in resource.items})
    if not labels:  # no header: an empty export, unless rows follow (then header_row must be wrong)
        data = next(_table(rows, source.footer_prefixes), None)
        if data is not None:
            raise ExportRejected(f"the header (row {first}) is blank but row {data[0]} has values; "
                                 "check the resource's source.header_row", file=file, line=first)
        return [], None
    plan = plan_columns(labels, resource, file, line=first)
    items = {p: i for i, p in zip(resource.items, plan.positions, strict=True) if p is not None}
    for number, values in _table(rows, source.footer_prefixes):
        filled = [k for k, v in enumerate(values) if v is not None and v != ""]
        texts: list[str | None] = []
        errors: list[str] = []
        for k in range(plan.width):
            text, why = cells.text(values[k] if k < len(values) else None, items.get(k))
            texts.append(text)
            if why is not None:
                errors.append(f"row {number}, column {labels[k] or get_column_letter(k + 1)}: stored as a number "
                              f"({text}); {why} — re-export the column as text")
        record, extras = plan.split(texts)
        beyond = [k for k in filled if k >= plan.width]
        if beyond:
            letters = [get_column_letter(k + 1) for k in beyond]
            noun = "column" if len(letters) == 1 else "columns"
            errors.append(f"row {number} has values beyond the last header column ({noun} {', '.join(letters)})")
            extras.update({f"_column_{get_column_letter(k + 1)}": cells.text(values[k], None)[0] for k in beyond})
        out.add(number, record, "; ".join(errors) or None, extras)
    return labels, plan.report


def _table(rows: Iterator[tuple[int, Sequence[Any]]],
           footer_prefixes: tuple[str, ...]) -> Iterator[tuple[int, Sequence[Any]]]:
    """The non-blank rows below the header, up to (not including) the first note row.

    A note row starts with a footer prefix and is either the row's only value or the prefix is
    followed by a colon ("注：", "制表人:"): data such as "注册资本" or "注销" in a full row is not a note.
    """
    for number, values in rows:
        filled = [v for v in values if v is not None and v != ""]
        if not filled:
            continue
        if isinstance(filled[0], str) and _is_note(filled[0].lstrip(), footer_prefixes, alone=len(filled) == 1):
            return
        yield number, values


def _is_note(text: str, prefixes: tuple[str, ...], *, alone: bool) -> bool:
    for prefix in prefixes:
        if text.startswith(prefix):
            rest = text[len(prefix):].lstrip()
            # alone in its row, or the prefix and at most three more characters then a colon (制表人：)
            if alone or re.match(r"^[^\s：:]{0,3}[：:]", rest):
                return True
    return False
