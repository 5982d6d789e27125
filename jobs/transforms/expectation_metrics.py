"""Great Expectations' column and table expectations, computed in one Spark aggregation.

GX on Spark resolves map metrics one expectation at a time, so a suite of 20 expectations scans a
batch 20 times. For the expectation types the catalog generates, this module computes what GX
reports (element count, missing count, unexpected count, observed value) in a single `agg` over
the batch, with GX's semantics: nulls are ignored by every column-map expectation except
`not_be_null`, and `mostly` is the share of non-null values that must pass. Expectation types not
listed here are left to GX itself.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs.sql_text import sql_column, sql_literal


@dataclass(frozen=True)
class Outcome:
    """What GX would report for one expectation."""

    success: bool
    result: dict[str, Any]


def _in_set(col: str, kw: Mapping[str, Any]) -> str:
    return f"NOT ({col} IN ({', '.join(sql_literal(v) for v in kw['value_set'])}))"


def _bounds(value: str, kw: Mapping[str, Any]) -> str:
    cond = []
    low, high = kw.get("min_value"), kw.get("max_value")
    if low is not None:
        cond.append(f"{value} {'<=' if kw.get('strict_min') else '<'} {sql_literal(low)}")
    if high is not None:
        cond.append(f"{value} {'>=' if kw.get('strict_max') else '>'} {sql_literal(high)}")
    return " OR ".join(cond) or "false"


def _between(col: str, kw: Mapping[str, Any]) -> str:
    return _bounds(col, kw)


def _regex(col: str, kw: Mapping[str, Any]) -> str:
    return f"NOT (CAST({col} AS STRING) RLIKE {sql_literal(kw['regex'])})"


def _lengths(col: str, kw: Mapping[str, Any]) -> str:
    # strict bounds do not exist for lengths in GX: inclusive both ways
    return _bounds(f"char_length(CAST({col} AS STRING))", {"min_value": kw.get("min_value"),
                                                            "max_value": kw.get("max_value")})


#: Column-map expectations: the SQL predicate that marks a non-null value unexpected. The whole suite
#: becomes one `agg` of SQL expressions: a few calls into the JVM instead of hundreds of Column calls.
COLUMN_MAP: dict[str, Callable[[str, Mapping[str, Any]], str]] = {
    "expect_column_values_to_be_in_set": _in_set,
    "expect_column_values_to_be_between": _between,
    "expect_column_values_to_match_regex": _regex,
    "expect_column_value_lengths_to_be_between": _lengths,
}
OTHER = (
    "expect_column_values_to_not_be_null",
    "expect_column_values_to_be_unique",
    "expect_table_row_count_to_be_between",
    "expect_table_columns_to_match_set",
    "expect_column_mean_to_be_between",
)
SUPPORTED = frozenset(COLUMN_MAP) | frozenset(OTHER)


def _within(value: float, kw: Mapping[str, Any]) -> bool:
    """GX's bounds for aggregate expectations: inclusive unless `strict_min` / `strict_max`."""
    low, high = kw.get("min_value"), kw.get("max_value")
    if low is not None and (value <= low if kw.get("strict_min") else value < low):
        return False
    return not (high is not None and (value >= high if kw.get("strict_max") else value > high))


def supported(spec: Mapping[str, Any]) -> bool:
    """True when this module computes the expectation (no row_condition, a known type)."""
    kwargs = spec.get("kwargs") or {}
    return spec["type"] in SUPPORTED and "row_condition" not in kwargs and "condition_parser" not in kwargs


def _map_result(element: int, missing: int, unexpected: int, mostly: float) -> Outcome:
    nonmissing = element - missing
    ratio = 1.0 if nonmissing == 0 else (nonmissing - unexpected) / nonmissing
    result: dict[str, Any] = {
        "element_count": element,
        "missing_count": missing,
        "missing_percent": 100.0 * missing / element if element else None,
        "unexpected_count": unexpected,
        "unexpected_percent": 100.0 * unexpected / nonmissing if nonmissing else None,
        "unexpected_percent_total": 100.0 * unexpected / element if element else None,
        "unexpected_percent_nonmissing": 100.0 * unexpected / nonmissing if nonmissing else None,
        "partial_unexpected_list": [],
    }
    return Outcome(success=ratio >= mostly, result=result)


def evaluate(df: DataFrame, specs: Sequence[Mapping[str, Any]]) -> list[Outcome]:
    """Outcomes of supported expectation specs (`{"type", "kwargs"}`) over `df`, in one aggregation.

    Raises:
        ValueError: a spec is not supported (check with `supported` first).
    """
    aggs: list[str] = ["count(1) AS rows"]
    plan: list[tuple[str, Mapping[str, Any], list[str]]] = []
    for k, spec in enumerate(specs):
        if not supported(spec):
            raise ValueError(f"{spec['type']} is not computed in one pass; leave it to GX")
        kw = spec.get("kwargs") or {}
        names: list[str] = []
        t = spec["type"]
        if t in COLUMN_MAP or t in ("expect_column_values_to_not_be_null", "expect_column_values_to_be_unique"):
            col = sql_column(kw["column"])
            names.append(f"m{k}")
            aggs.append(f"count_if({col} IS NULL) AS m{k}")
            if t in COLUMN_MAP:
                names.append(f"u{k}")
                aggs.append(f"count_if({col} IS NOT NULL AND coalesce({COLUMN_MAP[t](col, kw)}, false)) AS u{k}")
            elif t == "expect_column_values_to_be_unique":
                names.append(f"d{k}")
                aggs.append(f"count(DISTINCT {col}) AS d{k}")
        elif t == "expect_column_mean_to_be_between":
            names.append(f"a{k}")
            aggs.append(f"avg(CAST({sql_column(kw['column'])} AS DOUBLE)) AS a{k}")
        plan.append((t, kw, names))
    row = df.agg(*[F.expr(a) for a in aggs]).collect()[0]
    rows = int(row["rows"])
    out = []
    for t, kw, names in plan:
        mostly = float(kw.get("mostly", 1.0))
        if t in COLUMN_MAP:
            out.append(_map_result(rows, int(row[names[0]]), int(row[names[1]]), mostly))
        elif t == "expect_column_values_to_not_be_null":
            nulls = int(row[names[0]])
            res = _map_result(rows, 0, nulls, mostly)
            res.result.pop("missing_count"), res.result.pop("missing_percent")
            out.append(res)
        elif t == "expect_column_values_to_be_unique":
            missing, distinct = int(row[names[0]]), int(row[names[1]])
            # rows repeating an earlier value; GX counts every member of a repeated group instead,
            # which differs in the count but never in success.
            out.append(_map_result(rows, missing, rows - missing - distinct, mostly))
        elif t == "expect_table_row_count_to_be_between":
            low, high = kw.get("min_value"), kw.get("max_value")
            ok = (low is None or rows >= low) and (high is None or rows <= high)
            out.append(Outcome(success=ok, result={"observed_value": rows}))
        elif t == "expect_column_mean_to_be_between":
            mean = row[names[0]]
            out.append(Outcome(success=mean is not None and _within(float(mean), kw),
                               result={"observed_value": None if mean is None else float(mean)}))
        else:  # expect_table_columns_to_match_set
            expected, observed = list(kw["column_set"]), list(df.columns)
            exact = kw.get("exact_match", True)
            ok = set(observed) == set(expected) if exact else set(expected) <= set(observed)
            details = {"mismatched": {"unexpected": sorted(set(observed) - set(expected)),
                                      "missing": sorted(set(expected) - set(observed))}}
            out.append(Outcome(success=ok, result={"observed_value": observed, "details": details}))
    return out
