"""The baseline suite derives from the catalog deterministically, and the checked-in file is current."""

import json

from jobs.catalog.suite import baseline_expectations, render, suite_document, suite_path
from jobs.settings import EXPECTATIONS_DIR


def test_checked_in_suite_is_current(catalog):
    for res in catalog.resources.values():
        path = suite_path(EXPECTATIONS_DIR, res)
        assert path.exists(), f"{path} missing: run `citylake expectations`"
        existing = json.loads(path.read_text(encoding="utf-8"))
        assert render(suite_document(res, existing)) == path.read_text(encoding="utf-8")


def test_baseline_covers_required_keys_and_sets(appeals):
    exps = baseline_expectations(appeals)
    types = {(e["type"], e["kwargs"].get("column")) for e in exps}
    assert ("expect_column_values_to_be_unique", "appeal_id") in types
    assert ("expect_column_values_to_not_be_null", "received_at") in types
    assert ("expect_column_values_to_be_in_set", "channel") in types
    assert ("expect_column_values_to_be_between", "satisfaction") in types
    assert all(e["severity"] in ("critical", "warning") for e in exps)


def test_hand_written_expectations_survive_regeneration(appeals):
    custom = {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "street_code", "mostly": 0.9},
              "severity": "warning", "meta": {"owner": "data team"}}
    doc = suite_document(appeals, {"expectations": [*baseline_expectations(appeals)[:2], custom]})
    assert doc["expectations"][-1] == custom
    assert len(doc["expectations"]) == len(baseline_expectations(appeals)) + 1


def test_row_count_bounds_come_from_the_recent_batches():
    from jobs.catalog.suite import with_history

    spec = {"type": "expect_table_row_count_to_be_between", "kwargs": {"min_value": 0, "max_value": None},
            "severity": "warning", "meta": {"citylake": "hand-written",
                                            "relative_to_recent": {"batches": 3, "tolerance": 0.5}}}
    doc = {"name": "r", "expectations": [spec, {"type": "expect_column_values_to_not_be_null",
                                                "kwargs": {"column": "a"}, "meta": {}}]}
    filled = with_history(doc, [100, 200, 301, 10_000])
    assert filled["expectations"][0]["kwargs"] == {"min_value": 100, "max_value": 301}
    assert filled["expectations"][0]["meta"]["history"] == {"batches": 3, "counts": [100, 200, 301]}
    assert filled["expectations"][1] == doc["expectations"][1]
    assert doc["expectations"][0]["kwargs"] == {"min_value": 0, "max_value": None}  # the file's suite is untouched
    assert with_history(doc, [])["expectations"][0]["kwargs"] == {"min_value": 0, "max_value": None}
