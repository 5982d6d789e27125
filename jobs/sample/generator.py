"""A day's export of any catalog resource, as its department would deliver it, with known defects.

Everything comes from the catalog, so a new resource needs YAML, never Python: values from the items'
types, rules, PII classes and optional `sample` hints (`jobs.sample.kinds` lists the hint kinds), the
file from `source` (`jobs.sample.writers`: csv, jsonl or xlsx, encoding, header labels, Excel layout).

Every 97th row carries a canary person's valid raw identifiers (`jobs.sample.canaries`), which the
publish step's PII gate must never find in published data.

About 1 % of rows get one defect each, from the classes in `DEFECTS` the resource makes possible (none
for a reference list: see `make_rows`); the generator returns them with the line number the reader will
give the record, so tests can check that each ends in quarantine with the rule the table names, and
nothing else does.

Same seed, same rows and the same bytes: a value depends only on the seed, the resource, the day and
the row number (`write_days` derives each day's seed from the base seed and the day).
"""

from __future__ import annotations

import fnmatch
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from jobs.catalog.model import DataItem, Resource
from jobs.errors import CatalogError
from jobs.io.excel import java_to_strftime
from jobs.rules import divisions
from jobs.sample import values
from jobs.sample.canaries import plant
from jobs.sample.kinds import RowMaker, render, rule_of
from jobs.sample.writers import WRITERS, first_data_line

#: Jitter of `rows_for`: a day's volume varies by up to this share around the nominal count.
VOLUME_JITTER = 0.10


@dataclass(frozen=True)
class Defect:
    """One damaged record: its line as the reader numbers it (CSV physical line, JSON line, Excel row),
    the defect class, the damaged item and the value written (rendered; "" when left empty)."""

    line: int
    kind: str
    field: str
    value: str


@dataclass(frozen=True)
class SampleExport:
    path: Path
    rows: int
    defects: tuple[Defect, ...]


@dataclass(frozen=True)
class _Damage:
    """What a damage function may draw on: the rng, all rows so far (typed) and the row's index."""

    rng: random.Random
    rows: Sequence[dict[str, Any]]
    index: int


@dataclass(frozen=True)
class DefectClass:
    """A kind of damage a department's export really shows, and where the pipeline must put it.

    Attributes:
        damages: what is wrong with the record.
        target: which item of the resource is damaged (the class applies when the resource has one).
        weight: how often, relative to the other applicable classes: defective rows are dealt to the
            classes in turn, each class `weight` times per round, so with all weights 1 each of k
            applicable classes gets 1/k of the defective rows (`defect_rate / k` of all rows).
        rule: the quarantine reason the record must get, on the damaged item (`type` and
            `duplicate_key` are conform's implicit checks; `duplicate_key` names the key fields).
    """

    damages: str
    target: str
    weight: int
    rule: str
    pick: Callable[[Resource], DataItem | None]
    damage: Callable[[Any, DataItem, _Damage], Any]


def _first(resource: Resource, test: Callable[[DataItem], bool]) -> DataItem | None:
    return next((i for i in resource.items if test(i)), None)


def _with_rule(name: str, **params: object) -> Callable[[Resource], DataItem | None]:
    def pick(resource: Resource) -> DataItem | None:
        def has(item: DataItem) -> bool:
            rule = rule_of(item, name)
            return rule is not None and all(rule.params.get(k) == v for k, v in params.items())
        return _first(resource, has)
    return pick


def _wrong_check_char(value: Any, item: DataItem, d: _Damage) -> str:
    text = str(value or values.resident_id(d.rng))
    return text[:17] + next(c for c in "0123456789X" if c != text[17])


def _unknown_county(value: Any, item: DataItem, d: _Damage) -> str:
    rule = rule_of(item, "cn_division")
    prefix = str(rule.params.get("within", "") if rule is not None else "")[:4] or values.CHENGDU
    known = divisions.county_codes() | divisions.retired_county_codes()
    return next(c for s in range(99, 0, -1) if (c := f"{prefix.ljust(4, '0')}{s:02d}") not in known)


def _bad_date(value: Any, item: DataItem, d: _Damage) -> str:
    return d.rng.choice(["2026-02-30 10:00:00", "明天上午", "26/11/2026 9点"])


def _repeat_key(value: Any, item: DataItem, d: _Damage) -> Any:
    return d.rows[d.rng.randrange(d.index)][item.name]


def _wrong_length_phone(value: Any, item: DataItem, d: _Damage) -> str:
    text = str(value or values.mobile(d.rng))
    return text[:-1] if d.rng.random() < 0.5 else text + str(d.rng.randrange(10))


