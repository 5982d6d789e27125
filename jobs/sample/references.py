"""Reference lists a sample export can be drawn from row by row (`sample: {reference: NAME}` on the
resource, `sample: {kind: reference, field: F}` on each item), built from the packaged reference data.

A department that delivers a reference list (the civil-affairs bureau's division list) sends the real
list, not invented rows: the sample is that list, in its order, with the generator's usual defects.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cache
from typing import Any

from jobs.rules import divisions

CHENGDU = "5101"
#: the edition of the packaged division codes (jobs/reference/README.md)
DIVISIONS_YEAR = 2023
#: the five central districts: their communities are 主城区 (111), elsewhere 镇中心区 (121)
CENTRAL_DISTRICTS = ("510104", "510105", "510106", "510107", "510108")
REMARKS = {
    "510117": "2016年撤销郫县，设立郫都区",
    "510118": "2020年撤销新津县，设立新津区",
    "510185": "2016年由资阳市代管改为成都市代管",
}


def _county_type(name: str) -> str:
    return "市辖区" if name.endswith("区") else "县" if name.endswith("县") else "县级市"


def _township_type(name: str) -> str:
    return "街道" if name.endswith("街道") else "镇" if name.endswith("镇") else "乡"


def _village_type(name: str) -> str:
    return "社区" if "社区" in name[-6:] else "村"


@cache
def chengdu_divisions() -> tuple[Mapping[str, Any], ...]:
    """Chengdu's division list at four levels, as the civil-affairs bureau exports it: the city, then
    each county followed by its townships, each township followed by its villages and communities."""
    names = divisions.names()
    city_name = "成都市"
    rows: list[Mapping[str, Any]] = [{
        "code": CHENGDU, "name": city_name, "level": "市", "division_type": "地级市", "parent_code": None,
        "full_name": f"四川省{city_name}", "urban_rural_code": None, "data_year": DIVISIONS_YEAR, "remarks": None,
    }]
    for county in sorted(divisions.codes_at("county", CHENGDU)):
        county_full = f"四川省{city_name}{names[county]}"
        rows.append({"code": county, "name": names[county], "level": "区县",
                     "division_type": _county_type(names[county]), "parent_code": CHENGDU,
                     "full_name": county_full, "urban_rural_code": None,
                     "data_year": DIVISIONS_YEAR, "remarks": REMARKS.get(county)})
        for town in divisions.townships_of(county):
            town_full = county_full + names[town]
            rows.append({"code": town, "name": names[town], "level": "乡镇街道",
                         "division_type": _township_type(names[town]), "parent_code": county, "full_name": town_full,
                         "urban_rural_code": None, "data_year": DIVISIONS_YEAR, "remarks": None})
            for village in divisions.villages_of(town):
                kind = _village_type(names[village])
                urban = ("111" if county in CENTRAL_DISTRICTS else "121") if kind == "社区" else "220"
                rows.append({"code": village, "name": names[village], "level": "村社区", "division_type": kind,
                             "parent_code": town, "full_name": town_full + names[village],
                             "urban_rural_code": urban, "data_year": DIVISIONS_YEAR, "remarks": None})
    return tuple(rows)


REFERENCE_LISTS: dict[str, Callable[[], tuple[Mapping[str, Any], ...]]] = {
    "chengdu_divisions": chengdu_divisions,
}
