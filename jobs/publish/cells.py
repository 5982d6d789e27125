"""Cells of the download files as Arrow compute kernels: one call per column and batch, no Python per cell.

The text of a value is the same in every format: times as `2026-11-26 09:00:00`, dates ISO, decimals
exactly as stored (`4506.8717`, never through a float), booleans `true` / `false`. JSON strings are
escaped as `json.dumps(..., ensure_ascii=False)` escapes them; XLSX text is XML-escaped with the control
characters XML cannot hold written as Excel's `_xHHHH_`. Pure: no file, no Spark.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from xml.sax.saxutils import escape, quoteattr

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

#: Excel serial day of 1970-01-01 (serial 1 = 1900-01-01, counting Excel's fictitious 1900-02-29)
EXCEL_EPOCH_SERIAL = 25569
MICROS_PER_DAY = 86_400_000_000
#: control characters JSON must escape besides \n \r \t \b \f (as \u00XX), and XML 1.0 cannot hold
_CONTROLS = [chr(c) for c in range(0x20) if chr(c) not in "\t\n\r"]
_CONTROL_CLASS = "[\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f]"
_JSON_SHORT = {"\b": "\\b", "\f": "\\f"}


def _lit(text: str) -> pa.Scalar:
    return pa.scalar(text, pa.string())


def concat(*parts: pa.Array | str) -> pa.Array:
    """Element-wise concatenation of string arrays and literals (no part may be null)."""
    return pc.binary_join_element_wise(*[_lit(p) if isinstance(p, str) else p for p in parts], _lit(""))


def conformed(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    """The batch with the published columns' names and types (by position)."""
    arrays = [col if col.type == field.type else pc.cast(col, field.type, safe=not pa.types.is_timestamp(field.type))
              for col, field in zip(batch.columns, schema, strict=True)]
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def _seconds(col: pa.Array) -> pa.Array:
    return pc.cast(col, pa.timestamp("s"), safe=False)  # microseconds are not written (as before)


def text(col: pa.Array) -> pa.Array:
    """Each value as the CSV writes it; nulls stay null (an empty field)."""
    if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
        return pc.cast(col, pa.string())
    if pa.types.is_timestamp(col.type):
        return pc.cast(_seconds(col), pa.string())  # `2026-11-26 09:00:00`, several times faster than strftime
    return pc.cast(col, pa.string())


#: what a spreadsheet may take for the start of a formula (OWASP's CSV injection list)
FORMULA_START = r"^[=+\-@\t\r]"


def neutralised(col: pa.Array) -> pa.Array:
    """Text that a spreadsheet would run as a formula, with a `'` in front (OWASP): `=1+1` -> `'=1+1`, shown
    as the text it is. Only for CSV; XLSX writes text cells, which are never formulas."""
    if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
        return col
    risky = pc.match_substring_regex(col, FORMULA_START)
    return pc.if_else(risky, pc.binary_join_element_wise(_lit("'"), col, _lit("")), col)


def csv_type(kind: pa.DataType) -> pa.DataType:
    """The type a column is handed to Arrow's CSV writer as: times in whole seconds (`2026-11-26 09:00:00`)."""
    return pa.timestamp("s") if pa.types.is_timestamp(kind) else kind


def _any_match(values: pa.Array, pattern: str) -> bool:
    return bool(pc.any(pc.match_substring_regex(values, pattern)).as_py())


def json_string(values: pa.Array) -> pa.Array:
    """Strings as JSON string literals (quoted and escaped), nulls kept null."""
    out = pc.cast(values, pa.string())
    if _any_match(out, '[\\\\"\\x00-\\x1f]'):  # most columns hold nothing to escape: one scan, no copies
        out = pc.replace_substring(out, "\\", "\\\\")
        out = pc.replace_substring(out, '"', '\\"')
        for raw, escaped in (("\n", "\\n"), ("\r", "\\r"), ("\t", "\\t")):
            out = pc.replace_substring(out, raw, escaped)
        if _any_match(out, _CONTROL_CLASS):
            for ch in _CONTROLS:
                out = pc.replace_substring(out, ch, _JSON_SHORT.get(ch, f"\\u{ord(ch):04x}"))
    quoted = concat('"', pc.fill_null(out, ""), '"')
    return quoted if out.null_count == 0 else pc.if_else(pc.is_null(out), pa.nulls(len(out), pa.string()), quoted)


