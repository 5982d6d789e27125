"""Which value each catalog item gets in a sample row, from its `sample` hint, rules, PII class and type.

The catalog, not Python, describes a resource, so there is no per-resource code here: an item's optional
`sample` hint names a *kind* (a generator) and its parameters; without a hint the item's rules choose
(`cn_resident_id`, `cn_uscc`, `cn_division`, `in_set`, `range` ...), then its PII class and type.

Kinds (`sample: {kind: ..., params}`) and what they give:

- `sequence` `format: "GD{day:%Y%m%d}{n:08d}"`: the running number `n` of the row in the day.
- `choice` `values: [...]`, `weights: [...]`: one of the values.
- `text` `values: ["{district}{street}..."]`: a template; `{district}` / `{street}` are the names of the
  row's county / township codes, `{<item>}` is another item's text.
- `after` `field: received_at`, `hours: [1, 240]`: a time 1-240 hours after another item's.
- `integer` `min`, `max`: a whole number (default: the item's `range` rule, else 0-100).
- `decimal` `min`, `max`, `scale`: a decimal (default: the `range` rule, else 0-1000; the item's scale).
- `flag` `rate: 0.8`, `values: [是, 否]`: the first text in 80 % of rows; texts default to the item's
  two-value `in_set`, else 是/否 (for a boolean item also 1/0, true/false).
- `date` `days_back: [0, 3650]`: a day 0-3650 days before the export day (a time on it for timestamps).
- `division` `level`, `within`, `parent`, `padded`: a division code (default: the `cn_division` rule;
  provinces and cities 2/4 digits, or 6 with `padded: true` or `length: 6`).
- `uscc`, `company`, `address`, `resident_id`, `mobile`, `name`: a valid credit code, a company name, a
  street address in the row's county and township, a valid resident ID, a mobile, a person's name.
- `reference` `field: code`: that field of row `n` of the resource's reference list (`sample: {reference:
  chengdu_divisions}` on the resource; `jobs.sample.references`), for a department that exports a list.
- `by` `field: applicant_type`, `cases: {个人: resident_id, 企业: uscc}`, `default`: the case chosen by
  another item's value; a case is a kind name or a whole hint mapping; no case and no default: empty.

With any kind (or none): `when: {status: [已办结]}` keeps the value only when another item has one of
these values (else empty); `optional: 0.2` leaves it empty in 20 % of rows.

Items may refer to items declared later (`after`, `by`, `when`, `parent`, text fields): they are made
first. A reference cycle, an unknown kind or a missing parameter raises `CatalogError` naming the item.
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from openpyxl.utils.datetime import to_excel

from jobs.catalog.loader import EPOCH_MILLIS, EPOCH_SECONDS, SPECIAL_FORMATS
from jobs.catalog.model import DataItem, Resource, RuleRef
from jobs.errors import CatalogError
from jobs.io.excel import java_to_strftime
from jobs.io.spark import TIMEZONE
from jobs.rules import divisions
from jobs.sample import values

Hint = Mapping[str, Any]
#: Rules whose items hold a unified social credit code.
USCC_RULES = ("cn_uscc", "cn_uscc_checksum")


def rule_of(item: DataItem, name: str) -> RuleRef | None:
    """The item's rule called `name`, if it has one."""
    return next((r for r in item.rules if r.rule == name), None)


def division_item(resource: Resource, level: str) -> DataItem | None:
    """The first item holding division codes of `level` (so templates and addresses can use its names)."""
    for item in resource.items:
        rule = rule_of(item, "cn_division")
        if rule is not None and rule.params.get("level") == level:
            return item
    return None


def render(item: DataItem, value: Any) -> str:
    """A value as the department's text: dates in the item's first pattern, decimals at their scale."""
    if value is None:
        return ""
    if isinstance(value, datetime | date):
        return moment_text(item, value)
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def moment_text(item: DataItem, value: date) -> str:
    """A date or time written with the item's first declared pattern (as the Excel stager writes
    datetime cells, so CSV, JSON and Excel exports carry the same text)."""
    moment = value if isinstance(value, datetime) else datetime(value.year, value.month, value.day)
    pattern = next((f for f in item.formats if f not in SPECIAL_FORMATS), None)
    if pattern is None:
        number = epoch_number(item, moment)
        if number is not None:
            return str(number)
        serial = to_excel(moment)
        return str(int(serial)) if float(serial).is_integer() else str(serial)
    return moment.strftime(java_to_strftime(pattern))


