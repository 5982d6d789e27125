"""Sample rows -> an export file in the resource's declared format, the way its department writes it.

One writer per `source.format`, each producing exactly what the matching reader in `jobs.io` expects:

- csv: header then records, CRLF, `source.delimiter`, in the declared encoding (`utf-8-sig` writes
  UTF-8 with a BOM; GBK/GB2312 are written as GB18030, as departments really deliver them).
- jsonl: one object per line, keys by title or name as `source.header` says, integer and decimal items
  as JSON numbers, missing values left out.
- xlsx: streamed with openpyxl's write-only mode (bounded memory). Title rows above the header so that
  it starts on `source.header_row` (the resource title, then an export-time row), a header of
  `source.header_rows` rows (a group title above the column labels), the records, a blank row and a
  note row ("注：……") that the reader must not take for data. Dates and times are real datetime cells
  in a share of the rows and text in the item's pattern in the others, because departments mix both.
  The workbook's creation/modification times and the zip entries' times are the export time derived
  from the day, so the same seed gives a byte-identical file.

Line numbers (`first_data_line`) are those the readers record in `_row_number`: the CSV physical line
(header on line 1; generated values hold no line breaks), the JSON line, the Excel row.
"""

from __future__ import annotations

import csv
import json
import random
import shutil
import zipfile
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.writer.excel import ExcelWriter

from jobs.catalog.drift import label_of
from jobs.catalog.model import DataItem, Resource
from jobs.io.decoding import codec_for
from jobs.sample.kinds import epoch_number, moment_text, render

Row = Mapping[str, Any]
#: Share of Excel rows whose dates and times are datetime cells (the rest are text in the item's pattern).
DATETIME_CELL_SHARE = 0.4
#: Group title above the column labels when the header spans several rows.
HEADER_GROUP = "基本信息"
_COPY_CHUNK = 1 << 20


def export_time(day: date) -> datetime:
    """When the department's nightly job exported `day`: 01:30 the next morning."""
    return datetime.combine(day + timedelta(days=1), time(1, 30))


def text_codec(label: str) -> str:
    """The codec to write an encoding label with: `utf-8-sig` keeps its BOM (the readers' `codec_for`
    maps it to plain UTF-8 because they strip the BOM themselves)."""
    return "utf-8-sig" if label.strip().lower() in ("utf-8-sig", "utf8-sig") else codec_for(label)


def first_data_line(resource: Resource) -> int:
    """The line (CSV, JSON lines) or Excel row number the reader gives the first record."""
    source = resource.source
    if source.format == "xlsx":
        return source.header_row + source.header_rows
    return 1 if source.format == "jsonl" else 2


def write_csv(resource: Resource, rows: Sequence[Row], path: Path, *, day: date, seed: int) -> None:
    with path.open("w", encoding=text_codec(resource.source.encoding), newline="") as fh:
        writer = csv.writer(fh, delimiter=resource.source.delimiter)
        writer.writerow([label_of(i, resource) for i in resource.items])
        for row in rows:
            writer.writerow([render(i, row[i.name]) for i in resource.items])


def _json_value(item: DataItem, value: Any) -> str:
    if item.type in ("integer", "decimal") and isinstance(value, int | Decimal) and not isinstance(value, bool):
        return format(value, "f") if isinstance(value, Decimal) else str(value)
    return json.dumps(render(item, value), ensure_ascii=False)


def write_jsonl(resource: Resource, rows: Sequence[Row], path: Path, *, day: date, seed: int) -> None:
    keys = [(i, json.dumps(label_of(i, resource), ensure_ascii=False)) for i in resource.items]
    with path.open("w", encoding=text_codec(resource.source.encoding), newline="\n") as fh:
        for row in rows:
            fields = [f"{key}: {_json_value(item, row[item.name])}" for item, key in keys
                      if row[item.name] is not None and row[item.name] != ""]
            fh.write("{" + ", ".join(fields) + "}\n")


