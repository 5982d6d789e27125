"""Download files read back for the PII gate, as batches of text columns in bounded memory.

Every cell becomes the text the gate has always scanned: `str()` of the value Python's csv module, `json`
and pyarrow give, and for XLSX the cell as openpyxl shows it with numbers by their whole part. The
columnar scan in `jobs.publish.scanner` then finds exactly what the row-by-row scan found, in seconds.

CSV and Parquet are decoded whole by Arrow. For JSON and XLSX the parse in Python is the cost, so each raw
line (JSON) or row XML (XLSX) is first screened by one RE2 pass (`RowScreen`): a row whose raw text cannot
hold an identifier or a canary is never parsed. The raw text holds every value, but not always as the
value's text (escapes, entities, a float's shortest form, a number's whole part): the screens add a flag
for each of those cases, so they pass a superset of the rows that matter. XLSX rows that pass are split
into cells by Arrow and screened again cell by cell with their own column's kinds, so a column allowed to
hold identifiers (a hotline on every row) does not send every row to the parser.

A layout the streaming readers do not take raises `NotStreamable`; the scanner then reads the file row
by row (`scanner._file_rows`), as it did before.
"""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from jobs.publish.cells import column_letters

CSV_BLOCK = 16 << 20  # bytes of CSV Arrow parses at a time
JSON_CHUNK = 32 << 20  # bytes of JSON lines screened at a time
XLSX_CHUNK = 16 << 20  # bytes of sheet XML screened at a time
BATCH_ROWS = 65_536


class NotStreamable(Exception):
    """Raised when a file's layout is not the one the streaming readers take (a JSON array not written one
    object per line, a CSV row longer than its header, a namespaced or CDATA-bearing sheet...); the scanner
    then reads the file row by row, as it always did. A signal the scanner catches, never a user's error."""


@dataclass(frozen=True)
class RowScreen:
    """What a value, a raw JSON line or a raw XLSX row must contain to be worth the exact Python check.

    `approximations` are RE2 patterns per identifier kind, each matching a superset of its kind, with the
    exact patterns' one-character lookbehinds kept as a consumed character; `json_approximations` also take
    a JSON escape (`\\n`) for that character, as a raw line shows the escape's letter where the value has a
    line break. `literals` are the canary values, found as substrings; `allowed` names the kinds each column
    label may hold.
    """

    approximations: Mapping[str, str]
    json_approximations: Mapping[str, str]
    literals: tuple[str, ...] = ()
    allowed: Mapping[str, Sequence[str]] = field(default_factory=dict)

    @property
    def tight(self) -> str:
        """Any identifier of any kind, allowed or not."""
        return any_of(list(self.approximations.values()))

    def column(self, label: str) -> str | None:
        """The values of column `label` that may be findings (None: no value can be one)."""
        allowed = self.allowed.get(label, ())
        parts = [p for kind, p in self.approximations.items() if kind not in allowed]
        parts += [re2_literal(c) for c in self.literals]
        return any_of(parts) if parts else None


def re2_literal(text: str) -> str:
    """`text` as an RE2 pattern matching itself: ASCII punctuation as `\\x{..}`, everything else as is."""
    return "".join(ch if ch.isalnum() or not ch.isascii() else f"\\x{{{ord(ch):x}}}" for ch in text)


def any_of(patterns: Sequence[str]) -> str:
    return "|".join(f"(?:{p})" for p in patterns)


def string_batches(path: Path, fmt: str, *, screen: RowScreen | None = None) -> Iterator[pa.RecordBatch]:
    """Record batches of string columns named by the file's column labels, in file order.

    CSV and Parquet batches hold every row. JSON and XLSX batches hold only the rows that pass `screen`
    (every row without one), so a batch's rows need not be consecutive. JSON batches are named by the
    keys their objects have. Raises NotStreamable (while iterating) for a layout it does not take.
    """
    if fmt == "CSV":
        return _csv_batches(path)
    if fmt == "JSON":
        return _json_batches(path, screen)
    if fmt == "Parquet":
        return _parquet_batches(path)
    if fmt == "XLSX":
        return _xlsx_batches(path, screen)
    raise ValueError(f"no reader for {fmt}")


