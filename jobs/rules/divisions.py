"""Administrative division codes (GB/T 2260) from the reference data shipped with citylake."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from functools import cache
from importlib import resources


def _rows(name: str) -> Iterator[dict[str, str]]:
    text = resources.files("jobs.reference").joinpath("divisions", name).read_text(encoding="utf-8")
    yield from csv.DictReader(text.splitlines())


@cache
def county_codes() -> frozenset[str]:
    """Current county-level codes of all of China."""
    return frozenset(r["code"] for r in _rows("areas.csv"))


@cache
def retired_county_codes() -> frozenset[str]:
    """County codes that existed and were replaced; IDs issued before still carry them."""
    return frozenset(r["code"] for r in _rows("retired.csv"))


@cache
def township_codes() -> dict[str, str]:
    """Township / street code -> its county code (Chengdu)."""
    return {r["code"]: r["areaCode"] for r in _rows("streets_chengdu.csv")}


@cache
def names() -> dict[str, str]:
    """Code -> Chinese name for counties and Chengdu townships."""
    out = {r["code"]: r["name"] for r in _rows("areas.csv")}
    out.update({r["code"]: r["name"] for r in _rows("streets_chengdu.csv")})
    return out


@cache
def codes_at(level: str, within: str = "") -> frozenset[str]:
    """Current codes of a level ('county' or 'township') under a prefix such as '5101'."""
    if level == "county":
        pool: frozenset[str] | dict[str, str] = county_codes()
    elif level == "township":
        pool = township_codes()
    else:
        raise ValueError(f"unknown division level {level!r}; use county or township")
    return frozenset(c for c in pool if c.startswith(within))


@cache
def townships_of(county: str) -> tuple[str, ...]:
    """Township / street codes of one county, sorted."""
    return tuple(sorted(c for c, parent in township_codes().items() if parent == county))
