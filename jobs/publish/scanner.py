"""The PII gate: look at published values, not at the catalog's promises.

Any value (strings, and numbers cast to strings) that contains a resident ID with a valid check
digit, a mainland mobile number, a bank card number passing Luhn, an e-mail address or a written
international phone number (E.164 with its `+`, or a North American number in its usual grouping),
outside the fields the catalog allows, is a finding; so is any raw value of a canary person the sample
generator planted. Tables are scanned by Spark in one aggregation (candidates by pattern; check digits then
verified on the distinct candidates); files are read back in their own format as Arrow string columns
(`jobs.publish.readback`) and screened by RE2 (`APPROXIMATIONS`, a superset of each pattern) in Arrow's
kernels, so only the few values that may hold an identifier meet the exact Python patterns.
"""

from __future__ import annotations

import csv
import io
import logging
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from jobs.io.frames import single_row
from jobs.publish.readback import NotStreamable, RowScreen, sheet_names, string_batches
from jobs.publish.readback import column_index as _column_index
from jobs.publish.readback import number_text as _number_text
from jobs.rules.identifiers import is_valid_resident_id_checksum
from jobs.sql_text import call, cast, lit, rlike, sql_column

log = logging.getLogger(__name__)

#: An E.164 number as written: `+`, a country code not starting with 0, 10 to 15 digits in all with at
#: most one space or hyphen between digits. The `+` is what tells it from an amount, a date or a code, so it
#: must not follow a letter or digit (UTC+8, 3+4); dots are no separator here (+4506.8717 is a change), and
#: the number must not run on into more digits or a decimal / time part (+123456.7890, +2026-11-26 13:00).
PHONE_E164 = r"(?<![0-9A-Za-z])\+[1-9](?:[- ]?[0-9]){9,14}(?![0-9]|[.:][0-9])"
#: A North American (NANP) number: area code and exchange start with 2-9, and the grouping is what tells it
#: from other numbers, so the separators are required: (718) 229-5905, 718-229-5905, 718.229.5905,
#: 718 229-5905, optionally after 1- / +1 (1-718-229-5905, +1 (718) 229-5905). A bare 7182295905 does not
#: count, nor 718 229 5905 without parentheses (three numbers in a row), nor a grouping inside a longer
#: code or dotted run (GD718-229-5905, 718.229.5905.1). Fixed-width lookbehind: Spark runs it as Java regex.
PHONE_NANP = (r"(?<![-0-9A-Za-z+.])(?:\+?1(?:[-. ]|(?=\()))?"
              r"(?:\([2-9][0-9]{2}\) ?[2-9][0-9]{2}[-. ]|[2-9][0-9]{2}[-. ][2-9][0-9]{2}[-.])[0-9]{4}"
              r"(?![0-9]|[-.][0-9])")

#: Candidate patterns, in syntax both Python's re and Java's regex (Spark's rlike) read the same way;
#: none needs word boundaries a masked value would still satisfy.
PATTERNS: Mapping[str, str] = {
    "resident_id": (r"(?<![0-9])[1-9][0-9]{5}(?:18|19|20)[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])"
                    r"[0-9]{3}[0-9Xx](?![0-9])"),
    "mobile": r"(?<![0-9])1[3-9][0-9]{9}(?![0-9])",
    "bank_card": r"(?<![0-9])(?:62|4[0-9]|5[1-5])[0-9]{14,17}(?![0-9])",
    "email": r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}",
    "phone": PHONE_E164 + "|" + PHONE_NANP,
}
COMPILED = {k: re.compile(p) for k, p in PATTERNS.items()}
#: a necessary condition of every pattern above: 11 digits in a row (resident ID, mobile, bank card), an @
#: (e-mail), a `+` before a digit (E.164) or three, three and four digits with a North American number's
#: separators (NANP); values with none of these (most of them, dates and amounts included) skip the scans
MAY_HOLD_IDENTIFIER = re.compile(r"[0-9]{11}|@|\+[1-9]|[0-9]{3}(?:[-. ]|\) ?)[0-9]{3}[-. ][0-9]{4}")
#: kinds whose candidates are checked by a check digit before they count
CHECKED = ("resident_id", "bank_card")
MAX_CANDIDATES = 200


def _group_end(pattern: str, start: int) -> int:
    """Index just past the `)` closing the group opened at `start`."""
    depth, i = 0, start
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "[":
            i = _class_end(pattern, i)
            continue
        depth += {"(": 1, ")": -1}.get(ch, 0)
        i += 1
        if depth == 0:
            return i
    raise ValueError(f"unbalanced group in {pattern!r}")