# --- CSV ------------------------------------------------------------------------------------------------

def _csv_batches(path: Path) -> Iterator[pa.RecordBatch]:
    # the labels come from the csv module, as they always did; Arrow must read the same header
    with path.open("rb") as fh:
        labels = next(csv.reader(io.TextIOWrapper(fh, encoding="utf-8-sig", newline="")), [])
    if not labels:
        return
    try:
        reader = pacsv.open_csv(path, read_options=pacsv.ReadOptions(block_size=CSV_BLOCK),
                                parse_options=pacsv.ParseOptions(newlines_in_values=True),
                                convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(labels, pa.string())))
        if reader.schema.names != labels:
            raise NotStreamable(f"{path.name}: Arrow reads another header")
        with reader:
            yield from reader  # empty cells stay "", which the scan skips as it always did
    except pa.ArrowInvalid as e:  # a row with more or fewer fields than the header, invalid UTF-8...
        raise NotStreamable(f"{path.name}: {e}") from e


# --- Parquet --------------------------------------------------------------------------------------------

def _parquet_batches(path: Path) -> Iterator[pa.RecordBatch]:
    with pq.ParquetFile(path) as pf:
        names = pf.schema_arrow.names
        for batch in pf.iter_batches(batch_size=BATCH_ROWS):
            yield pa.RecordBatch.from_arrays([value_text(column) for column in batch.columns], names=names)


def value_text(values: pa.Array) -> pa.Array:
    """`str()` of every value of `values` as pyarrow's `to_pylist` gives it (nulls stay null).

    Arrow's own casts are used where they write exactly what Python writes (strings, integers, dates,
    decimals of scale 0-6, naive timestamps in seconds or microseconds); floats, other decimals and times
    go through Python, whose text differs (`13800000000.0` against Arrow's `1.38e+10`).
    """
    kind = values.type
    if pa.types.is_dictionary(kind):
        return value_text(values.dictionary_decode())
    if pa.types.is_string(kind):
        return values
    if pa.types.is_large_string(kind) or pa.types.is_string_view(kind) or pa.types.is_integer(kind) \
            or pa.types.is_date32(kind):
        return pc.cast(values, pa.string())
    if pa.types.is_boolean(kind):
        return pc.if_else(values, "True", "False")
    if pa.types.is_decimal(kind) and 0 <= kind.scale <= 6:  # Python writes 1E-7 / 0E-9 below 10**-6
        return pc.cast(values, pa.string())
    if pa.types.is_timestamp(kind) and kind.tz is None and kind.unit in ("s", "us"):
        text = pc.cast(values, pa.string())  # '2026-11-26 13:00:00.000000': Python omits zero microseconds
        return pc.replace_substring_regex(text, r"\.000000$", "") if kind.unit == "us" else text
    return pa.array([None if v is None else str(v) for v in values.to_pylist()], pa.string())


# --- JSON -----------------------------------------------------------------------------------------------

#: raw number tokens whose Python text (`str(float)`) may hold digits the token does not show as they are:
#: an exponent, 11 digits before or after the point, or 16 significant digits (where rounding starts)
_FLOAT_RISK = any_of([r"[0-9.][eE][-+]?[0-9]", r"[0-9]{11}\.", r"\.[0-9]{11}"]
                     + [f"[0-9]{{{a}}}\\.[0-9]{{{16 - a}}}" for a in range(1, 16)])
#: characters of every text `str()` gives a JSON number, boolean or special float
_NUMBER_TEXT = set("0123456789.+-einfaINFTrulsy")