#: Every defect class the generator injects: what is damaged, how often and where it must end up.
#: A USCC with a wrong check character is deliberately absent: it is a `warn` rule (early codes were
#: issued without a valid one), so such a record is published, not quarantined.
DEFECTS: dict[str, DefectClass] = {
    "bad_id_check": DefectClass(
        damages="resident ID whose last character is not its GB 11643 check character",
        target="first item with rule cn_resident_id", weight=1, rule="cn_resident_id",
        pick=_with_rule("cn_resident_id"), damage=_wrong_check_char),
    "unknown_district": DefectClass(
        damages="county code that does not exist (e.g. 510199)",
        target="first item with rule cn_division, level county", weight=1, rule="cn_division",
        pick=_with_rule("cn_division", level="county"), damage=_unknown_county),
    "bad_date": DefectClass(
        damages="date/time no declared pattern reads (2026-02-30 10:00:00, 明天上午, 26/11/2026 9点)",
        target="first required date or timestamp item", weight=1, rule="type",
        pick=lambda r: _first(r, lambda i: i.required and i.type in ("date", "timestamp")), damage=_bad_date),
    "duplicate_key": DefectClass(
        damages="primary key repeated from an earlier row",
        target="the primary key, when it is a single item", weight=1, rule="duplicate_key",
        pick=lambda r: r.item(r.primary_key[0]) if len(r.primary_key) == 1 else None, damage=_repeat_key),
    "missing_required": DefectClass(
        damages="required value left empty (left out of a JSON line, an empty Excel cell)",
        target="first required string item outside the key without rules", weight=1, rule="not_null",
        pick=lambda r: _first(r, lambda i: i.required and i.type == "string" and not i.rules
                              and i.name not in r.primary_key),
        damage=lambda value, item, d: None),
    "bad_phone": DefectClass(
        damages="mobile number one digit short or long (10 or 12 digits)",
        target="first item with rule cn_mobile", weight=1, rule="cn_mobile",
        pick=_with_rule("cn_mobile"), damage=_wrong_length_phone),
}
DEFECT_CLASSES: tuple[str, ...] = tuple(DEFECTS)


def strftime_pattern(spark_pattern: str) -> str:
    """The `strftime` format of a Spark datetime pattern (the one the Excel stager uses)."""
    return java_to_strftime(spark_pattern)


def applicable(resource: Resource) -> dict[str, DataItem]:
    """Defect class -> the item it damages, for the classes this resource makes possible."""
    picked = {kind: cls.pick(resource) for kind, cls in DEFECTS.items()}
    return {kind: item for kind, item in picked.items() if item is not None}


def make_rows(resource: Resource, *, day: date, rows: int, seed: int = 12345, defect_rate: float = 0.01
              ) -> tuple[list[dict[str, Any]], tuple[Defect, ...]]:
    """Typed rows (str, int, Decimal, date, datetime or None per item) and the defects injected; the
    writers render them per format. See `generate` for the rendered form.

    A resource drawn from a reference list (`sample: {reference: ...}`) is always the whole list and
    clean, whatever `rows` and `defect_rate` say: its department delivers the complete list, and the
    rules read its silver table as the list of valid codes (a partial or damaged list would make other
    departments' valid codes fail; the catalog refuses such a list whole, `error_limit: {records: 0}`)."""
    reference = resource.sample.get("reference")
    if reference:
        from jobs.sample.references import REFERENCE_LISTS

        if reference not in REFERENCE_LISTS:
            raise CatalogError(f"unknown reference list {reference!r}; known: {', '.join(REFERENCE_LISTS)}",
                               file=resource.file or "<catalog>", resource=resource.name, field="sample.reference")
        rows, defect_rate = len(REFERENCE_LISTS[str(reference)]()), 0
    rng = random.Random(f"{seed}:{resource.name}:{day.isoformat()}")
    maker = RowMaker(resource, day, rng)
    data = [maker.row(n) for n in range(1, rows + 1)]
    personal = {i.name: i.pii for i in resource.items if i.pii in ("name", "resident_id", "phone")}
    if personal:
        for n, row in enumerate(data, start=1):
            plant(row, personal, n)
    classes = [(kind, item) for kind, item in applicable(resource).items() for _ in range(DEFECTS[kind].weight)]
    n_defects = min(max(len(classes), round(rows * defect_rate)), max(rows - 1, 0)) if classes and defect_rate else 0
    picked = sorted(rng.sample(range(1, rows), n_defects)) if n_defects else []
    first = first_data_line(resource)
    defects = []
    for k, index in enumerate(picked):
        kind, item = classes[k % len(classes)]
        value = DEFECTS[kind].damage(data[index][item.name], item, _Damage(rng, data, index))
        data[index][item.name] = value
        defects.append(Defect(line=first + index, kind=kind, field=item.name, value=render(item, value)))
    return data, tuple(defects)