def _class_end(pattern: str, start: int) -> int:
    """Index just past the `]` closing the character class opened at `start`."""
    i = start + 1
    if pattern[i:i + 1] == "^":
        i += 1
    if pattern[i:i + 1] == "]":  # a leading ] is a literal
        i += 1
    while pattern[i] != "]":
        i += 2 if pattern[i] == "\\" else 1
    return i + 1


def re2_approximation(pattern: str, *, before: str = "") -> str:
    """`pattern` in RE2's syntax, which has no lookarounds, matching every text `pattern` matches (a superset).

    A negative lookbehind of one character class at the start of a top-level alternative becomes a consumed
    character outside that class (or the start of the text, or `before`, an RE2 pattern that may stand for
    the character in raw text), and a negative lookahead of one class at the end of one the same way after
    it: for the question "does the text hold a match" that is exact. Every other lookaround is dropped,
    which only widens the match.
    """
    out: list[str] = []
    depth, i = 0, 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            out.append(pattern[i:i + 2])
            i += 2
        elif ch == "[":
            end = _class_end(pattern, i)
            out.append(pattern[i:end])
            i = end
        elif pattern.startswith(("(?<!", "(?<=", "(?!", "(?="), i):
            end = _group_end(pattern, i)
            behind = pattern[i + 2] == "<"
            head = i + (4 if behind else 3)  # past "(?<!" / "(?!"
            inner, negative = pattern[head:end - 1], pattern[head - 1] == "!"
            one_class = inner.startswith("[") and not inner.startswith("[^") and _class_end(inner, 0) == len(inner)
            if negative and one_class and depth == 0:
                if behind and (not out or out[-1] == "|"):
                    out.append(f"(?:^|[^{inner[1:-1]}]{'|' + before if before else ''})")
                elif not behind and (end == len(pattern) or pattern[end] == "|"):
                    out.append(f"(?:[^{inner[1:-1]}]|$)")
            i = end
        else:
            depth += {"(": 1, ")": -1}.get(ch, 0)
            out.append(ch)
            i += 1
    return "".join(out)


#: RE2 forms of `PATTERNS` for Arrow's `match_substring_regex`: each matches every value its pattern finds
#: an identifier in (and some more), so a value they pass over holds none
APPROXIMATIONS: Mapping[str, str] = {k: re2_approximation(p) for k, p in PATTERNS.items()}
#: the same for raw JSON text, where the character before a value's first may be an escape (`\n`, `\u4e2d`)
#: whose letter or hex digit the raw text shows instead of the separator the value has
JSON_APPROXIMATIONS: Mapping[str, str] = {k: re2_approximation(p, before=r"\\[bfnrt]|\\u[0-9A-Fa-f]{4}")
                                          for k, p in PATTERNS.items()}


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = int(ch) * (2 if i % 2 else 1)
        total += n - 9 if n > 9 else n
    return total % 10 == 0


def is_identifier(kind: str, candidate: str) -> bool:
    """True when a pattern candidate really is one (check digit / Luhn verified)."""
    if kind == "resident_id":
        return is_valid_resident_id_checksum(candidate.upper())
    if kind == "bank_card":
        return luhn_ok(candidate)
    return True


@dataclass(frozen=True)
class Finding:
    """`count` values of `kind` in `column` of `where` (a table or a file), with an example, masked."""

    where: str
    column: str
    kind: str
    count: int
    example: str = ""

    def __str__(self) -> str:
        return f"{self.where}: {self.column} ({self.count} {self.kind}, e.g. {self.example})"


def _mask(value: str) -> str:
    return value[:3] + "*" * max(len(value) - 5, 1) + value[-2:] if len(value) > 5 else "***"


def find_identifiers(text: str) -> list[tuple[str, str]]:
    """(kind, value) of every verified identifier in `text`."""
    if not MAY_HOLD_IDENTIFIER.search(text):
        return []
    return [(kind, m.group(0)) for kind, rx in COMPILED.items() for m in rx.finditer(text)
            if is_identifier(kind, m.group(0))]


def scan_text(text: str) -> list[str]:
    """Kinds of identifiers found in one string."""
    return sorted({kind for kind, _ in find_identifiers(text)})