def _json_screen(screen: RowScreen | None) -> str | None:
    """The RE2 pattern a raw line must match to be parsed, or None when every line must be."""
    if screen is None or any(_unsafe_in_json(c) for c in screen.literals):
        return None
    # `\u0031` hides a character of an identifier, `\u4e2d` one of a canary
    escapes = r"\\u" if any(not ch.isascii() for c in screen.literals for ch in c) else r"\\u00[0-7]"
    identifiers = any_of(list(screen.json_approximations.values()))
    return any_of([identifiers, _FLOAT_RISK, escapes, *(re2_literal(c) for c in screen.literals)])


def _unsafe_in_json(canary: str) -> bool:
    """True when a value's text may hold `canary` while its raw line does not: a canary a number's or a
    boolean's text could hold (`True`, `1.5`; only 11 digits or more are safe, see `_FLOAT_RISK`), or one
    with a character JSON escapes or Python's repr of a nested value adds (`'`, `[`, `, `...)."""
    return (set(canary) <= _NUMBER_TEXT and not (canary.isdigit() and len(canary) >= 11)) \
        or any(ch in "\"\\/'[]{}:," or ch < " " for ch in canary)


def _json_batches(path: Path, screen: RowScreen | None) -> Iterator[pa.RecordBatch]:
    """A JSON array written as `[`, one object per line (each but the last followed by a comma), `]`."""
    pattern = _json_screen(screen)
    with path.open("rb") as fh:
        if fh.readline().strip() != b"[":
            raise NotStreamable(f"{path.name}: not one object per line")
        closed, tail = False, b""
        while True:
            data = fh.read(JSON_CHUNK)
            data, last = tail + data, not data
            cut = len(data) if last else data.rfind(b"\n") + 1
            lines, tail = data[:cut].split(b"\n"), data[cut:]
            if lines:
                batch, closed = _json_chunk(lines, pattern, closed, path.name)
                if batch is not None:
                    yield batch
            if last:
                break
        if not closed:
            raise NotStreamable(f"{path.name}: the array is not closed")


def _json_chunk(lines: list[bytes], pattern: str | None, closed: bool, name: str) -> tuple[pa.RecordBatch | None, bool]:
    try:
        text = pa.array(lines, pa.binary()).cast(pa.string())
    except pa.ArrowInvalid as e:  # invalid UTF-8: the row-by-row reader raises it as it always did
        raise NotStreamable(f"{name}: {e}") from e
    objects = pc.and_(pc.starts_with(text, "{"), pc.or_(pc.ends_with(text, "}"), pc.ends_with(text, "},")))
    if closed and pc.any(objects).as_py():
        raise NotStreamable(f"{name}: objects after the closing bracket")
    for i in pc.indices_nonzero(pc.invert(objects)).to_pylist():
        stripped = lines[i].strip()
        if not stripped:
            continue
        if stripped != b"]" or closed:
            raise NotStreamable(f"{name}: not one object per line")
        closed = True
        if pc.any(objects.slice(i + 1)).as_py():
            raise NotStreamable(f"{name}: objects after the closing bracket")
    if pattern is not None:
        objects = pc.and_(objects, pc.match_substring_regex(text, pattern))
    records = []
    for i in pc.indices_nonzero(objects).to_pylist():
        line = lines[i].rstrip()
        try:
            record = json.loads(line[:-1] if line.endswith(b",") else line)
        except ValueError as e:
            raise NotStreamable(f"{name}: {e}") from e
        if not isinstance(record, dict):
            raise NotStreamable(f"{name}: an array item is not an object")
        records.append(record)
    if not records:
        return None, closed
    keys = list(dict.fromkeys(k for r in records for k in r))
    columns = [pa.array([None if (v := r.get(k)) is None else str(v) for r in records], pa.string()) for k in keys]
    return pa.RecordBatch.from_arrays(columns, names=keys), closed


# --- XLSX -----------------------------------------------------------------------------------------------

