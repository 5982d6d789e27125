"""Who an erasure request names, and how their rows are found: pure logic, no Spark session or storage.

A request names one person by a resource's primary key (`--resource R --key K`) or by a resident ID
(`--resident-id`, across every resource whose items carry the `resident_id` PII class). The same request
must find the person in typed tables (audit, silver, open) and in raw ones (bronze and quarantine hold
the text as delivered, with stray spaces and lower-case check letters), so values are compared trimmed,
and resident IDs upper-cased. What is recorded of the request is a keyed hash (`subject_hash`), never the
value: the erasure log must not be the place the person can still be found.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from pyspark.sql import Column
from pyspark.sql import functions as F

from jobs.catalog.model import Resource
from jobs.errors import ErasureRefused
from jobs.sql_text import sql_literal

SubjectKind = Literal["key", "resident_id"]
#: 18 characters (17 digits and a check digit or X) or the old 15-digit form; the check digit is not
#: verified here: a mistyped ID delivered by a department is still the person's and must be erasable
RESIDENT_ID = re.compile(r"^(\d{17}[\dX]|\d{15})$")
#: values shorter than this are not scrubbed from text files (they would match unrelated text)
MIN_SCRUB_LENGTH = 6


@dataclass(frozen=True)
class Subject:
    """The person an erasure names: `value` is the normalised resident ID, or the key's parts."""

    kind: SubjectKind
    parts: tuple[str, ...]

    @property
    def value(self) -> str:
        return "|".join(self.parts)

    def describe(self) -> str:
        """For messages: says what was asked without repeating the value."""
        return "the resident ID given" if self.kind == "resident_id" else "the key given"


def resident_subject(value: str) -> Subject:
    """Raises ErasureRefused: the text is not shaped like a resident ID (nothing could match it)."""
    normalised = value.strip().upper()
    if not RESIDENT_ID.match(normalised):
        raise ErasureRefused("--resident-id must be an 18-character resident ID (17 digits and a check digit or X) "
                             "or the old 15-digit form; nothing was changed")
    return Subject("resident_id", (normalised,))


def key_subject(res: Resource, value: str) -> Subject:
    """The primary key of `res` as `--key` gives it (parts of a composite key joined by `|`).

    Raises:
        ErasureRefused: the resource has no primary key (an event log: erase by resident ID), or the number
            of parts differs from the key's.
    """
    if not res.primary_key:
        raise ErasureRefused(f"{res.name} has no primary key (write_mode {res.write_mode}): erase its rows by "
                             "--resident-id instead; nothing was changed")
    parts = tuple(p.strip() for p in value.split("|"))
    if len(parts) != len(res.primary_key) or not all(parts):
        raise ErasureRefused(f"{res.name}'s key is ({', '.join(res.primary_key)}): give --key as "
                             f"{'|'.join('<' + k + '>' for k in res.primary_key)}; nothing was changed")
    return Subject("key", parts)


def resident_id_items(res: Resource) -> tuple[str, ...]:
    return tuple(i.name for i in res.items if i.pii == "resident_id")


def check_personal(res: Resource, subject: Subject) -> None:
    """Raises ErasureRefused: the resource holds nothing personal (erasure applies to personal information),
    or (by resident ID) no item of it carries a resident ID."""
    if not any(i.is_personal for i in res.items):
        raise ErasureRefused(f"{res.name} holds no personal items (no item has a PII class): there is no personal "
                             "information to erase; nothing was changed")
    if subject.kind == "resident_id" and not resident_id_items(res):
        raise ErasureRefused(f"{res.name} has no item of PII class resident_id: erase by --key; nothing was changed")


def matches(res: Resource, subject: Subject, columns: Iterable[str]) -> Column:
    """Rows of a table (typed or raw, of the given columns) that belong to the subject."""
    present = set(columns)
    text = [F.trim(F.col(f"`{n}`").cast("string")) for n in
            (res.primary_key if subject.kind == "key" else resident_id_items(res))]
    if subject.kind == "key":
        if not set(res.primary_key) <= present:
            return F.lit(False)
        found = [t == F.lit(p) for t, p in zip(text, subject.parts, strict=True)]
        out = found[0]
        for f in found[1:]:
            out = out & f
        return F.coalesce(out, F.lit(False))
    names = [n for n in resident_id_items(res) if n in present]
    if not names:
        return F.lit(False)
    hits = [F.upper(F.trim(F.col(f"`{n}`").cast("string"))) == F.lit(subject.value) for n in names]
    out = hits[0]
    for h in hits[1:]:
        out = out | h
    return F.coalesce(out, F.lit(False))


def lineage_condition(rows: Sequence[tuple[str, int]], *, batch_expr: str = "`_batch_id`") -> str:
    """A SQL condition for the rows at these (batch, row number) places (`batch_expr`: the SQL giving a row's
    bronze batch); FALSE when there are none."""
    if not rows:
        return "FALSE"
    places = ", ".join(sql_literal(f"{b}:{int(n)}") for b, n in sorted(set(rows)))
    return f"concat({batch_expr}, ':', CAST(`_row_number` AS STRING)) IN ({places})"


def subject_hash(subject: Subject, key: str) -> str:
    """HMAC-SHA256 of the subject under the lake's secret key: equal requests give equal hashes (a repeated
    request is recognised), and without the key the hash cannot be turned back into a resident ID by
    trying the few billion that exist."""
    message = f"citylake-erasure\0{subject.kind}\0{subject.value}".encode()
    return hmac.new(key.encode("utf-8"), message, hashlib.sha256).hexdigest()


def blank_records(data: bytes, starts: Sequence[int], erased: Iterable[int]) -> bytes:
    """The export's bytes with the lines of the records starting at the `erased` physical lines left empty.

    `starts` are the first lines of the batch's records (`_row_number`, 1-based); a record runs to the line
    before the next one starts (a quoted field may span lines), the last one to the end. Lines are emptied,
    not removed, so every other record keeps the line number bronze and quarantine cite (and a later erasure
    in the same file still finds its lines). They are split at LF, which no byte of a GB18030 or UTF-8
    multi-byte character contains, so every byte of the other records stays as delivered.
    """
    gone = set(erased)
    if not gone:
        return data
    ordered = sorted(set(starts) | gone)
    lines = re.split(b"(?<=\n)", data)
    if lines and lines[-1] == b"":
        lines.pop()
    blank: set[int] = set()
    for index, start in enumerate(ordered):
        if start in gone:
            end = ordered[index + 1] - 1 if index + 1 < len(ordered) else len(lines)
            blank.update(range(start, end + 1))
    return b"".join(_ending(line) if number in blank else line for number, line in enumerate(lines, start=1))


def _ending(line: bytes) -> bytes:
    """Only the line's terminator (CRLF or LF, as the reader splits lines; none at the end of the file)."""
    return b"\r\n" if line.endswith(b"\r\n") else b"\n" if line.endswith(b"\n") else b""