class _Tally:
    """Counts findings per (column, kind) while values stream past."""

    def __init__(self, where: str, allowed: Mapping[str, Sequence[str]], canaries: Sequence[str]):
        self.where, self.allowed, self.canaries = where, allowed, [c for c in canaries if c]
        self.counts: dict[tuple[str, str], list] = {}
        self._screens: dict[str, str | None] = {}

    def add(self, column: str, value: object) -> None:
        if value is None or value == "":
            return
        text = str(value)
        allowed = self.allowed.get(column, ())
        for kind, found in find_identifiers(text):
            if kind not in allowed:
                self._hit(column, kind, found)
        for canary in self.canaries:
            if canary in text:
                self._hit(column, "canary", canary)

    def _hit(self, column: str, kind: str, value: str) -> None:
        entry = self.counts.setdefault((column, kind), [0, _mask(value)])
        entry[0] += 1

    def screen(self) -> RowScreen:
        """What a value or a raw row must hold to be worth the exact check, column by column."""
        return RowScreen(APPROXIMATIONS, JSON_APPROXIMATIONS, tuple(self.canaries), self.allowed)

    def _column_screen(self, column: str) -> str | None:
        """RE2 pattern of the values of `column` that may be findings (None: none can be)."""
        if column not in self._screens:
            self._screens[column] = self.screen().column(column)
        return self._screens[column]

    def add_batch(self, batch: pa.RecordBatch) -> None:
        """Count the findings in a batch of string columns: Arrow screens each column, and only the values
        it passes go through `add`, in order, so counts and examples are those of a value-by-value scan."""
        for column, values in zip(batch.schema.names, batch.columns, strict=True):
            pattern = self._column_screen(column)
            if pattern is None:
                continue
            for value in pc.filter(values, pc.match_substring_regex(values, pattern)).to_pylist():
                self.add(column, value)

    def findings(self) -> list[Finding]:
        return [Finding(self.where, c, k, n, ex) for (c, k), (n, ex) in sorted(self.counts.items())]


def scan_rows(rows: Iterable[Sequence[object]], columns: Sequence[str], *, where: str,
              allowed: Mapping[str, Sequence[str]] | None = None, canaries: Sequence[str] = ()) -> list[Finding]:
    """Findings in rows of values (a file read back, a preview)."""
    tally = _Tally(where, allowed or {}, canaries)
    for row in rows:
        for column, value in zip(columns, row, strict=False):
            tally.add(column, value)
    return tally.findings()


def _file_rows(path: Path, fmt: str) -> tuple[list[str], Iterator[Sequence[object]]]:
    """The file's labels and rows of Python values, read row by row as the gate did before it read columns."""
    if fmt == "CSV":
        reader = csv.reader(io.TextIOWrapper(path.open("rb"), encoding="utf-8-sig", newline=""))
        return next(reader, []), reader
    if fmt == "JSON":
        import json

        records = json.loads(path.read_text(encoding="utf-8"))
        columns = sorted({k for r in records for k in r})
        return columns, iter([[r.get(c) for c in columns] for r in records])
    if fmt == "Parquet":
        import pyarrow.parquet as pq

        pf = pq.ParquetFile(path)
        names = pf.schema_arrow.names

        def batches() -> Iterator[Sequence[object]]:
            for batch in pf.iter_batches(batch_size=65536):
                yield from zip(*(col.to_pylist() for col in batch.columns), strict=True)
        return names, batches()
    if fmt == "XLSX":
        return _xlsx_rows(path)
    raise ValueError(f"no reader for {fmt}")


_SHEET_NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"


def _xlsx_rows(path: Path) -> tuple[list[str], Iterator[Sequence[object]]]:
    """The header of the first sheet and the data rows of every sheet, streamed from the sheet XML.

    A million-row workbook read through openpyxl's cell objects takes minutes; the scanner only needs
    each cell's text (shared strings resolved, numbers as written), so it parses the XML itself.
    """
    import zipfile
    from xml.etree.ElementTree import iterparse

    book = zipfile.ZipFile(path)
    shared: list[str] = []
    if "xl/sharedStrings.xml" in book.namelist():
        with book.open("xl/sharedStrings.xml") as f:
            for _, element in iterparse(f):
                if element.tag == f"{_SHEET_NS}si":
                    shared.append("".join(t.text or "" for t in element.iter(f"{_SHEET_NS}t")))
                    element.clear()
    sheets = sheet_names(book)

    def sheet_rows(name: str) -> Iterator[list[object]]:
        with book.open(name) as f:
            for _, element in iterparse(f):
                if element.tag != f"{_SHEET_NS}row":
                    continue
                cells: dict[int, object] = {}
                for position, c in enumerate(element.iter(f"{_SHEET_NS}c")):
                    kind, v = c.get("t"), c.find(f"{_SHEET_NS}v")
                    if kind == "s" and v is not None:
                        value: object = shared[int(v.text or 0)]
                    elif kind == "inlineStr":
                        value = "".join(t.text or "" for t in c.iter(f"{_SHEET_NS}t"))
                    elif kind in (None, "n") and v is not None and v.text:
                        value = _number_text(v.text)
                    else:
                        value = v.text if v is not None else None
                    ref = c.get("r")
                    cells[_column_index(ref) if ref else position] = value
                element.clear()
                yield [cells.get(k) for k in range(max(cells) + 1)] if cells else []

    first = next(sheet_rows(sheets[0]), []) if sheets else []
    header = [str(c) for c in first]

    def data() -> Iterator[Sequence[object]]:
        for name in sheets:
            rows = sheet_rows(name)
            next(rows, None)  # every sheet repeats the header
            yield from rows
        book.close()
    return header, data()


