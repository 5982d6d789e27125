"""The one-pass engine agrees with Great Expectations itself on every expectation type it computes."""

from __future__ import annotations

import pytest

from jobs.io.quality import _run_with_gx, gx_context
from jobs.transforms.expectation_metrics import evaluate, supported

pytestmark = pytest.mark.spark

ROWS = [
    ("a", 1, "GD01", None),
    ("b", 2, "GD02", "x"),
    ("c", 7, "XX03", "y"),
    ("c", None, None, "y"),
    (None, 5, "GD05", "zz"),
]

SPECS = [
    ("expect_column_values_to_not_be_null", {"column": "k"}),
    ("expect_column_values_to_not_be_null", {"column": "k", "mostly": 0.8}),
    ("expect_column_values_to_not_be_null", {"column": "t"}),
    ("expect_column_values_to_be_unique", {"column": "k"}),
    ("expect_column_values_to_be_unique", {"column": "s"}),
    ("expect_column_values_to_be_in_set", {"column": "k", "value_set": ["a", "b", "c"]}),
    ("expect_column_values_to_be_in_set", {"column": "t", "value_set": ["x", "y"]}),
    ("expect_column_values_to_be_in_set", {"column": "t", "value_set": ["x", "y"], "mostly": 0.7}),
    ("expect_column_values_to_be_between", {"column": "n", "min_value": 1, "max_value": 5}),
    ("expect_column_values_to_be_between", {"column": "n", "min_value": 1, "max_value": 7}),
    ("expect_column_values_to_be_between", {"column": "n", "min_value": 1, "max_value": 7, "strict_max": True}),
    ("expect_column_values_to_match_regex", {"column": "s", "regex": "^GD[0-9]+$"}),
    ("expect_column_values_to_match_regex", {"column": "s", "regex": "^GD[0-9]+$", "mostly": 0.75}),
    # written into Spark SQL: backslashes and quotes must reach the regex engine and the set unchanged
    ("expect_column_values_to_match_regex", {"column": "s", "regex": r"^GD\d+$"}),
    ("expect_column_values_to_match_regex", {"column": "t", "regex": r"^[xy\\']$"}),
    ("expect_column_values_to_be_in_set", {"column": "t", "value_set": ["x", "y", "it's", "a\\b"]}),
    ("expect_column_value_lengths_to_be_between", {"column": "t", "max_value": 1}),
    ("expect_column_value_lengths_to_be_between", {"column": "t", "min_value": 1, "max_value": 2}),
    ("expect_table_row_count_to_be_between", {"min_value": 1, "max_value": 10}),
    ("expect_table_row_count_to_be_between", {"min_value": 6}),
    ("expect_table_columns_to_match_set", {"column_set": ["k", "n", "s", "t"], "exact_match": True}),
    ("expect_table_columns_to_match_set", {"column_set": ["k", "n"], "exact_match": True}),
    ("expect_table_columns_to_match_set", {"column_set": ["k", "n"], "exact_match": False}),
    ("expect_column_mean_to_be_between", {"column": "n", "min_value": 3, "max_value": 4}),
    ("expect_column_mean_to_be_between", {"column": "n", "min_value": 3.75}),
    ("expect_column_mean_to_be_between", {"column": "n", "min_value": 3.75, "strict_min": True}),
    ("expect_column_mean_to_be_between", {"column": "n", "max_value": 3}),
]


@pytest.fixture(scope="module")
def frame(spark):
    return spark.createDataFrame(ROWS, "k string, n long, s string, t string").cache()


@pytest.fixture(scope="module")
def gx_results(frame, tmp_path_factory):
    specs = [{"type": t, "kwargs": kw, "severity": "critical", "meta": {"index": k}} for k, (t, kw) in enumerate(SPECS)]
    context = gx_context(tmp_path_factory.mktemp("gx"))
    return _run_with_gx(context, frame, {"name": "equivalence", "expectations": specs}, None)


@pytest.mark.parametrize("index", range(len(SPECS)), ids=[f"{t}-{k}" for k, (t, _) in enumerate(SPECS)])
def test_same_verdict_and_counts_as_gx(frame, gx_results, index):
    t, kw = SPECS[index]
    assert supported({"type": t, "kwargs": kw})
    mine = evaluate(frame, [{"type": t, "kwargs": kw}])[0]
    theirs = next(r for r in gx_results if (r.expectation_config.meta or {}).get("index") == index)
    assert theirs.expectation_config.type == t
    assert mine.success == theirs.success, (mine, theirs.result)
    for key in ("element_count", "missing_count", "observed_value"):
        if key in theirs.result:
            assert mine.result[key] == theirs.result[key], key
    if "unexpected_count" in theirs.result and t != "expect_column_values_to_be_unique":
        assert mine.result["unexpected_count"] == theirs.result["unexpected_count"]


def test_one_aggregation_for_the_whole_suite(frame, spark):
    specs = [{"type": t, "kwargs": kw} for t, kw in SPECS]
    tracker = spark.sparkContext.statusTracker()
    before = set(tracker.getJobIdsForGroup(None))
    evaluate(frame, specs)
    jobs = set(tracker.getJobIdsForGroup(None)) - before
    # one aggregation query; adaptive execution runs its stages (the distinct count adds one) as jobs
    assert 1 <= len(jobs) <= 3, jobs


def test_row_conditions_are_left_to_gx():
    assert not supported({"type": "expect_column_values_to_not_be_null",
                          "kwargs": {"column": "k", "row_condition": 'col("n")>1', "condition_parser": "spark"}})
    assert not supported({"type": "expect_column_median_to_be_between", "kwargs": {"column": "n"}})
