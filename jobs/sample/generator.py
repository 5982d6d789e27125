"""A day's export of any catalog resource, as its department would deliver it, with known defects.

Values come from the catalog: rules (`cn_resident_id`, `cn_division`, `in_set`, `range` ...), PII classes
and types choose a generator, and an item's optional `sample` hint refines it:

| hint | meaning |
| --- | --- |
| `{kind: sequence, format: "GD{day:%Y%m%d}{n:08d}"}` | running number of the row in the day |
| `{kind: choice, values: [...], weights: [...]}` | one of the values |
| `{kind: text, values: ["...{district}..."]}` | a template filled from the row (`{district}`, `{street}`, any item) |
| `{kind: after, field: received_at, hours: [1, 240]}` | a time after another item's |
| `when: {status: [已办结]}` | only when another item has one of these values, else empty |
| `optional: 0.2` | empty in 20 % of rows |

About 1 % of rows get one defect each, from the classes the resource makes possible; the generator
returns them so tests can check each ends in quarantine with the right reason.
"""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from jobs.catalog.model import DataItem, Resource
from jobs.io.decoding import codec_for
from jobs.rules import divisions
from jobs.sample import values

DEFECT_CLASSES = ("bad_id_check", "unknown_district", "bad_date", "duplicate_key", "missing_required")
SPARK_TO_STRFTIME = (("yyyy", "%Y"), ("MM", "%m"), ("dd", "%d"), ("HH", "%H"), ("mm", "%M"), ("ss", "%S"))


@dataclass(frozen=True)
class Defect:
    line: int
    kind: str
    field: str
    value: str


@dataclass(frozen=True)
class SampleExport:
    path: Path
    rows: int
    defects: tuple[Defect, ...]


def strftime_pattern(spark_pattern: str) -> str:
    out = spark_pattern
    for spark, py in SPARK_TO_STRFTIME:
        out = out.replace(spark, py)
    return out


def _rule(item: DataItem, name: str) -> Any:
    return next((r for r in item.rules if r.rule == name), None)


class _RowMaker:
    def __init__(self, resource: Resource, day: date, rng: random.Random):
        self.resource, self.day, self.rng = resource, day, rng
        self.county_pool = sorted(divisions.codes_at("county", "5101"))

    def row(self, n: int) -> dict[str, Any]:
        row: dict[str, Any] = {}
        for item in self.resource.items:
            row[item.name] = self.value(item, row, n)
        return {k: self.render(self.resource.item(k), v) for k, v in row.items()}

    def render(self, item: DataItem, value: Any) -> str:
        if value is None:
            return ""
        if isinstance(value, datetime):
            return value.strftime(strftime_pattern(item.formats[0]))
        if isinstance(value, date):
            return value.strftime(strftime_pattern(item.formats[0]))
        return str(value)

    def value(self, item: DataItem, row: dict[str, Any], n: int) -> Any:
        hint: dict[str, Any] = dict(item.sample)
        when = hint.get("when") or {}
        for other, allowed in when.items():
            if row.get(other) not in allowed:
                return None
        if "optional" in hint and self.rng.random() < float(hint["optional"]):
            return None
        kind = hint.get("kind")
        rng = self.rng
        if kind == "sequence":
            return str(hint["format"]).format(day=self.day, n=n)
        if kind == "choice":
            weights = hint.get("weights")
            return rng.choices(list(hint["values"]), weights=list(weights) if weights else None)[0]
        if kind == "text":
            names = divisions.names()
            context = {**row, "district": names.get(str(row.get("district_code")), "成都市"),
                       "street": names.get(str(row.get("street_code")), "")}
            return rng.choice(list(hint["values"])).format(**context)
        if kind == "after":
            base = row[str(hint["field"])]
            lo, hi = hint.get("hours", [1, 72])
            return base + timedelta(minutes=rng.randrange(int(lo) * 60, int(hi) * 60))
        if kind == "integer":
            return rng.randint(int(hint["min"]), int(hint["max"]))
        return self.by_rule(item, row)

    def by_rule(self, item: DataItem, row: dict[str, Any]) -> Any:
        rng = self.rng
        if _rule(item, "cn_resident_id"):
            return values.resident_id(rng, county=rng.choice(self.county_pool), as_of=self.day)
        if _rule(item, "cn_mobile"):
            return values.mobile(rng)
        division = _rule(item, "cn_division")
        if division is not None:
            parent = division.params.get("parent")
            if parent:
                return values.township_of(rng, str(row[parent])) if row.get(parent) else None
            return rng.choice(_pool(str(division.params["level"]), str(division.params.get("within", ""))))
        in_set = _rule(item, "in_set")
        if in_set is not None:
            return rng.choice(list(in_set.params["values"]))
        rng_rule = _rule(item, "range")
        if rng_rule is not None:
            return rng.randint(int(rng_rule.params.get("min", 0)), int(rng_rule.params.get("max", 100)))
        if item.pii == "name":
            return values.person_name(rng)
        if item.type == "timestamp":
            return values.moment(rng, self.day)
        if item.type == "date":
            return self.day
        if item.type == "integer":
            return rng.randint(0, 100)
        if item.examples:
            return rng.choice(item.examples)
        return f"{item.title}{rng.randrange(1000)}"