def epoch_number(item: DataItem, value: date) -> int | None:
    """`value` as the Unix epoch number the item is written in, or None when it is written otherwise.

    An item is written in epoch numbers when it declares no Spark pattern and its first special format
    is `epoch_seconds` or `epoch_millis`. Sample moments are the city's wall-clock times (what conform
    stores), so they are taken in the city's time zone, the inverse of `jobs.transforms.conform.epoch`;
    a date is its midnight there.
    """
    special = next((f for f in item.formats if f in SPECIAL_FORMATS), None)
    if special not in (EPOCH_SECONDS, EPOCH_MILLIS) or any(f not in SPECIAL_FORMATS for f in item.formats):
        return None
    moment = value if isinstance(value, datetime) else datetime(value.year, value.month, value.day)
    seconds = moment.replace(tzinfo=ZoneInfo(TIMEZONE)).timestamp()
    return round(seconds * 1000) if special == EPOCH_MILLIS else round(seconds)


def significant(code: str) -> str:
    """A division code without the zero padding of a province (510000 -> 51) or city (510100 -> 5101)."""
    if len(code) == 6:
        for pad in ("0000", "00"):
            if code.endswith(pad):
                return code[: -len(pad)]
    return code


class RowMaker:
    """Makes the rows of one export; a row maps item names to typed values (str, int, Decimal, date,
    datetime or None). Writers render them per format; `render` gives the CSV text."""

    def __init__(self, resource: Resource, day: date, rng: random.Random):
        self.resource, self.day, self.rng = resource, day, rng
        self.items = {i.name: i for i in resource.items}
        self.county = division_item(resource, "county")
        self.township = division_item(resource, "township")
        self._row: dict[str, Any] = {}
        self._making: list[str] = []
        self.n = 0

    def row(self, n: int) -> dict[str, Any]:
        """Row `n` (1-based) of the day, keyed by item name in catalog order."""
        self._row, self._making, self.n = {}, [], n
        for name in self.items:
            self.get(name)
        return {name: self._row[name] for name in self.items}

    def get(self, name: str) -> Any:
        """The value of item `name` in the current row, made now if it has not been yet."""
        if name in self._row:
            return self._row[name]
        item = self.items.get(name)
        if item is None:
            where = self.items[self._making[-1]] if self._making else None
            raise self.error(where, f"the sample hint refers to {name!r}, which is no data item")
        if name in self._making:
            raise self.error(item, "sample hints refer to each other in a cycle: " + " -> ".join(
                [*self._making[self._making.index(name):], name]))
        self._making.append(name)
        value = self.value(item)
        self._making.pop()
        self._row[name] = value
        return value

    def error(self, item: DataItem | None, message: str) -> CatalogError:
        return CatalogError(message, file=self.resource.file or "<catalog>", resource=self.resource.name,
                            field=item.name if item is not None else None)

    def value(self, item: DataItem) -> Any:
        hint: Hint = item.sample
        when = hint.get("when") or {}
        for other, allowed in when.items():
            if self.get(str(other)) not in allowed:
                return None
        if "optional" in hint and self.rng.random() < float(hint["optional"]):
            return None
        return self.make(item, hint)

    def make(self, item: DataItem, hint: Hint) -> Any:
        """The value the hint's kind gives (without `when`/`optional`), or by rule without a kind."""
        kind = hint.get("kind")
        if kind is None:
            return self.by_rule(item)
        maker = KINDS.get(str(kind))
        if maker is None:
            raise self.error(item, f"unknown sample kind {kind!r}; known: {', '.join(sorted(KINDS))}")
        try:
            return maker(self, item, hint)
        except KeyError as exc:
            raise self.error(item, f"sample kind {kind!r} needs {exc.args[0]!r}") from None

    def by_rule(self, item: DataItem) -> Any:
        rng = self.rng
        if rule_of(item, "cn_resident_id") or item.pii == "resident_id":
            return _resident_id(self, item, {})
        if rule_of(item, "cn_mobile") or item.pii == "phone":
            return values.mobile(rng)
        if any(rule_of(item, r) for r in USCC_RULES):
            return values.uscc(rng)
        if rule_of(item, "cn_division") is not None:
            return _division(self, item, {})
        in_set = rule_of(item, "in_set")
        if in_set is not None:
            return rng.choice(list(in_set.params["values"]))  # type: ignore[call-overload]
        if item.type == "decimal":
            return _decimal(self, item, {})
        if rule_of(item, "range") is not None:
            return _integer(self, item, {})
        if item.pii == "name":
            return values.person_name(rng)
        if item.pii == "address":
            return _address(self, item, {})
        if item.type == "boolean":
            return _flag(self, item, {})
        if item.type == "timestamp":
            return values.moment(rng, self.day)
        if item.type == "date":
            return self.day
        if item.type == "integer":
            return rng.randint(0, 100)
        if item.examples:
            return rng.choice(item.examples)
        return f"{item.title}{rng.randrange(1000)}"

    def names_of(self, item: DataItem | None) -> str:
        """The Chinese name of the division code the row holds in `item` ("" when none)."""
        code = self.get(item.name) if item is not None else None
        return divisions.names().get(str(code), "") if code else ""