_ATTRS = r"""((?:[^>"'/]|"[^"]*"|'[^']*')*)"""
_CELL = re.compile(r"<c(?=[\s/>])" + _ATTRS + r"(?:/>|>(.*?)</c>)", re.S)
_ATTR = re.compile(r"""([^\s=]+)\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_V = re.compile(r"<v(?:\s[^>]*)?(?:/>|>([^<]*)</v>)")
_T = re.compile(r"<t(?:\s[^>]*)?(?:/>|>([^<]*)</t>)")
_ENTITY = re.compile(r"&(#[0-9]+|#x[0-9A-Fa-f]+|lt|gt|amp|quot|apos);")
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"', "apos": "'"}
_ROOT = re.compile(rb"<([A-Za-z_][-.\w]*:)?(?:worksheet|sst)[\s>]")
_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*encoding\s*=\s*["']([^"']+)""")
#: raw row XML that may hold a value in another form than its text: a character reference, rich text runs
#: or several texts in a cell (joined), a number whose whole part is not written as such (1.38E10, 0012.5,
#: digits Python's Decimal reads but RE2 does not)
_XLSX_RISK = any_of([r"&#", r"<r[\s>]", r"<rPh[\s>]", r"</t>\s*<t[\s>/]", r"<v[^>]*>[^<]*[eE]",
                     r"<v[^>]*>[^<]*\.[^<]*[^-+0-9.<\s]", r"<v[^>]*>[^<]*[^-+0-9.<\s][^<]*\.",
                     r"<v[^>]*>\s*[-+]?0[0-9]"])
#: above this many shared strings that pass the screen, every row with a shared-string cell is parsed
MAX_SHARED_CANDIDATES = 5_000


def xml_text(raw: str) -> str:
    """Character data as an XML parser gives it: line ends normalised, then entities resolved."""
    if "\r" in raw:
        raw = raw.replace("\r\n", "\n").replace("\r", "\n")
    if "&" in raw:
        raw = _ENTITY.sub(lambda m: _NAMED.get(m.group(1)) or chr(
            int(m.group(1)[2:], 16) if m.group(1)[1] == "x" else int(m.group(1)[1:])), raw)
    return raw


def column_index(ref: str) -> int:
    """0-based column of a cell reference such as 'AB12'."""
    index = 0
    for ch in ref:
        if not ch.isalpha():
            break
        index = index * 26 + ord(ch.upper()) - 64
    return index - 1


def number_text(text: str) -> str:
    """A numeric cell as the scanner should see it: its whole part. Dates and times are day serials
    (46353.416666666664) whose fraction digits would look like a phone number; an identifier stored as a
    number is whole (13800000000, or 1.38E10 as Excel may write it)."""
    from decimal import Decimal, InvalidOperation

    if "." not in text and "e" not in text.lower():
        return text
    try:
        return str(int(Decimal(text)))
    except (InvalidOperation, ValueError, OverflowError):
        return text


def sheet_names(book: zipfile.ZipFile) -> list[str]:
    """The workbook's sheet parts in the order of their numbers (sheet2 before sheet10)."""
    return sorted((n for n in book.namelist() if n.startswith("xl/worksheets/sheet") and n.endswith(".xml")),
                  key=lambda n: int("".join(ch for ch in n.rsplit("/", 1)[1] if ch.isdigit()) or 0))


def _check_head(head: bytes, name: str) -> None:
    encoding = _ENCODING.match(head)
    if encoding and encoding.group(1).lower().replace(b"-", b"") != b"utf8":
        raise NotStreamable(f"{name}: encoded as {encoding.group(1).decode()}")
    root = _ROOT.search(head)
    if root and root.group(1):
        raise NotStreamable(f"{name}: namespace prefix {root.group(1).decode()}")