@cache
def _pool(level: str, within: str) -> tuple[str, ...]:
    return tuple(sorted(divisions.codes_at(level, within)))


def _applicable(resource: Resource) -> dict[str, DataItem]:
    """Defect class -> the item it damages, for the classes this resource can have."""
    out: dict[str, DataItem] = {}
    for item in resource.items:
        if _rule(item, "cn_resident_id") and "bad_id_check" not in out:
            out["bad_id_check"] = item
        div = _rule(item, "cn_division")
        if div is not None and div.params.get("level") == "county" and "unknown_district" not in out:
            out["unknown_district"] = item
        if item.type in ("timestamp", "date") and item.required and "bad_date" not in out:
            out["bad_date"] = item
        if item.required and item.name not in resource.primary_key and item.type == "string" \
                and not item.rules and "missing_required" not in out:
            out["missing_required"] = item
    if len(resource.primary_key) == 1:
        out["duplicate_key"] = resource.item(resource.primary_key[0])
    return {k: out[k] for k in DEFECT_CLASSES if k in out}


def _damage(kind: str, item: DataItem, row: dict[str, str], rows: list[dict[str, str]], rng: random.Random,
            index: int) -> str:
    if kind == "bad_id_check":
        value = row[item.name] or values.resident_id(rng)
        wrong = next(c for c in "0123456789X" if c != value[17])
        row[item.name] = value[:17] + wrong
    elif kind == "unknown_district":
        row[item.name] = "510199"
    elif kind == "bad_date":
        row[item.name] = rng.choice(["2026-02-30 10:00:00", "明天上午", "26/11/2026 9点"])
    elif kind == "duplicate_key":
        row[item.name] = rows[rng.randrange(index)][item.name]
    elif kind == "missing_required":
        row[item.name] = ""
    return row[item.name]


def generate(resource: Resource, *, day: date, rows: int, seed: int = 12345, defect_rate: float = 0.01
             ) -> tuple[list[dict[str, str]], tuple[Defect, ...]]:
    """Rows (as rendered strings, keyed by item name) and the defects injected into them."""
    rng = random.Random(f"{seed}:{resource.name}:{day.isoformat()}")
    maker = _RowMaker(resource, day, rng)
    data = [maker.row(n) for n in range(1, rows + 1)]
    classes = list(_applicable(resource).items())
    n_defects = min(max(len(classes), round(rows * defect_rate)), max(rows - 1, 0)) if classes and defect_rate else 0
    picked = sorted(rng.sample(range(1, rows), n_defects)) if n_defects else []
    defects = []
    for k, index in enumerate(picked):
        kind, item = classes[k % len(classes)]
        value = _damage(kind, item, data[index], data, rng, index)
        defects.append(Defect(line=index + 2, kind=kind, field=item.name, value=value))
    return data, tuple(defects)


def write_export(resource: Resource, landing_root: Path, *, day: date, rows: int, seed: int = 12345,
                 defect_rate: float = 0.01, mark_ready: bool = True) -> SampleExport:
    """Write `<landing>/<department>/<resource>/<resource>_<yyyymmdd>.csv` in the declared encoding,
    then (as departments do) its completion marker, unless `mark_ready` is false."""
    data, defects = generate(resource, day=day, rows=rows, seed=seed, defect_rate=defect_rate)
    folder = landing_root / resource.provider / resource.name
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{resource.name}_{day:%Y%m%d}.csv"
    header = [i.title if resource.source.header == "title" else i.name for i in resource.items]
    tmp = path.with_name("." + path.name + ".part")
    with tmp.open("w", encoding=codec_for(resource.source.encoding), newline="") as fh:
        writer = csv.writer(fh, delimiter=resource.source.delimiter)
        writer.writerow(header)
        for row in data:
            writer.writerow([row[i.name] for i in resource.items])
    tmp.replace(path)
    if mark_ready:
        path.with_name(path.name + resource.source.marker_suffix).touch()
    return SampleExport(path=path, rows=rows, defects=defects)
