"""Division codes at five levels: the packaged reference, a city's own list laid over it, and the
city's list as the civil-affairs bureau exports it (the sample of `administrative_divisions`)."""

from __future__ import annotations

from collections import Counter

import pytest

from jobs.rules import divisions
from jobs.rules.divisions import DivisionIndex, packaged_index
from jobs.sample.references import chengdu_divisions


def test_packaged_reference_has_chengdus_villages_under_its_townships():
    villages = divisions.village_codes()
    assert len(villages) == 3047
    assert villages["510104017001"] == "510104017"  # 水井坊社区 in 锦官驿街道
    assert set(villages.values()) <= set(divisions.township_codes())
    assert divisions.villages_of("510104017")[0] == "510104017001"
    assert divisions.names()["510104017001"] == "水井坊社区居委会"


def test_codes_at_each_level_short_and_padded():
    index = packaged_index()
    assert {"51", "510000"} <= index.codes_at("province")
    assert {"5101", "510100"} <= index.codes_at("city", "51")
    assert "510104" in index.codes_at("county", "5101") and "110105" not in index.codes_at("county", "5101")
    assert "510104017" in index.codes_at("township", "510104")
    assert "510104017001" in index.codes_at("village", "5101")
    with pytest.raises(ValueError, match="unknown division level 'hamlet'"):
        index.codes_at("hamlet")


def test_a_city_list_replaces_the_codes_under_its_city_only():
    listed = [("5101", "city"), ("510104", "county"), ("510104017", "township"),
              ("510104017001", "village"), ("510104017099", "village")]  # 099: a community set up this year
    index = packaged_index().with_city_list(listed, source="silver.administrative_divisions")
    assert index.source == "silver.administrative_divisions"
    assert index.codes_at("village", "5101") == {"510104017001", "510104017099"}
    assert index.codes_at("county", "5101") == {"510104"}  # the others are not on this year's list
    assert "510104018" not in index.codes_at("township")
    assert "110105" in index.codes_at("county") and "51" in index.codes_at("province")  # elsewhere: unchanged


def test_a_list_without_a_city_row_names_its_city_by_its_counties():
    index = packaged_index().with_city_list([("510104", "county")], source="t")
    assert index.codes_at("county", "5101") == {"510104"}


def test_an_empty_list_changes_nothing():
    assert packaged_index().with_city_list([], source="t") is packaged_index()


def test_index_is_plain_data():
    index = DivisionIndex(codes={"county": frozenset({"510104"})}, source="t")
    assert index.codes_at("county") == {"510104"} and index.codes_at("village") == frozenset()


def test_the_city_list_sample_is_the_whole_list_in_the_bureaus_order():
    rows = chengdu_divisions()
    assert Counter(r["level"] for r in rows) == {"市": 1, "区县": 20, "乡镇街道": 261, "村社区": 3047}
    codes = [r["code"] for r in rows]
    assert len(set(codes)) == len(codes)
    position = {c: n for n, c in enumerate(codes)}
    for r in rows[1:]:
        assert position[r["parent_code"]] < position[r["code"]]  # every parent comes first
        assert r["code"].startswith(r["parent_code"])
        assert r["full_name"].startswith("四川省成都市") and r["full_name"].endswith(r["name"])
    assert {r["division_type"] for r in rows if r["level"] == "村社区"} == {"村", "社区"}
    assert {r["division_type"] for r in rows if r["level"] == "区县"} == {"市辖区", "县", "县级市"}
    assert next(r for r in rows if r["code"] == "510117")["remarks"] == "2016年撤销郫县，设立郫都区"
    assert {r["urban_rural_code"] for r in rows if r["level"] == "村社区"} <= {"111", "121", "220"}


def test_a_reference_list_export_is_the_whole_clean_list_whatever_is_asked(catalog):
    from datetime import date

    from jobs.sample.generator import generate

    rows, defects = generate(catalog.resource("administrative_divisions"), day=date(2026, 1, 5), rows=10)
    assert len(rows) == 3329 and defects == ()
    assert rows[0]["code"] == "5101" and rows[0]["parent_code"] == ""
    assert [r["code"] for r in rows] == [r["code"] for r in chengdu_divisions()]


def test_enforcement_cases_name_communities_inside_their_township(catalog):
    from datetime import date

    from jobs.sample.generator import generate

    rows, _ = generate(catalog.resource("enforcement_cases"), day=date(2026, 11, 26), rows=300, defect_rate=0)
    with_community = [r for r in rows if r["community_code"]]
    assert 100 < len(with_community) < 300
    assert all(divisions.village_codes()[r["community_code"]] == r["township_code"] for r in with_community)