def _shared_strings(book: zipfile.ZipFile) -> list[str]:
    """Every shared string, its runs joined (phonetic runs included, as the row-by-row reader did)."""
    if "xl/sharedStrings.xml" not in book.namelist():
        return []
    shared: list[str] = []
    item = re.compile(r"<si(?:\s[^>]*)?(?:/>|>(.*?)</si>)", re.S)
    with book.open("xl/sharedStrings.xml") as f:
        buf = f.read(XLSX_CHUNK)
        _check_head(buf[:4096], "xl/sharedStrings.xml")
        while True:
            data = f.read(XLSX_CHUNK)
            buf, last = buf + data, not data
            cut = len(buf) if last else buf.rfind(b"<si")  # the last item may be incomplete
            if cut > 0:
                part, buf = buf[:cut], buf[cut:]
                if b"<!" in part:
                    raise NotStreamable("xl/sharedStrings.xml: CDATA or a comment")
                for m in item.finditer(part.decode("utf-8")):
                    shared.append("".join(xml_text(t or "") for t in _T.findall(m.group(1) or "")))
            if last:
                return shared


def _row_values(piece: str, shared: Sequence[str]) -> dict[int, str | None]:
    """The cells of one `<row>` (its XML after `<row`), as the row-by-row reader read them."""
    cells: dict[int, str | None] = {}
    for position, m in enumerate(_CELL.finditer(piece)):
        attrs = {a: x if x or not y else y for a, x, y in _ATTR.findall(m.group(1))}
        kind, ref, body = attrs.get("t"), attrs.get("r"), m.group(2) or ""
        v = _V.search(body)
        v_text = xml_text(v.group(1)) if v is not None and v.group(1) else None  # <v></v> has no text
        value: str | None
        if kind == "s" and v is not None:
            value = shared[int(v_text or 0)]
        elif kind == "inlineStr":
            value = "".join(xml_text(t or "") for t in _T.findall(body))
        elif kind in (None, "n") and v_text:
            value = number_text(v_text)
        else:
            value = v_text
        cells[column_index(ref) if ref else position] = value
    return cells


def _row_text(piece: bytes, name: str) -> str:
    """A row to parse. CDATA, comments and instructions are not parsed here; elsewhere they do not matter
    (CDATA shows its text as is, which the screen sees)."""
    if b"<!" in piece or b"<?" in piece:
        raise NotStreamable(f"{name}: CDATA, a comment or an instruction in a row")
    return piece.decode("utf-8")


def _xlsx_screen(screen: RowScreen | None, shared: Sequence[str]) -> str | None:
    """The RE2 pattern a raw row must match to be parsed, or None when every row must be."""
    if screen is None or any(ch in "&<>\"'\r\n" for c in screen.literals for ch in c):
        return None  # a canary whose raw form may be an entity or a normalised line end
    literals = [re2_literal(c) for c in screen.literals]
    parts = [screen.tight, _XLSX_RISK, *literals]
    if shared:
        hit = pc.match_substring_regex(pa.array(shared, pa.string()), any_of([screen.tight, *literals]))
        candidates = pc.indices_nonzero(hit).to_pylist()
        if len(candidates) > MAX_SHARED_CANDIDATES:
            parts.append(r"""\st\s*=\s*["']s["']""")
        elif candidates:  # a shared-string cell whose index (as int() reads it) is one of them
            parts.append(r"<v[^>]*>\s*\+?0*(?:" + "|".join(map(str, candidates)) + r")\s*</v>")
            parts.append(r"""\st\s*=\s*["']s["'][^>]*>\s*<v[^>]*>[^<]*[^0-9<][^<]*</v>""")
            if candidates[0] == 0:  # an empty <v> reads as index 0
                parts.append(r"<v[^>]*>\s*</v>|<v[^>]*/>")
    return any_of(parts)


#: RE2 over the cells of a row, split at each `<c`: the text after it starts with the cell's attributes
_CELL_START = r"<c[\s/>]"
_REF = r"""^(?:[^>]*\s)?r\s*=\s*["'](?P<letters>[A-Za-z]*)(?P<next>[^"']?)"""
_SHARED = r"""^(?:[^>]*\s)?t\s*=\s*["']s["']"""
_SHARED_INDEX = r"<v(?:\s[^>]*)?>\s*\+?(?P<index>[0-9]{1,9})\s*</v>"