def _scan_file_rowwise(path: Path, fmt: str, *, allowed: Mapping[str, Sequence[str]] | None = None,
                       canaries: Sequence[str] = ()) -> list[Finding]:
    """`scan_file` as it was: every value through the Python patterns. The fallback for layouts the
    columnar readers do not take, and the reference the tests hold the columnar scan to."""
    columns, rows = _file_rows(path, fmt)
    return scan_rows(rows, columns, where=path.name, allowed=allowed, canaries=canaries)


def scan_file(path: Path, fmt: str, *, allowed: Mapping[str, Sequence[str]] | None = None,
              canaries: Sequence[str] = ()) -> list[Finding]:
    """Findings in one published file, read back in its own format (CSV, JSON, Parquet, XLSX).

    `allowed` is keyed by the file's column labels (Chinese titles in CSV/XLSX, names otherwise). The file
    is streamed as Arrow string columns, each screened in one RE2 pass; the findings (counts, examples)
    are those of the value-by-value scan `_scan_file_rowwise`, which also reads any file whose layout the
    streaming readers do not take (a JSON array not written one object per line, ragged CSV rows...).
    """
    tally = _Tally(path.name, allowed or {}, canaries)
    try:
        for batch in string_batches(path, fmt, screen=tally.screen()):
            tally.add_batch(batch)
    except NotStreamable as e:
        log.info("PII gate reads %s row by row: %s", path.name, e)
        return _scan_file_rowwise(path, fmt, allowed=allowed, canaries=canaries)
    return tally.findings()


def scan_frame(df: DataFrame, *, where: str = "table", allowed: Mapping[str, Sequence[str]] | None = None,
               canaries: Sequence[str] = ()) -> list[Finding]:
    """Findings in a table: one aggregation counts candidates per column and kind; the check digits of
    resident IDs and card numbers are then verified on up to 200 distinct candidates per column."""
    allowed = allowed or {}
    scanned = [f.name for f in df.schema.fields
               if isinstance(f.dataType, T.StringType | T.NumericType | T.DateType | T.TimestampType)]
    if not scanned:
        return []
    text = {c: F.col(f"`{c}`").cast("string") for c in scanned}
    # One aggregation, written as SQL text: a Column per pattern and column would cost five py4j round trips
    # each (a wide open table has a few hundred of them).
    measured: list[tuple[str, str, int | None]] = []  # (column, kind, canary index) per aggregate
    aggs = []
    for c in scanned:
        value = cast(sql_column(c), "STRING")
        for kind, pattern in PATTERNS.items():
            if kind not in allowed.get(c, ()):
                measured.append((c, kind, None))
                aggs.append(call("count_if", rlike(value, pattern)))
        for n, v in enumerate(canaries):
            if v:
                measured.append((c, "canary", n))
                aggs.append(call("count_if", call("contains", value, lit(v))))
    if not aggs:
        return []
    row = single_row(df.selectExpr(*[f"{a} AS a{k}" for k, a in enumerate(aggs)]))
    counts = {measured[k]: row[k] for k in range(len(measured))}
    findings = []
    for (column, kind, canary), count in counts.items():
        if not count:
            continue
        example = canaries[canary] if canary is not None else ""
        if kind in CHECKED:
            candidates = (df.select(F.explode(F.regexp_extract_all(text[column], F.lit(PATTERNS[kind]), 0)).alias("v"))
                          .distinct().limit(MAX_CANDIDATES).collect())
            verified = [r.v for r in candidates if is_identifier(kind, r.v)]
            if not verified:
                continue
            example = verified[0]
        elif not example:
            first = df.select(F.regexp_extract(text[column], PATTERNS[kind], 0).alias("v")) \
                .where(F.col("v") != "").first()
            example = first.v if first else ""
        findings.append(Finding(where, column, kind, int(count), _mask(example)))
    return sorted(findings, key=lambda f: (f.column, f.kind))
