"""Spark SQL text from Python values: the one place literals and identifiers are quoted.

The conform pass is built as SQL text and handed to Spark once per output column. Building it from
PySpark `Column` objects costs one py4j round trip per function, literal and alias: about 17,000 round
trips (5-6 s of two cores) for one resource's rules, paid again for every batch. As text, the whole
pass is a handful of calls and the JVM parses it in milliseconds. Every helper returns a parenthesised
expression, so helpers nest without precedence surprises.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any


def sql_literal(value: Any) -> str:
    """A Spark SQL literal of a Python value (string escapes as Spark's parser reads them)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    text = str(value).replace("\\", "\\\\").replace("'", "\\'")
    return f"'{text}'"


def sql_column(name: str) -> str:
    """A back-quoted column name."""
    return "`" + name.replace("`", "``") + "`"


def lit(value: Any) -> str:
    """A typed literal: NULL, DATE, TIMESTAMP_NTZ, DOUBLE for floats (as `F.lit` types them), else `sql_literal`."""
    if value is None:
        return "NULL"
    if isinstance(value, datetime):
        return f"TIMESTAMP_NTZ'{value.isoformat(sep=' ')}'"
    if isinstance(value, date):
        return f"DATE'{value.isoformat()}'"
    if isinstance(value, float):
        return f"{value!r}D" if math.isfinite(value) else f"CAST('{value!r}' AS DOUBLE)"
    return sql_literal(value)


def call(function: str, *args: str) -> str:
    return f"{function}({', '.join(args)})"


def cast(expr: str, to: str) -> str:
    return f"CAST({expr} AS {to})"


def try_cast(expr: str, to: str) -> str:
    return f"TRY_CAST({expr} AS {to})"


def when(*branches: tuple[str, str], otherwise: str | None = None) -> str:
    """`CASE WHEN c1 THEN v1 ... [ELSE otherwise] END` (NULL when no branch matches and no `otherwise`)."""
    cases = " ".join(f"WHEN {c} THEN {v}" for c, v in branches)
    tail = f" ELSE {otherwise}" if otherwise is not None else ""
    return f"(CASE {cases}{tail} END)"


def not_(expr: str) -> str:
    return f"(NOT {expr})"


def and_(*exprs: str) -> str:
    return "(" + " AND ".join(exprs) + ")" if exprs else "true"


def or_(*exprs: str) -> str:
    return "(" + " OR ".join(exprs) + ")" if exprs else "false"


def is_null(expr: str) -> str:
    return f"({expr} IS NULL)"


def is_not_null(expr: str) -> str:
    return f"({expr} IS NOT NULL)"


def binary(left: str, op: str, right: str) -> str:
    return f"({left} {op} {right})"


def concat(*parts: str) -> str:
    return call("concat", *parts)


def coalesce(*exprs: str) -> str:
    return call("coalesce", *exprs)


def rlike(expr: str, pattern: str) -> str:
    return f"({expr} RLIKE {sql_literal(pattern)})"


def isin(expr: str, values: Iterable[Any]) -> str:
    """`expr IN (...)`; Spark's optimizer turns a long list into one hash-set lookup (InSet)."""
    listed = [lit(v) for v in values]
    return f"({expr} IN ({', '.join(listed)}))" if listed else "false"


def named_struct(**fields: str) -> str:
    return call("named_struct", *[part for name, expr in fields.items() for part in (sql_literal(name), expr)])


def alias(expr: str, name: str) -> str:
    return f"{expr} AS {sql_column(name)}"
