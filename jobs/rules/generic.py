"""Generic rules: presence, sets, ranges, lengths, patterns, field ordering."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pyspark.sql import Column, Window
from pyspark.sql import functions as F

from jobs.rules.registry import RuleContext, register

#: below this many values `Column.isin` is as cheap; above it, one py4j call per value adds up
#: (3,000 county codes cost ~2 s of plan building per conform pass)
MANY_VALUES = 64
_SEPARATOR = "\u0001"


def isin_strings(value: Column, values: Sequence[str]) -> Column:
    """`value IN (values)` for a long list of strings, built in the JVM with a handful of py4j calls.

    PySpark's `isin` makes one literal Column per value through py4j; this hands the list over as one
    string, splits it in the JVM and calls `Column.isInCollection` (the same INSET hash lookup a long
    `isin` becomes).
    """
    values = [str(v) for v in values]
    if len(values) < MANY_VALUES or any(v == "" or _SEPARATOR in v for v in values):
        return value.isin(values)
    from pyspark import SparkContext

    jvm: Any = SparkContext._active_spark_context._jvm  # type: ignore[union-attr]
    # StringTokenizer + Collections.list: a java.util.List from one string in two calls (py4j will not
    # hand a String[] to a varargs method)
    collection = jvm.java.util.Collections.list(jvm.java.util.StringTokenizer(_SEPARATOR.join(values), _SEPARATOR))
    return Column(value._jc.isInCollection(collection))  # type: ignore[operator]


def detail(en: Column | str = "", zh: Column | str | None = None) -> Column:
    """A failure's detail in English and Chinese (`struct<en, zh>`): the quarantine keeps both messages
    whole, so a department reading only the Chinese one still learns the line, the value or the bound.
    `zh` defaults to `en` for details that need no translation (a list of codes, a pattern)."""
    en_col = en if isinstance(en, Column) else F.lit(en)
    zh_col = en_col if zh is None else zh if isinstance(zh, Column) else F.lit(zh)
    return F.struct(en_col.cast("string").alias("en"), zh_col.cast("string").alias("zh"))


def not_judged() -> Column:
    """A rule that judges nothing here (its table does not exist yet): a null of the detail's type."""
    return F.lit(None).cast("struct<en:string,zh:string>")


def fail_when(condition: Column, en: Column | str = "", zh: Column | str | None = None) -> Column:
    """Null when `condition` is false or null, else the detail (see `detail`)."""
    return F.when(F.coalesce(condition, F.lit(False)), detail(en, zh))


@register("not_null")
def not_null(value: Column, ctx: RuleContext) -> Column:
    return fail_when(value.isNull())


@register("empty")
def empty(value: Column, ctx: RuleContext) -> Column:
    """The value must be missing (with `when`: e.g. no resident ID on an enterprise's application)."""
    return fail_when(value.isNotNull(), "")


@register("in_set")
def in_set(value: Column, ctx: RuleContext, *, values: Sequence[object]) -> Column:
    allowed = [str(v) for v in values]
    listed = " / ".join(allowed)
    return fail_when(~isin_strings(value.cast("string"), allowed), f"allowed: {listed}", f"允许的取值：{listed}")


@register("range")
def in_range(value: Column, ctx: RuleContext, *, min: float | None = None, max: float | None = None) -> Column:
    cond = F.lit(False)
    if min is not None:
        cond = cond | (value < F.lit(min))
    if max is not None:
        cond = cond | (value > F.lit(max))
    low = "-inf" if min is None else min
    high = "inf" if max is None else max
    return fail_when(cond, f"expected between {low} and {high}", f"应在 {low} 与 {high} 之间")


@register("length")
def length(value: Column, ctx: RuleContext, *, min: int | None = None, max: int | None = None) -> Column:
    n = F.char_length(value.cast("string"))
    cond = F.lit(False)
    if min is not None:
        cond = cond | (n < min)
    if max is not None:
        cond = cond | (n > max)
    upper_zh = max if max is not None else "不限"
    return fail_when(cond,
                     F.concat(F.lit("length "), n.cast("string"), F.lit(f", expected {min or 0}..{max or 'any'}")),
                     F.concat(F.lit("长度为 "), n.cast("string"), F.lit(f"，应为 {min or 0} 至 {upper_zh}")))


@register("unique")
def unique(value: Column, ctx: RuleContext, *, scope: str = "batch") -> Column:
    """No two rows of the batch share a value (every repeat fails, naming the first line); with
    `scope: silver`, neither may a row take a value silver already holds under another primary key."""
    window = Window.partitionBy(value).orderBy("_row_number")
    first_line = F.first("_row_number").over(window).cast("string")
    repeated = fail_when(value.isNotNull() & (F.row_number().over(window) > 1),
                         F.concat(F.lit("also at line "), first_line),
                         F.concat(F.lit("与第 "), first_line, F.lit(" 行重复")))
    if scope != "silver" or ctx.item not in ctx.silver_keys or ctx.row_key is None:
        return repeated
    low, high = ctx.silver_keys[ctx.item]
    taken = low.isNotNull() & ((low != ctx.row_key) | (high != ctx.row_key))
    other = F.when(low != ctx.row_key, low).otherwise(high)
    return F.coalesce(repeated, fail_when(taken, F.concat(F.lit("already in silver under key "), other),
                                          F.concat(F.lit("已存在于 silver，主键为 "), other)))


@register("regex")
def regex(value: Column, ctx: RuleContext, *, pattern: str) -> Column:
    return fail_when(~value.cast("string").rlike(pattern), f"pattern {pattern}", f"应符合格式 {pattern}")


@register("references")
def references(value: Column, ctx: RuleContext, *, resource: str, item: str) -> Column:
    """The value names a record of another resource (an instruction's appeal): it must be in that
    resource's silver table. Not judged while that table does not exist (its first load is pending)."""
    found = ctx.references.get(ctx.item)
    if found is None:
        return not_judged()
    return fail_when(value.isNotNull() & found.isNull(), f"silver.{resource} holds no such {item}",
                     f"silver.{resource} 中没有该 {item}")


@register("not_before")
def not_before(value: Column, ctx: RuleContext, *, field: str, other: str) -> Column:
    """Cross-field order: `field` must not be earlier than `other` (e.g. finished >= received). When
    either is a date, both are compared as dates: a case decided on the day it was filed at 10:00 is
    not decided before it was filed."""
    later, earlier = ctx.column(field), ctx.column(other)
    if "date" in (ctx.types.get(field), ctx.types.get(other)):
        later, earlier = F.to_date(later), F.to_date(earlier)
    return fail_when(later < earlier,
                     F.concat(F.lit(f"{field} is earlier than {other} ("), earlier.cast("string"), F.lit(")")),
                     F.concat(F.lit(f"{field} 早于 {other}（"), earlier.cast("string"), F.lit("）")))