def json_key(name: str) -> str:
    return json.dumps(name, ensure_ascii=False) + ":"


def json_value(col: pa.Array) -> pa.Array:
    """Each value as a JSON literal; null (and NaN / infinity, which JSON cannot write) as `null`."""
    kind = col.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        out = json_string(col)
    elif pa.types.is_timestamp(kind) or pa.types.is_date(kind):
        out = json_string(text(col))
    elif pa.types.is_floating(kind):
        out = pc.if_else(pc.is_finite(col), pc.cast(col, pa.string()), pa.nulls(len(col), pa.string()))
    else:  # integers, decimals (exact), booleans (true / false)
        out = pc.cast(col, pa.string())
    return pc.fill_null(out, "null")


def json_objects(columns: Sequence[pa.Array], keys: Sequence[str]) -> pa.Array:
    """One JSON object per row, keys in column order."""
    fragments = [concat(key, json_value(col)) for col, key in zip(columns, keys, strict=True)]
    if not fragments:
        return pa.array(["{}"] * 0, pa.string())
    body = pc.binary_join_element_wise(*fragments, _lit(","))
    return concat("{", body, "}")


def joined(values: pa.Array, separator: str) -> bytes:
    """All values of a string array (no nulls) joined by `separator`, taken from its data buffer."""
    if len(values) == 0:
        return b""
    if separator:
        values = concat(values, separator)
    values = pc.cast(values, pa.string())
    offsets = np.frombuffer(values.buffers()[1], dtype=np.int32, count=len(values) + 1 + values.offset)
    start, end = int(offsets[values.offset]), int(offsets[values.offset + len(values)])
    data = values.buffers()[2].slice(start, end - start).to_pybytes()
    return data[: len(data) - len(separator.encode("utf-8"))] if separator else data


