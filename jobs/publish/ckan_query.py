"""package_search's ``q`` and ``fq``: the subset of Solr's query syntax CKAN clients and harvesters send.

Parsed into a conjunction of clauses, each clause one term or several joined by ``OR``; ``AND`` (or nothing)
joins clauses, ``NOT`` and a leading ``-`` negate a term, ``+`` is accepted and means nothing more. A term is
``value`` (free text) or ``field:value`` where value is a word, a quoted phrase, ``(a OR b)``, ``*``, a
trailing-``*`` prefix or a range: ``[from TO to]`` (inclusive), ``{from TO to}`` (exclusive), ``*`` for an
open end. Ranges on the timestamp fields take Solr's date syntax, so a harvester's incremental query
``metadata_modified:[2026-01-01T00:00:00Z TO *]`` or ``metadata_modified:[NOW-1DAY TO NOW]`` works as on
CKAN. Anything else is a `SearchQueryError`, never a silently different answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from jobs.publish.ckan_params import SearchQueryError

#: fields whose values are timestamps (CKAN's spelling, UTC without offset): ranges compare them in time
DATE_FIELDS = frozenset({"metadata_modified", "metadata_created"})

_TOKEN = re.compile(r'([+-]?)(?:([^\s:"()\[\]{}]+):)?("[^"]*"|\([^)]*\)|[\[{][^\]}]*[\]}]|[^\s"()\[\]{}]+)')
_RANGE = re.compile(r"^([\[{])\s*(\S+)\s+TO\s+(\S+)\s*([\]}])$")
_DATE_MATH = re.compile(r"([+-])(\d+)(YEARS?|MONTHS?|DAYS?|HOURS?|MINUTES?|SECONDS?)"
                        r"|/(YEAR|MONTH|DAY|HOUR|MINUTE|SECOND)")
_UNIT_SECONDS = {"DAY": 86400, "HOUR": 3600, "MINUTE": 60, "SECOND": 1}


@dataclass(frozen=True)
class Range:
    """``[low TO high]`` with each end inclusive or not; None is an open end."""

    low: str | None
    high: str | None
    low_inclusive: bool
    high_inclusive: bool


@dataclass(frozen=True)
class Term:
    field: str | None
    values: tuple[str, ...]
    negated: bool
    #: q's field terms match words inside a value (Solr's text fields); fq's match whole values
    substring: bool = False
    range: Range | None = None


#: one clause: its terms joined by OR (a single term mostly); a query is a conjunction of clauses
Clause = tuple[Term, ...]


def parse(query: str, *, what: str) -> list[Clause]:
    """Split q/fq into clauses; ``OR`` binds its neighbours into one clause, the rest are ANDed."""
    clauses: list[list[Term]] = []
    pos, negate_next, join_next = 0, False, False
    while True:
        while pos < len(query) and query[pos].isspace():
            pos += 1
        if pos >= len(query):
            break
        m = _TOKEN.match(query, pos)
        if m is None:
            raise SearchQueryError(f"{what}: cannot parse {query[pos:pos + 30]!r}")
        pos = m.end()
        sign, field, raw = m.groups()
        if field is None and raw in ("AND", "&&"):
            continue
        if field is None and raw in ("NOT", "!"):
            negate_next = True
            continue
        if field is None and raw in ("OR", "||"):
            if not clauses or join_next:
                raise SearchQueryError(f"{what}: OR needs a term on each side")
            join_next = True
            continue
        term = _term(field, raw, negated=(sign == "-") != negate_next, what=what)
        if join_next:
            clauses[-1].append(term)
        else:
            clauses.append([term])
        negate_next = join_next = False
    if join_next:
        raise SearchQueryError(f"{what}: OR needs a term on each side")
    return [tuple(c) for c in clauses]


def _term(field: str | None, raw: str, *, negated: bool, what: str) -> Term:
    if raw[0] in "[{":
        if field is None:
            raise SearchQueryError(f"{what}: a range needs a field ({raw!r})")
        m = _RANGE.match(raw)
        if m is None:
            raise SearchQueryError(f"{what}: {raw!r} is not a range (write [from TO to], * for an open end)")
        opening, low, high, closing = m.groups()
        bounds = Range(None if low == "*" else low.strip('"'), None if high == "*" else high.strip('"'),
                       opening == "[", closing == "]")
        if field in DATE_FIELDS:  # refuse a malformed date now, not per document
            for end in (bounds.low, bounds.high):
                if end is not None:
                    solr_date(end, what=what)
        return Term(field, (raw,), negated, range=bounds)
    if raw.startswith("("):
        values = tuple(v.strip('"') for v in re.findall(r'"[^"]*"|[^\s()]+', raw) if v not in ("OR", "||"))
    else:
        values = (raw.strip('"') if raw.startswith('"') else raw,)
    return Term(field, values, negated)


def solr_date(text: str, *, what: str = "fq", now: datetime | None = None) -> datetime:
    """A Solr date (``2026-01-01T00:00:00Z``, with optional fraction) or date math (``NOW-1DAY``,
    ``NOW/DAY``, ``2026-01-01T00:00:00Z+6MONTHS``) as a naive UTC datetime."""
    if text.startswith("NOW"):
        moment = (now or datetime.now(UTC)).astimezone(UTC).replace(tzinfo=None)
        rest = text[3:]
    else:
        m = re.match(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z", text)
        if m is None:
            raise SearchQueryError(f"{what}: {text!r} is not a date (write 2026-01-01T00:00:00Z or NOW-1DAY)")
        moment = datetime.fromisoformat(m.group(0)[:-1])
        rest = text[m.end():]
    pos = 0
    while pos < len(rest):
        step = _DATE_MATH.match(rest, pos)
        if step is None:
            raise SearchQueryError(f"{what}: cannot read the date math {rest[pos:]!r} of {text!r}")
        pos = step.end()
        sign, amount, unit, round_to = step.groups()
        if round_to:
            moment = _round_down(moment, round_to)
        else:
            moment = _shift(moment, int(amount) * (1 if sign == "+" else -1), unit.rstrip("S"))
    return moment


def _shift(moment: datetime, amount: int, unit: str) -> datetime:
    if unit in _UNIT_SECONDS:
        return moment + timedelta(seconds=amount * _UNIT_SECONDS[unit])
    months = moment.month - 1 + amount * (12 if unit == "YEAR" else 1)
    year, month = moment.year + months // 12, months % 12 + 1
    day = min(moment.day, [31, 29 if _leap(year) else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1])
    return moment.replace(year=year, month=month, day=day)


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _round_down(moment: datetime, unit: str) -> datetime:
    keep = ("YEAR", "MONTH", "DAY", "HOUR", "MINUTE", "SECOND").index(unit)
    parts = [moment.year, moment.month, moment.day, moment.hour, moment.minute, moment.second]
    floor = [1, 1, 1, 0, 0, 0]
    return datetime(*(parts[:keep + 1] + floor[keep + 1:]))  # type: ignore[arg-type]


def field_matches(values: tuple[str, ...], term: Term, *, now: datetime | None = None) -> bool:
    """Whether a document's values of `term.field` satisfy the term (negation is the caller's)."""
    if term.range is not None:
        return any(_in_range(v, term.field or "", term.range, now) for v in values)
    if term.substring:
        folded = [v.casefold() for v in values]
        return any(w.rstrip("*").casefold() in v for w in term.values for v in folded)
    for w in term.values:
        if w == "*":
            if values:
                return True
        elif w.endswith("*"):
            if any(v.startswith(w[:-1]) for v in values):
                return True
        elif w in values:
            return True
    return False


def _in_range(value: str, field: str, bounds: Range, now: datetime | None) -> bool:
    if field in DATE_FIELDS:
        try:
            point: object = datetime.fromisoformat(value.removesuffix("Z"))
        except ValueError:
            return False
        low: object = None if bounds.low is None else solr_date(bounds.low, now=now)
        high: object = None if bounds.high is None else solr_date(bounds.high, now=now)
    else:
        point, low, high = _number_or_text(value), _number_or_text(bounds.low), _number_or_text(bounds.high)
        if low is not None and type(low) is not type(point) or high is not None and type(high) is not type(point):
            return False
    if low is not None and (point < low or point == low and not bounds.low_inclusive):  # type: ignore[operator]
        return False
    return high is None or point < high or point == high and bounds.high_inclusive  # type: ignore[operator]


def _number_or_text(value: str | None) -> object:
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return value