def _cell(sheet: Any, item: DataItem, value: Any, *, datetime_cell: bool) -> Any:
    if value is None:
        return None
    if isinstance(value, date):
        number = epoch_number(item, value)
        if number is not None:  # a system that exports epoch numbers writes number cells, never dates
            return number
        return value if datetime_cell else moment_text(item, value)
    if item.type in ("integer", "decimal") and isinstance(value, int | Decimal) and not isinstance(value, bool):
        return value
    text = render(item, value)
    if text.startswith("="):  # openpyxl would store it as a formula
        cell = WriteOnlyCell(sheet, value=text)
        cell.data_type = "s"
        return cell
    return text


def _note_prefix(resource: Resource) -> str | None:
    prefixes = resource.source.footer_prefixes
    return "注" if "注" in prefixes else (prefixes[0] if prefixes else None)


def write_xlsx(resource: Resource, rows: Sequence[Row], path: Path, *, day: date, seed: int) -> None:
    source = resource.source
    exported = export_time(day)
    book = Workbook(write_only=True)
    book.properties.created = book.properties.modified = exported
    book.properties.creator = resource.provider
    sheet = book.create_sheet(source.sheet or "Sheet1")
    titles: list[list[Any]] = [[resource.title], [f"导出时间：{exported:%Y-%m-%d %H:%M:%S}"]]
    for k in range(source.header_row - 1):
        sheet.append(titles[k] if k < len(titles) else [])
    for k in range(source.header_rows - 1):
        sheet.append([HEADER_GROUP] if k == 0 else [])
    sheet.append([label_of(i, resource) for i in resource.items])
    cells = random.Random(f"{seed}:{resource.name}:{day.isoformat()}:cells")
    for row in rows:
        as_datetime = cells.random() < DATETIME_CELL_SHARE
        sheet.append([_cell(sheet, i, row[i.name], datetime_cell=as_datetime) for i in resource.items])
    prefix = _note_prefix(resource)
    if prefix is not None:
        sheet.append([])
        sheet.append([f"{prefix}：本表数据截至{day:%Y年%m月%d日}，共{len(rows)}条，仅供共享交换使用。"])
    with _FixedTimeZip(path, moment=exported) as archive:
        ExcelWriter(book, archive).save()


class _FixedTimeZip(zipfile.ZipFile):
    """A zip whose entries all carry one given time, instead of the clock's (openpyxl adds entries by
    name, which stamps them with the current time and makes every save differ)."""

    def __init__(self, file: Path, *, moment: datetime):
        super().__init__(file, "w", zipfile.ZIP_DEFLATED, allowZip64=True)
        self._moment = moment.timetuple()[:6]

    def _info(self, name: str) -> zipfile.ZipInfo:
        info = zipfile.ZipInfo(name, date_time=self._moment)  # type: ignore[arg-type]
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = 0o600 << 16
        return info

    def writestr(self, zinfo_or_arcname: Any, data: Any, compress_type: int | None = None,
                 compresslevel: int | None = None) -> None:
        if isinstance(zinfo_or_arcname, str):
            zinfo_or_arcname = self._info(zinfo_or_arcname)
        super().writestr(zinfo_or_arcname, data, compress_type, compresslevel)

    def write(self, filename: Any, arcname: Any = None, compress_type: int | None = None,
              compresslevel: int | None = None) -> None:
        info = self._info(str(arcname if arcname is not None else Path(filename).name))
        info.file_size = Path(filename).stat().st_size  # lets zipfile decide whether it needs Zip64
        with open(filename, "rb") as src, self.open(info, "w") as dst:
            shutil.copyfileobj(src, dst, _COPY_CHUNK)


Writer = Callable[..., None]
#: Writer and file extension per `source.format`.
WRITERS: dict[str, tuple[Writer, str]] = {
    "csv": (write_csv, "csv"),
    "jsonl": (write_jsonl, "jsonl"),
    "xlsx": (write_xlsx, "xlsx"),
}