def column_letters(index: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def xml_text(values: pa.Array) -> pa.Array:
    """Strings escaped for XML element text; CR as `&#13;`, characters XML 1.0 cannot hold as Excel's
    `_xHHHH_`."""
    out = pc.cast(values, pa.string())
    if not _any_match(out, "[&<>\\r\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f]"):
        return out
    out = pc.replace_substring(out, "&", "&amp;")
    out = pc.replace_substring(out, "<", "&lt;")
    out = pc.replace_substring(out, ">", "&gt;")
    # a raw CR would be read back as LF (XML's line-end normalisation); a character reference is not
    out = pc.replace_substring(out, "\r", "&#13;")
    if _any_match(out, _CONTROL_CLASS):
        for ch in _CONTROLS:
            out = pc.replace_substring(out, ch, f"_x{ord(ch):04X}_")
    return out


def _serial(col: pa.Array) -> pa.Array:
    """Dates and times as Excel serial days (as Excel and openpyxl store them), as text."""
    if pa.types.is_date(col.type):
        days = pc.add(pc.cast(pc.cast(col, pa.date32()), pa.int32()), EXCEL_EPOCH_SERIAL)
        return pc.cast(days, pa.string())
    micros = pc.cast(pc.cast(_seconds(col), pa.timestamp("us")), pa.int64())  # whole seconds, as in the CSV
    return pc.cast(pc.add(pc.divide(pc.cast(micros, pa.float64()), float(MICROS_PER_DAY)),
                          float(EXCEL_EPOCH_SERIAL)), pa.string())


#: cell styles of xl/styles.xml: 1 a date, 2 a date and time
DATE_STYLE, DATETIME_STYLE = 1, 2


def xlsx_cells(col: pa.Array, letter: str, rows: pa.Array) -> pa.Array:
    """The `<c>` element of each value of one column (empty for a null: the cell is left out)."""
    ref = concat(f'<c r="{letter}', rows)
    kind = col.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        cell = concat(ref, '" t="inlineStr"><is><t xml:space="preserve">', pc.fill_null(xml_text(col), ""),
                      "</t></is></c>")
    elif pa.types.is_boolean(kind):
        cell = concat(ref, '" t="b"><v>', pc.if_else(col, _lit("1"), _lit("0")), "</v></c>")
    elif pa.types.is_date(kind) or pa.types.is_timestamp(kind):
        style = DATE_STYLE if pa.types.is_date(kind) else DATETIME_STYLE
        cell = concat(ref, f'" s="{style}"><v>', pc.fill_null(_serial(col), ""), "</v></c>")
    else:
        value = pc.cast(col, pa.string())
        if pa.types.is_floating(kind):
            value = pc.if_else(pc.is_finite(col), value, pa.nulls(len(col), pa.string()))
        cell = concat(ref, '"><v>', pc.fill_null(value, ""), "</v></c>")
        return pc.if_else(pc.is_null(value), _lit(""), cell)
    return pc.if_else(pc.is_null(col), _lit(""), cell)


def xlsx_rows(columns: Sequence[pa.Array], letters: Sequence[str], first_row: int) -> pa.Array:
    """The `<row>` element of each row, numbered from `first_row`."""
    n = len(columns[0]) if columns else 0
    rows = pc.cast(pa.array(np.arange(first_row, first_row + n, dtype=np.int64)), pa.string())
    return concat('<row r="', rows, '">', *[xlsx_cells(c, letter, rows) for c, letter in zip(
        columns, letters, strict=True)], "</row>")


SHEET_HEAD = (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
              b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>')
SHEET_TAIL = b"</sheetData></worksheet>"


def header_row(titles: Sequence[str], letters: Sequence[str]) -> bytes:
    cells = "".join(f'<c r="{letter}1" t="inlineStr"><is><t xml:space="preserve">{escape(title)}</t></is></c>'
                    for title, letter in zip(titles, letters, strict=True))
    return f'<row r="1">{cells}</row>'.encode()


_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
_SHEET_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"


def workbook_parts(sheet_names: Sequence[str]) -> dict[str, bytes]:
    """Every part of the workbook but the sheets: content types, relationships, the workbook, the styles."""
    head = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    overrides = "".join(f'<Override PartName="/xl/worksheets/sheet{k}.xml" ContentType="{_SHEET_TYPE}"/>'
                        for k in range(1, len(sheet_names) + 1))
    content_types = (
        f'{head}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/styles.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
        f'{overrides}</Types>')
    root_rels = (f'{head}<Relationships xmlns="{_PKG_REL}"><Relationship Id="rId1" '
                 f'Type="{_REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>')
    sheets = "".join(f'<sheet name={quoteattr(name)} sheetId="{k}" r:id="rId{k}"/>'
                     for k, name in enumerate(sheet_names, 1))
    workbook = f'{head}<workbook xmlns="{_MAIN}" xmlns:r="{_REL}"><sheets>{sheets}</sheets></workbook>'
    sheet_rels = "".join(f'<Relationship Id="rId{k}" Type="{_REL}/worksheet" Target="worksheets/sheet{k}.xml"/>'
                         for k in range(1, len(sheet_names) + 1))
    styles_id = len(sheet_names) + 1
    workbook_rels = (f'{head}<Relationships xmlns="{_PKG_REL}">{sheet_rels}'
                     f'<Relationship Id="rId{styles_id}" Type="{_REL}/styles" Target="styles.xml"/></Relationships>')
    styles = (
        f'{head}<styleSheet xmlns="{_MAIN}">'
        '<numFmts count="2"><numFmt numFmtId="164" formatCode="yyyy-mm-dd"/>'
        '<numFmt numFmtId="165" formatCode="yyyy-mm-dd hh:mm:ss"/></numFmts>'
        '<fonts count="1"><font><sz val="11"/><name val="Calibri"/></font></fonts>'
        '<fills count="2"><fill><patternFill patternType="none"/></fill>'
        '<fill><patternFill patternType="gray125"/></fill></fills>'
        '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
        '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
        '<cellXfs count="3"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
        '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
        '<xf numFmtId="165" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/></cellXfs>'
        '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
        '</styleSheet>')
    return {"[Content_Types].xml": content_types.encode(), "_rels/.rels": root_rels.encode(),
            "xl/workbook.xml": workbook.encode(), "xl/_rels/workbook.xml.rels": workbook_rels.encode(),
            "xl/styles.xml": styles.encode()}
