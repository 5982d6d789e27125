"""package_search's query language: OR clauses, Solr ranges and date math, refused input."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from jobs.publish.ckan_params import SearchQueryError
from jobs.publish.ckan_query import field_matches, parse, solr_date

NOW = datetime(2026, 3, 31, 10, 30, 15, tzinfo=UTC)


def test_or_joins_its_neighbours_and_the_rest_is_anded():
    clauses = parse("a b OR c -d NOT e", what="q")
    assert [[t.values[0] for t in c] for c in clauses] == [["a"], ["b", "c"], ["d"], ["e"]]
    assert [c[0].negated for c in clauses] == [False, False, True, True]
    assert [[t.values for t in c] for c in parse("tags:(x OR y) || z", what="fq")] == [[("x", "y"), ("z",)]]


@pytest.mark.parametrize("text, expected", [
    ("2026-01-01T00:00:00Z", datetime(2026, 1, 1)),
    ("2026-01-01T00:00:00.250Z", datetime(2026, 1, 1, 0, 0, 0, 250000)),
    ("NOW", datetime(2026, 3, 31, 10, 30, 15)),
    ("NOW-1DAY", datetime(2026, 3, 30, 10, 30, 15)),
    ("NOW/DAY", datetime(2026, 3, 31)),
    ("NOW-1MONTH/DAY", datetime(2026, 2, 28)),  # the 31st of March, a month back: the end of February
    ("NOW/YEAR+1YEARS", datetime(2027, 1, 1)),
    ("2024-02-29T12:00:00Z+1YEAR", datetime(2025, 2, 28, 12)),
    ("NOW+90MINUTES/HOUR", datetime(2026, 3, 31, 12)),
])
def test_solr_dates_and_date_math(text, expected):
    assert solr_date(text, now=NOW) == expected


@pytest.mark.parametrize("bad", ["2026-01-01", "2026-01-01T00:00:00", "yesterday", "NOW-1FORTNIGHT", "NOW+"])
def test_dates_solr_would_refuse_are_refused(bad):
    with pytest.raises(SearchQueryError, match="date"):
        solr_date(bad, now=NOW)


def test_ranges_inclusive_exclusive_and_open():
    def hits(fq: str, value: str) -> bool:
        (clause,) = parse(fq, what="fq")
        return field_matches((value,), clause[0], now=NOW)

    at = "2026-01-01T00:00:00"
    assert hits("metadata_modified:[2026-01-01T00:00:00Z TO *]", at)
    assert not hits("metadata_modified:{2026-01-01T00:00:00Z TO *]", at)
    assert hits("metadata_modified:[* TO 2026-01-01T00:00:00Z]", at)
    assert not hits("metadata_modified:[* TO 2026-01-01T00:00:00Z}", at)
    assert hits("metadata_modified:[NOW-1YEAR TO NOW]", "2025-12-31T23:59:59.999999")
    assert not hits("metadata_modified:[NOW-1DAY TO NOW]", at)
    assert hits("version:[2 TO 10]", "3") and not hits("version:[2 TO 10]", "11")  # numbers as numbers
    assert hits("name:[a TO c]", "bus") and not hits("name:[a TO b]", "bus")


@pytest.mark.parametrize("bad", ["OR a", "a OR", "a OR OR b", "[1 TO 2]", "x:[1 TO", "x:[1 2]", "x:(a"])
def test_malformed_queries_are_refused(bad):
    with pytest.raises(SearchQueryError):
        parse(bad, what="fq")


def test_the_serving_address_is_the_base_unless_a_public_one_is_configured(tmp_path):
    from jobs.publish.ckan import serving_base_url
    from jobs.settings import Settings

    assert serving_base_url(Settings(home=tmp_path), "127.0.0.1", 9000) == "http://127.0.0.1:9000/"
    assert serving_base_url(Settings(home=tmp_path), "::1", 9000) == "http://[::1]:9000/"
    public = Settings(home=tmp_path, open_base_url="https://data.example.gov.cn/")
    assert serving_base_url(public, "0.0.0.0", 8765) == "https://data.example.gov.cn/"
