"""Schema drift: how an export's columns differ from the catalog, and what the resource's policy does.

Departments add, drop and rename columns without telling anyone. The header (or, for JSON lines, the
keys seen) is compared with the catalog's data items; the result is both a plan for the stager (where
each item is in a record, which columns are extra) and a report for the providing department.

Policies (catalog `source.drift`):
- `freeze`: any added or missing column rejects the file whole;
- `rescue`: unknown columns are kept in bronze's `_rescued` map, missing ones are null;
- `evolve`: like rescue, and unknown columns become bronze columns of their own (silver is unchanged
  until the catalog changes).
A repeated column is ambiguous under every policy and rejects the file.

Pure Python: no Spark, no I/O.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from jobs.catalog.model import DataItem, Resource
from jobs.errors import SchemaMismatch

BOM = "\ufeff"

#: Similarity above which an added and a missing column are reported as a probable rename.
RENAME_SIMILARITY = 0.5

#: Characters Delta Lake does not allow in a column name (without column mapping).
_INVALID_COLUMN_CHARS = re.compile(r"[ ,;{}()\n\t=]")

#: Type checks run on the first values of each column; a column is "retyped" when most fail.
RETYPE_SAMPLE = 200
RETYPE_MIN_VALUES = 20
RETYPE_SHARE = 0.9
_LOOKS_LIKE = {
    "integer": re.compile(r"^\s*[+-]?[0-9０-９]+\s*$"),
    "decimal": re.compile(r"^\s*[+-]?[0-9０-９]*[.．]?[0-9０-９]+\s*$"),
    "date": re.compile(r"[0-9０-９].*[0-9０-９]"),
    "timestamp": re.compile(r"[0-9０-９].*[0-9０-９]"),
    "boolean": re.compile(r"^\s*(true|false|1|0|是|否|y|n|yes|no)\s*$", re.IGNORECASE),
}


def label_of(item: DataItem, resource: Resource) -> str:
    """The column label a department uses for `item` (its Chinese title or its name)."""
    return item.title if resource.source.header == "title" else item.name


def clean_label(label: str) -> str:
    """A header cell without surrounding blanks, a BOM or Excel's line breaks inside the cell."""
    return label.replace(BOM, "").replace("\r", "").replace("\n", "").strip()


def bronze_column_for(label: str) -> str:
    """The bronze column an evolved (uncatalogued) column is stored in: its label, made Delta-safe."""
    return _INVALID_COLUMN_CHARS.sub("_", label) or "_unnamed"


@dataclass(frozen=True)
class DriftReport:
    """What changed in one file, for the providing department."""

    policy: str
    added: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    #: (catalog label, file label) pairs that look like the same column renamed.
    renamed: tuple[tuple[str, str], ...] = ()
    #: (catalog label, expected type, share of sampled values that do not look like it).
    retyped: tuple[tuple[str, str, float], ...] = ()

    @property
    def drifted(self) -> bool:
        return bool(self.added or self.missing or self.renamed or self.retyped)

    def describe(self) -> str:
        """One line for logs, the ledger and the run summary."""
        parts = []
        if self.added:
            parts.append("added: " + ", ".join(self.added))
        if self.missing:
            parts.append("missing: " + ", ".join(self.missing))
        if self.renamed:
            parts.append("renamed?: " + ", ".join(f"{old} -> {new}" for old, new in self.renamed))
        if self.retyped:
            parts.append("retyped?: " + ", ".join(f"{name} ({share:.0%} not {typ})"
                                                  for name, typ, share in self.retyped))
        return "; ".join(parts) or "no drift"

    def with_retyped(self, retyped: Sequence[tuple[str, str, float]]) -> DriftReport:
        return DriftReport(self.policy, self.added, self.missing, self.renamed, tuple(retyped))

    def as_dict(self) -> dict[str, object]:
        return {
            "policy": self.policy,
            "added": list(self.added),
            "missing": list(self.missing),
            "renamed": [{"catalog": old, "file": new} for old, new in self.renamed],
            "retyped": [{"item": n, "expected": t, "share_not_matching": round(s, 4)} for n, t, s in self.retyped],
        }


@dataclass(frozen=True)
class ColumnPlan:
    """Where each catalog item sits in a record, and what to do with the other columns."""

    #: Per catalog item (catalog order): its index in a record, or None when the file lacks it.
    positions: tuple[int | None, ...]
    #: (label, index) of columns the catalog does not know.
    extra: tuple[tuple[str, int], ...]
    width: int
    report: DriftReport
    #: Labels of the extra columns that become bronze columns (`evolve` only).
    evolved: tuple[str, ...] = field(default=())

    def split(self, record: Sequence[str | None]) -> tuple[list[str | None], dict[str, str | None]]:
        """A record's values in catalog order, and its extra columns by label."""
        n = len(record)
        values = [record[p] if p is not None and p < n else None for p in self.positions]
        extras = {label: record[i] for label, i in self.extra if i < n}
        return values, extras