def generate(resource: Resource, *, day: date, rows: int, seed: int = 12345, defect_rate: float = 0.01
             ) -> tuple[list[dict[str, str]], tuple[Defect, ...]]:
    """Rows as the CSV text of each item (keyed by item name, "" when empty) and the defects injected.

    Defect lines are numbered for the resource's format (`Defect`)."""
    data, defects = make_rows(resource, day=day, rows=rows, seed=seed, defect_rate=defect_rate)
    items = resource.items
    return [{i.name: render(i, row[i.name]) for i in items} for row in data], defects


def rows_for(resource_daily_rows: int, scale: float, rng: random.Random) -> int:
    """A day's row count: the nominal count times `scale`, give or take `VOLUME_JITTER` (seeded), at
    least 1 when the nominal count is positive, so a volume test never sees the same count twice."""
    nominal = resource_daily_rows * scale
    if nominal <= 0:
        return 0
    return max(1, round(nominal * rng.uniform(1 - VOLUME_JITTER, 1 + VOLUME_JITTER)))


def day_seed(seed: int, day: date) -> int:
    """The seed of one day's export, derived from the base seed and the day (stable across runs)."""
    return random.Random(f"{seed}:{day.isoformat()}").getrandbits(32)


def generate_day(resource: Resource, *, day: date, rows: int, scale: float = 1.0, seed: int = 12345,
                 defect_rate: float = 0.01) -> tuple[list[dict[str, str]], tuple[Defect, ...]]:
    """`generate` for one day of a series: about `rows * scale` rows (`rows_for`), the day's own seed.

    The catalog has no resource-level volume yet, so the nominal daily count is an argument."""
    count = rows_for(rows, scale, random.Random(f"{seed}:{resource.name}:{day.isoformat()}:rows"))
    return generate(resource, day=day, rows=count, seed=day_seed(seed, day), defect_rate=defect_rate)


def write_export(resource: Resource, landing_root: Path, *, day: date, rows: int, seed: int = 12345,
                 defect_rate: float = 0.01, mark_ready: bool = True) -> SampleExport:
    """Write `<landing>/<department>/<resource>/<resource>_<yyyymmdd>.<csv|jsonl|xlsx>` in the format
    `source` declares, under a temporary name renamed when complete, then (as departments do) its
    completion marker `<file><source.marker_suffix>`, unless `mark_ready` is false.

    Raises:
        CatalogError: the file name would not match `source.file_pattern` (ingest would never see it).
    """
    writer, extension = WRITERS[resource.source.format]
    folder = landing_root / resource.provider / resource.name
    path = folder / f"{resource.name}_{day:%Y%m%d}.{extension}"
    if not fnmatch.fnmatch(path.name, resource.source.file_pattern):
        raise CatalogError(f"sample export {path.name} does not match file_pattern "
                           f"{resource.source.file_pattern!r}, so ingest would never pick it up",
                           file=resource.file or "<catalog>", resource=resource.name, field="source.file_pattern")
    data, defects = make_rows(resource, day=day, rows=rows, seed=seed, defect_rate=defect_rate)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name("." + path.name + ".part")
    try:
        writer(resource, data, tmp, day=day, seed=seed)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    tmp.replace(path)
    if mark_ready:
        path.with_name(path.name + resource.source.marker_suffix).touch()
    return SampleExport(path=path, rows=len(data), defects=defects)


def write_days(resource: Resource, landing_root: Path, *, start_day: date, days: int, rows_per_day: int,
               seed: int = 12345, scale: float = 1.0, defect_rate: float = 0.01,
               mark_ready: bool = True) -> tuple[SampleExport, ...]:
    """One export per day from `start_day` for `days` days, each with about `rows_per_day * scale` rows
    (`rows_for`) and its own seed (`day_seed`): the days differ, a rerun rewrites the same bytes.

    Example: `write_days(res, landing, start_day=date(2026, 11, 1), days=30, rows_per_day=5000)`.
    """
    out = []
    for k in range(days):
        day = start_day + timedelta(days=k)
        count = rows_for(rows_per_day, scale, random.Random(f"{seed}:{resource.name}:{day.isoformat()}:rows"))
        out.append(write_export(resource, landing_root, day=day, rows=count, seed=day_seed(seed, day),
                                defect_rate=defect_rate, mark_ready=mark_ready))
    return tuple(out)