def _sequence(m: RowMaker, item: DataItem, hint: Hint) -> Any:
    return str(hint["format"]).format(day=m.day, n=m.n)


def _choice(m: RowMaker, item: DataItem, hint: Hint) -> Any:
    weights = hint.get("weights")
    return m.rng.choices(list(hint["values"]), weights=list(weights) if weights else None)[0]


def _text(m: RowMaker, item: DataItem, hint: Hint) -> Any:
    template = str(m.rng.choice(list(hint["values"])))
    fields = {f for _, f, _, _ in string.Formatter().parse(template) if f}
    context: dict[str, str] = {}
    for name in sorted(fields):
        if name == "district":
            context[name] = m.names_of(m.county)
        elif name == "street":
            context[name] = m.names_of(m.township)
        elif name in m.items:
            context[name] = render(m.items[name], m.get(name))
        else:
            raise m.error(item, f"text template names {{{name}}}, which is no data item, district or street")
    return template.format(**context)


def _after(m: RowMaker, item: DataItem, hint: Hint) -> Any:
    base = m.get(str(hint["field"]))
    if base is None:
        return None
    lo, hi = hint.get("hours", [1, 72])
    return base + timedelta(minutes=m.rng.randrange(int(lo) * 60, int(hi) * 60))


def _integer(m: RowMaker, item: DataItem, hint: Hint) -> Any:
    bounds = rule_of(item, "range")
    params: Mapping[str, Any] = bounds.params if bounds is not None else {}
    low = hint.get("min", params.get("min", 0))
    high = hint.get("max", params.get("max", 100))
    return m.rng.randint(int(low), int(high))


def _decimal(m: RowMaker, item: DataItem, hint: Hint) -> Any:
    bounds = rule_of(item, "range")
    params: Mapping[str, Any] = bounds.params if bounds is not None else {}
    scale = int(hint.get("scale", item.scale if item.scale is not None else 2))
    low = hint.get("min", params.get("min", 0))
    high = hint.get("max", params.get("max", 1000))
    try:
        return values.decimal_between(m.rng, low, high, scale=scale)
    except ValueError as exc:
        raise m.error(item, str(exc)) from None


def _flag(m: RowMaker, item: DataItem, hint: Hint) -> Any:
    texts: Any = hint.get("values")
    in_set = rule_of(item, "in_set")
    if texts is None and in_set is not None:
        allowed: Any = in_set.params["values"]
        texts = allowed if len(allowed) == 2 else None
    texts = [str(t) for t in (texts or ("是", "否"))]
    if len(texts) != 2:
        raise m.error(item, f"a flag needs two texts (yes, no), got {texts}")
    return values.flag(m.rng, rate=float(hint.get("rate", 0.5)), texts=texts)


