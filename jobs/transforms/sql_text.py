"""Spark SQL text from Python values: the one place literals and identifiers are quoted."""

from __future__ import annotations

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
