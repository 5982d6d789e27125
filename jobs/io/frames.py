"""Small helpers for reading results back from Spark."""

from __future__ import annotations

from pyspark.sql import DataFrame, Row


def single_row(df: DataFrame) -> Row:
    """The one row of an aggregation (Spark types `first()` as optional; an aggregate always has one)."""
    rows = df.take(1)
    if not rows:
        raise ValueError("expected one row, the query returned none")
    return rows[0]
