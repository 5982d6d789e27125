"""Administrative division codes (GB/T 2260 and the statistical village codes) for the rules.

Two sources: the reference data shipped with citylake (`jobs/reference/divisions`: provinces, cities and
counties of China, townships and villages of Chengdu) and, when the lake has it, the city's own list
(the catalog resource that `provides: divisions`, e.g. `silver.administrative_divisions`), which is
authoritative for the codes under its city: a village the civil-affairs bureau adds this year is valid
as soon as its list is in silver, without a new citylake release. `DivisionIndex` holds either.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
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
def village_codes() -> dict[str, str]:
    """Village / community code (12 digits) -> its township code (Chengdu)."""
    return {r["code"]: r["streetCode"] for r in _rows("villages_chengdu.csv")}


@cache
def names() -> dict[str, str]:
    """Code -> Chinese name for counties, Chengdu's townships and its villages."""
    out = {r["code"]: r["name"] for r in _rows("areas.csv")}
    out.update({r["code"]: r["name"] for r in _rows("streets_chengdu.csv")})
    out.update({r["code"]: r["name"] for r in _rows("villages_chengdu.csv")})
    return out


@cache
def province_codes() -> frozenset[str]:
    """Province-level codes, 2 digits (e.g. 51)."""
    return frozenset(r["code"] for r in _rows("provinces.csv"))


@cache
def city_codes() -> frozenset[str]:
    """Prefecture (city) level codes, 4 digits (e.g. 5101)."""
    return frozenset(r["code"] for r in _rows("cities.csv"))


LEVELS = ("province", "city", "county", "township", "village")
#: significant digits of a code at each level (provinces and cities may also come padded to 6)
DIGITS = {"province": 2, "city": 4, "county": 6, "township": 9, "village": 12}
#: how the city's division list names its levels (区划级别)
LEVEL_OF_ZH: Mapping[str, str] = {"省": "province", "市": "city", "区县": "county", "乡镇街道": "township",
                                  "村社区": "village"}


@dataclass(frozen=True)
class DivisionIndex:
    """The current codes of each level (short form: 51, 5101, 510104, 510104017, 510104017001)."""

    codes: Mapping[str, frozenset[str]]
    #: where the codes come from, for messages: "packaged reference" or a table name
    source: str = "packaged reference"

    def codes_at(self, level: str, within: str = "") -> frozenset[str]:
        """Codes of `level` under a prefix such as '5101'; provinces and cities also in the 6-digit form
        departments pad them to (510000, 510100)."""
        if level not in DIGITS:
            raise ValueError(f"unknown division level {level!r}; use one of {', '.join(LEVELS)}")
        pool = self.codes.get(level, frozenset())
        if level == "province":
            pool = pool | {c + "0000" for c in pool}
        elif level == "city":
            pool = pool | {c + "00" for c in pool}
        return frozenset(c for c in pool if c.startswith(within))

    def with_city_list(self, rows: Iterable[tuple[str, str]], source: str) -> DivisionIndex:
        """This index with a city's own list of (code, level) laid over it.

        The list replaces every county, township and village code under the cities it contains (a code
        the city dropped is no longer valid there); codes elsewhere in China keep coming from this index.
        """
        listed: dict[str, set[str]] = {level: set() for level in LEVELS}
        for code, level in rows:
            if level in listed and code:
                listed[level].add(code.strip())
        cities = tuple(sorted(listed["city"] | {c[:4] for c in listed["county"]}))
        if not cities:
            return self
        codes = {}
        for level in LEVELS:
            kept = self.codes.get(level, frozenset())
            if DIGITS[level] > DIGITS["city"]:
                kept = frozenset(c for c in kept if not c.startswith(cities))
            codes[level] = frozenset(kept | listed[level])
        return DivisionIndex(codes=codes, source=source)


@cache
def packaged_index() -> DivisionIndex:
    """The divisions shipped with citylake."""
    return DivisionIndex(codes={
        "province": province_codes(), "city": city_codes(), "county": county_codes(),
        "township": frozenset(township_codes()), "village": frozenset(village_codes()),
    })


def codes_at(level: str, within: str = "") -> frozenset[str]:
    """Codes of `level` under `within` in the packaged reference (see `DivisionIndex.codes_at`)."""
    return packaged_index().codes_at(level, within)


@cache
def townships_of(county: str) -> tuple[str, ...]:
    """Township / street codes of one county, sorted."""
    return tuple(sorted(c for c, parent in township_codes().items() if parent == county))


@cache
def villages_of(township: str) -> tuple[str, ...]:
    """Village / community codes of one township, sorted."""
    return tuple(sorted(c for c, parent in village_codes().items() if parent == township))