def _date(m: RowMaker, item: DataItem, hint: Hint) -> Any:
    low, high = hint.get("days_back", [0, 365])
    day = values.day_back(m.rng, m.day, low=int(low), high=int(high))
    return values.moment(m.rng, day) if item.type == "timestamp" else day


def _division(m: RowMaker, item: DataItem, hint: Hint) -> Any:
    rule = rule_of(item, "cn_division")
    params: dict[str, Any] = {**(rule.params if rule is not None else {}), **hint}
    level = str(params["level"])
    parent = params.get("parent")
    within = str(params.get("within", ""))
    if parent:
        code = m.get(str(parent))
        if not code:
            return None
        if level == "township":
            return values.township_of(m.rng, str(code))
        if level == "village":
            return values.village_of(m.rng, str(code))
        within = significant(str(code))
    padded = bool(params.get("padded", item.length == 6))
    return values.division_code(m.rng, level=level, within=within, padded=padded)


def _uscc(m: RowMaker, item: DataItem, hint: Hint) -> Any:
    division = hint.get("division")
    return values.uscc(m.rng, division=str(division) if division else None)


def _company(m: RowMaker, item: DataItem, hint: Hint) -> Any:
    return values.company_name(m.rng, city=str(hint.get("city", "成都")))


def _address(m: RowMaker, item: DataItem, hint: Hint) -> Any:
    county = m.get(m.county.name) if m.county is not None else None
    township = m.get(m.township.name) if m.township is not None else None
    if township and county and not str(township).startswith(str(county)):
        township = None
    return values.address(m.rng, county=str(county) if county else None,
                          township=str(township) if township else None)


def _resident_id(m: RowMaker, item: DataItem, hint: Hint) -> Any:
    return values.resident_id(m.rng, county=m.rng.choice(_chengdu_counties()), as_of=m.day)


def _chengdu_counties() -> tuple[str, ...]:
    return values.division_pool("county", values.CHENGDU)


def _mobile(m: RowMaker, item: DataItem, hint: Hint) -> Any:
    return values.mobile(m.rng)


def _name(m: RowMaker, item: DataItem, hint: Hint) -> Any:
    return values.person_name(m.rng)


def _by(m: RowMaker, item: DataItem, hint: Hint) -> Any:
    chosen = m.get(str(hint["field"]))
    cases: Mapping[Any, Any] = hint["cases"]
    case = next((c for k, c in cases.items() if str(k) == str(chosen)), hint.get("default"))
    if case is None:
        return None
    return m.make(item, {"kind": case} if isinstance(case, str) else case)


def _reference(m: RowMaker, item: DataItem, hint: Hint) -> Any:
    from jobs.sample.references import REFERENCE_LISTS

    name = m.resource.sample.get("reference")
    if name not in REFERENCE_LISTS:
        raise m.error(item, f"sample kind 'reference' needs the resource's sample.reference, one of "
                            f"{', '.join(REFERENCE_LISTS)}; got {name!r}")
    rows = REFERENCE_LISTS[str(name)]()
    row = rows[(m.n - 1) % len(rows)]
    field = str(hint["field"])
    if field not in row:
        raise m.error(item, f"reference list {name} has no field {field!r}; it has {', '.join(row)}")
    return row[field]


KINDS: dict[str, Callable[[RowMaker, DataItem, Hint], Any]] = {
    "sequence": _sequence,
    "choice": _choice,
    "text": _text,
    "after": _after,
    "integer": _integer,
    "decimal": _decimal,
    "flag": _flag,
    "date": _date,
    "division": _division,
    "uscc": _uscc,
    "company": _company,
    "address": _address,
    "resident_id": _resident_id,
    "mobile": _mobile,
    "name": _name,
    "by": _by,
    "reference": _reference,
}
