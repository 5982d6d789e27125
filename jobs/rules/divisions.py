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
def province_codes() -> frozenset[str]:
    """Province-level codes, 2 digits (e.g. 51)."""
    return frozenset(r["code"] for r in _rows("provinces.csv"))


@cache
def city_codes() -> frozenset[str]:
    """Prefecture (city) level codes, 4 digits (e.g. 5101)."""
    return frozenset(r["code"] for r in _rows("cities.csv"))


LEVELS = ("province", "city", "county", "township")


@cache
def codes_at(level: str, within: str = "") -> frozenset[str]:
    """Current codes of a level under a prefix such as '5101'.

    Provinces and cities are accepted in their short form (51, 5101) and in the 6-digit form that
    departments pad them to (510000, 510100); counties have 6 digits, townships 9.
    """
    if level == "province":
        pool: frozenset[str] | dict[str, str] = province_codes() | {c + "0000" for c in province_codes()}
    elif level == "city":
        pool = city_codes() | {c + "00" for c in city_codes()}
    elif level == "county":
        pool = county_codes()
    elif level == "township":
        pool = township_codes()
    else:
        raise ValueError(f"unknown division level {level!r}; use one of {', '.join(LEVELS)}")
    return frozenset(c for c in pool if c.startswith(within))


@cache
def townships_of(county: str) -> tuple[str, ...]:
    """Township / street codes of one county, sorted."""
    return tuple(sorted(c for c, parent in township_codes().items() if parent == county))
