"""How a resource is opened, beyond its per-field de-identification.

Two declarations of a catalog entry's `open:` block live here: the k-anonymity check over its
quasi-identifiers, and the aggregate open tables derived from its silver table (the indicators the
city reports: appeals by district x month x category, approval rates per district, ...). Pure Python.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

#: Aggregations a measure can use; `rate` is the share of rows whose `of` is true (booleans) or is
#: one of `values`; `count` counts rows (those matching `values` when given).
AggFunction = Literal["count", "count_distinct", "sum", "avg", "min", "max", "rate"]
AGG_FUNCTIONS: tuple[str, ...] = ("count", "count_distinct", "sum", "avg", "min", "max", "rate")

#: Which publishing zone an open type goes to; 不予开放 has none and never leaves the lake.
ZONES: Mapping[str, str | None] = {"无条件开放": "open", "有条件开放": "restricted", "不予开放": None}

DEFAULT_K = 5


@dataclass(frozen=True)
class Dimension:
    """A grouping column of an aggregate table: an item of the source, optionally generalised."""

    name: str
    title: str
    source: str
    generalize: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Measure:
    """A computed column of an aggregate table."""

    name: str
    title: str
    agg: AggFunction
    of: str | None = None
    values: tuple[str, ...] = ()
    digits: int | None = None


@dataclass(frozen=True)
class Aggregate:
    """An aggregate open table (统计数据集) published next to (or instead of) the detail table."""

    name: str
    code: str
    title: str
    title_en: str
    summary: str
    dimensions: tuple[Dimension, ...]
    measures: tuple[Measure, ...]
    #: the portal's bar chart: (dimension, measure)
    chart: tuple[str, str] | None = None
    #: cells counting fewer source rows than this are suppressed (small-cell protection)
    min_count: int = 1

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(d.name for d in self.dimensions) + tuple(m.name for m in self.measures)


@dataclass(frozen=True)
class OpenSpec:
    """The `open:` block of a catalog entry."""

    #: publish the row-level (detail) table; False publishes only the aggregates
    detail: bool = True
    k: int = DEFAULT_K
    #: published columns whose combination could single a person out; empty means no k-anonymity check
    quasi_identifiers: tuple[str, ...] = ()
    aggregates: tuple[Aggregate, ...] = ()
    #: an `scd2` resource's detail table carries every version (`valid_from`, `valid_to`), not the current rows
    history: bool = False