def _cell_columns(cells: pa.StringArray, position: np.ndarray) -> np.ndarray:
    """The column each cell is read into: its `r` reference's letters, or its position in the row when it
    has none (`r=""` included), or -1 (never read) for a reference without letters, as `column_index`.

    A cell written `<c r="B12"` in its own position is placed by comparing slices (cheap); only the others
    go through RE2's capture, which costs several times more.
    """
    column = position.copy()
    cell = np.flatnonzero(position >= 0)
    placed = np.zeros(len(cells), dtype=bool)
    if cell.size:
        names = [column_letters(k) for k in range(int(position.max()) + 1)]
        width = np.array([len(n) for n in names])[position[cell]]
        expected = pa.array([f'r="{n}' for n in names])
        for w in np.unique(width).tolist():
            these = cell[width == w]
            head = cells.take(these)
            same = pc.and_(pc.equal(pc.utf8_slice_codeunits(head, 0, 3 + w), expected.take(position[these])),
                           pc.utf8_is_digit(pc.utf8_slice_codeunits(head, 3 + w, 4 + w)))
            placed[these[same.to_numpy(zero_copy_only=False)]] = True
    rest = np.flatnonzero((position >= 0) & ~placed)
    if rest.size:
        ref = pc.extract_regex(cells.take(rest), _REF)
        letters = ref.field("letters").to_pylist()
        following = ref.field("next").to_pylist()
        column[rest] = [column[i] if x is None or (not x and not n) else column_index(x) if x else -1
                        for i, x, n in zip(rest.tolist(), letters, following, strict=True)]
    return column


def _cells_worth_parsing(rows: pa.StringArray, labels: Sequence[str], screen: RowScreen,
                         shared: pa.StringArray) -> list[int]:
    """Indices of the `rows` (row XML after `<row`) with a cell that may hold a finding in its own column.

    The row screen looks for any identifier anywhere, so a column that is allowed to hold one (a hotline)
    would send every row to the Python parser. Here each cell is screened with its column's pattern: its
    column comes from its `r` reference (or its position, as the row-by-row reader does), a shared-string
    cell is screened on its shared string, any other on its raw XML. Whatever cannot be placed that
    cheaply (an odd shared index, a comment) is parsed.
    """
    split = pc.split_pattern_regex(rows, _CELL_START)
    cells = split.flatten()
    parents = pc.list_parent_indices(split).to_numpy()
    position = np.arange(len(cells)) - split.offsets.to_numpy()[parents] - 1  # the row's own tag is -1
    column = _cell_columns(cells, position)
    is_shared = pc.match_substring_regex(cells, _SHARED).to_numpy(zero_copy_only=False)
    worth = np.zeros(len(cells), dtype=bool)
    by_pattern: dict[str, list[int]] = {}
    for k, label in enumerate(labels):
        if (pattern := screen.column(label)) is not None:
            by_pattern.setdefault(pattern, []).append(k)
    for pattern, columns in by_pattern.items():
        here = (position >= 0) & np.isin(column, columns)
        plain = np.flatnonzero(here & ~is_shared)
        if plain.size:
            hit = pc.match_substring_regex(cells.take(plain), any_of([pattern, _XLSX_RISK]))
            worth[plain[hit.to_numpy(zero_copy_only=False)]] = True
        in_shared = np.flatnonzero(here & is_shared)
        if in_shared.size:
            cell = cells.take(in_shared)
            index = pc.cast(pc.extract_regex(cell, _SHARED_INDEX).field("index"), pa.int64())
            odd = pc.or_(pc.greater(pc.count_substring(cell, "<v"), 1),
                         pc.greater_equal(index, len(shared))).fill_null(True).to_numpy(zero_copy_only=False)
            worth[in_shared[odd]] = True
            if (~odd).any():
                texts = shared.take(index.filter(pa.array(~odd)))
                worth[in_shared[~odd][pc.match_substring_regex(texts, pattern).to_numpy(zero_copy_only=False)]] = True
    rows_worth = set(parents[worth].tolist())
    rows_worth.update(pc.indices_nonzero(pc.match_substring_regex(rows, "<[!?]")).to_pylist())
    return sorted(rows_worth)