def plan_columns(header: Sequence[str], resource: Resource, file: str, *, line: int = 1,
                 absent_is_null: bool = False) -> ColumnPlan:
    """Compare a file's column labels with the catalog and apply the resource's drift policy.

    `absent_is_null` is for JSON lines, where leaving out a key is how a null is written: missing
    keys are then reported but do not make `freeze` reject the file.

    Raises:
        SchemaMismatch: a repeated column, or any drift under `freeze`; the message lists what differs.
    """
    labels = [clean_label(h) for h in header]
    by_label = {label_of(i, resource): i for i in resource.items}
    repeated = sorted({h for h in labels if h and labels.count(h) > 1})
    if repeated:
        raise SchemaMismatch("repeated columns: " + ", ".join(repeated) + " (which one is meant is ambiguous); "
                             + _entry_of(resource), file=file, line=line)
    index = {h: k for k, h in enumerate(labels)}
    added = tuple(h for h in labels if h not in by_label)
    missing = tuple(lbl for lbl in by_label if lbl not in index)
    policy = resource.source.drift
    report = DriftReport(policy, added, missing, _renames(missing, added, labels, list(by_label)))
    if policy == "freeze" and (added or (missing and not absent_is_null)):
        error = SchemaMismatch(f"header does not match the catalog ({report.describe()}; "
                               f"{_items_named(report, by_label)}); {_entry_of(resource)}, whose drift policy is "
                               "freeze, so the file is rejected whole", file=file, line=line)
        error.drift = report
        raise error
    positions = tuple(index.get(label_of(i, resource)) for i in resource.items)
    extra = tuple((h, index[h]) for h in added)
    evolved = added if policy == "evolve" else ()
    return ColumnPlan(positions, extra, len(labels), report, evolved)


def _entry_of(resource: Resource) -> str:
    """Where the catalog says what the header should be: the resource and its YAML file."""
    return f"catalog entry of resource {resource.name}" + (f" ({resource.file})" if resource.file else "")


def _items_named(report: DriftReport, by_label: dict[str, DataItem]) -> str:
    """The catalog items behind the missing (or probably renamed) labels, so an engineer finds them in the YAML."""
    named = [f"{label} = item {by_label[label].name}" for label in report.missing if label in by_label]
    return ("catalog items not in the file: " + ", ".join(named)) if named else "every catalog item is in the file"


def _renames(missing: Sequence[str], added: Sequence[str], labels: Sequence[str],
             catalog_order: Sequence[str]) -> tuple[tuple[str, str], ...]:
    """Pairs (missing, added) that look like one column renamed: same position or similar label."""
    pairs: list[tuple[str, str]] = []
    free = list(added)
    for old in missing:
        same_place = [new for new in free
                      if catalog_order.index(old) < len(labels) and labels[catalog_order.index(old)] == new]
        similar = sorted(free, key=lambda new: -difflib.SequenceMatcher(None, old, new).ratio())
        best = same_place[0] if same_place else next(
            (new for new in similar if difflib.SequenceMatcher(None, old, new).ratio() >= RENAME_SIMILARITY), None)
        if best is not None:
            pairs.append((old, best))
            free.remove(best)
    return tuple(pairs)


class TypeSampler:
    """Watches the first values of each catalog item to spot a column whose content changed type."""

    def __init__(self, resource: Resource):
        self._checks = [(k, label_of(i, resource), i.type, _LOOKS_LIKE[i.type])
                        for k, i in enumerate(resource.items) if i.type in _LOOKS_LIKE]
        self._seen = {k: 0 for k, *_ in self._checks}
        self._failed = {k: 0 for k, *_ in self._checks}
        self._rows = 0

    def observe(self, values: Sequence[str | None]) -> None:
        if self._rows >= RETYPE_SAMPLE:
            return
        self._rows += 1
        for k, _label, _typ, pattern in self._checks:
            value = values[k]
            if value is None or not value.strip():
                continue
            self._seen[k] += 1
            self._failed[k] += pattern.search(value) is None

    def retyped(self) -> list[tuple[str, str, float]]:
        """(label, expected type, share failing) of columns where most sampled values fail."""
        result: list[tuple[str, str, float]] = []
        for k, label, typ, _ in self._checks:
            seen = self._seen[k]
            if seen >= RETYPE_MIN_VALUES and self._failed[k] / seen >= RETYPE_SHARE:
                result.append((label, typ, self._failed[k] / seen))
        return result

