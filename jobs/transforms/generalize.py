"""Generalisation (GB/T 37964): publish a coarser value instead of the exact one.

A timestamp becomes its hour, date, month or year; a number its band ("30-39") or a rounded value
(coordinates to ~1 km); a hierarchical code its prefix (a township code cut to its district). The
same functions build aggregate tables' dimensions, so "month" means the same everywhere.
"""

from __future__ import annotations

from collections.abc import Mapping

from pyspark.sql import Column
from pyspark.sql import functions as F

DATE_PATTERNS = {"hour": "yyyy-MM-dd HH:00", "month": "yyyy-MM", "year": "yyyy"}


def generalize(value: Column, spec: Mapping[str, object]) -> Column:
    """`value` generalised as `spec` ({to: ..., width|digits|length: N}) says; nulls stay null."""
    to = spec["to"]
    if to == "date":
        return F.to_date(value)
    if to in DATE_PATTERNS:
        return F.date_format(value, DATE_PATTERNS[str(to)])
    if to == "band":
        width = int(spec["width"])  # type: ignore[call-overload]
        low = F.floor(value / width) * width
        return F.when(value.isNotNull(), F.format_string("%d-%d", low.cast("long"), (low + width - 1).cast("long")))
    if to == "round":
        return F.round(value, int(spec["digits"]))  # type: ignore[call-overload]
    if to == "prefix":
        return F.substring(value.cast("string"), 1, int(spec["length"]))  # type: ignore[call-overload]
    raise ValueError(f"unknown generalisation {to!r}")  # the loader admits only the targets above


def describe(spec: Mapping[str, object]) -> str:
    """How the field dictionary names the generalisation, e.g. `generalisation (band of 10)`."""
    to = spec["to"]
    detail = {"band": f"band of {spec.get('width')}", "round": f"rounded to {spec.get('digits')} digits",
              "prefix": f"first {spec.get('length')} characters"}.get(str(to), str(to))
    return f"generalisation ({detail})"