def _sheet_pieces(book: zipfile.ZipFile, name: str) -> Iterator[list[bytes]]:
    """The sheet's rows in chunks, each row as the bytes after its `<row` (split without copying a chunk:
    only the row cut by a chunk's end is carried over and joined)."""
    with book.open(name) as f:
        data = f.read(XLSX_CHUNK)
        _check_head(data[:4096], name)
        while (start := data.find(b"<sheetData")) < 0 or (close := data.find(b">", start)) < 0:
            more = f.read(XLSX_CHUNK)
            if not more:
                return
            data = (data[start:] if start >= 0 else data[-64:]) + more  # keep a tag cut by the chunk's end
        if data[close - 1:close] == b"/":
            return  # <sheetData/>
        data, carry, before_rows = data[close + 1:], b"", True
        while True:
            joined = carry + data[:16]  # </sheetData> may straddle two chunks
            if (end := joined.find(b"</sheetData>", max(len(carry) - 16, 0))) >= 0 and end < len(carry):
                carry, data, last = joined[:end], b"", True
            elif (end := data.find(b"</sheetData>")) >= 0:
                data, last = data[:end], True
            else:
                more = f.read(XLSX_CHUNK)
                last = not more
            pieces = data.split(b"<row")
            pieces[0:1] = (carry + pieces[0]).split(b"<row")  # a `<row` the chunk's end cut in two
            carry = b"" if last else pieces.pop()
            if before_rows and (pieces or last):
                if pieces and pieces[0].strip():
                    raise NotStreamable(f"{name}: something else than rows in sheetData")
                pieces, before_rows = pieces[1:], False
            if pieces:
                yield pieces
            if last:
                return
            data = more


def _xlsx_batches(path: Path, screen: RowScreen | None) -> Iterator[pa.RecordBatch]:
    """The rows of every sheet below its header, labelled by the first sheet's header."""
    with zipfile.ZipFile(path) as book:
        sheets = sheet_names(book)
        shared = _shared_strings(book)
        labels: list[str] | None = None
        pattern = _xlsx_screen(screen, shared)
        shared_text = pa.array(shared, pa.string())
        for name in sheets:
            header = True
            for pieces in _sheet_pieces(book, name):
                if header and pieces:
                    if labels is None:
                        first = _row_values(_row_text(pieces[0], name), shared)
                        labels = [str(first.get(k)) for k in range(max(first) + 1)] if first else []
                    pieces, header = pieces[1:], False  # every sheet repeats the header
                if not pieces or not labels:
                    continue
                try:
                    text = pa.array(pieces, pa.binary()).cast(pa.string())
                except pa.ArrowInvalid as e:
                    raise NotStreamable(f"{name}: {e}") from e
                if pattern is not None and screen is not None:
                    passed = pc.indices_nonzero(pc.match_substring_regex(text, pattern))
                    if len(passed):
                        cells_ok = _cells_worth_parsing(text.take(passed), labels, screen, shared_text)
                        passed = passed.take(pa.array(cells_ok, pa.int64()))
                    pieces = [pieces[i] for i in passed.to_pylist()]
                rows = [_row_values(_row_text(p, name), shared) for p in pieces]
                if rows:
                    yield pa.RecordBatch.from_arrays(
                        [pa.array([r.get(k) for r in rows], pa.string()) for k in range(len(labels))], names=labels)
            if labels is None:
                labels = []  # the first sheet has no rows: no header, nothing is read (as before)
