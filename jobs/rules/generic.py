"""Generic rules: presence, sets, ranges, lengths, patterns, field ordering.

Each rule returns Spark SQL text (see `jobs.rules.registry`); values and context columns arrive as
SQL expressions too.
"""

from __future__ import annotations

from collections.abc import Sequence

from jobs.rules.registry import RuleContext, register
from jobs.sql_text import (
    and_,
    binary,
    call,
    cast,
    coalesce,
    concat,
    is_not_null,
    is_null,
    isin,
    lit,
    named_struct,
    not_,
    or_,
    rlike,
    when,
)

#: the type of every rule's failure detail
DETAIL_TYPE = "STRUCT<en: STRING, zh: STRING>"


def detail(en: str | None = "", zh: str | None = None, *, en_sql: str | None = None,
           zh_sql: str | None = None) -> str:
    """A failure's detail in English and Chinese (`struct<en, zh>`): the quarantine keeps both messages
    whole, so a department reading only the Chinese one still learns the line, the value or the bound.
    Plain text goes in `en` / `zh`, expressions in `en_sql` / `zh_sql`; Chinese defaults to the English
    for details that need no translation (a list of codes, a pattern)."""
    en_expr = en_sql if en_sql is not None else lit(en or "")
    zh_expr = zh_sql if zh_sql is not None else lit(zh) if zh is not None else en_expr
    return named_struct(en=cast(en_expr, "STRING"), zh=cast(zh_expr, "STRING"))


def not_judged() -> str:
    """A rule that judges nothing here (its table does not exist yet): a null of the detail's type."""
    return cast("NULL", DETAIL_TYPE)


def fail_when(condition: str, failure: str | None = None) -> str:
    """Null when `condition` is false or null, else `failure` (a `detail`; an empty one by default)."""
    return when((coalesce(condition, "false"), failure if failure is not None else detail()))


def first_line_over(*partition: str) -> tuple[str, str]:
    """(the first line of the rows sharing `partition`, this row's rank among them) as window expressions."""
    window = f"OVER (PARTITION BY {', '.join(partition)} ORDER BY `_row_number`)"
    return f"first(`_row_number`) {window}", f"(row_number() {window})"


@register("not_null")
def not_null(value: str, ctx: RuleContext) -> str:
    return fail_when(is_null(value))


@register("empty")
def empty(value: str, ctx: RuleContext) -> str:
    """The value must be missing (with `when`: e.g. no resident ID on an enterprise's application)."""
    return fail_when(is_not_null(value))


@register("in_set")
def in_set(value: str, ctx: RuleContext, *, values: Sequence[object]) -> str:
    allowed = [str(v) for v in values]
    listed = " / ".join(allowed)
    return fail_when(not_(isin(cast(value, "STRING"), allowed)), detail(f"allowed: {listed}", f"允许的取值：{listed}"))


@register("range")
def in_range(value: str, ctx: RuleContext, *, min: float | None = None, max: float | None = None) -> str:
    bounds = []
    if min is not None:
        bounds.append(binary(value, "<", lit(min)))
    if max is not None:
        bounds.append(binary(value, ">", lit(max)))
    low = "-inf" if min is None else min
    high = "inf" if max is None else max
    return fail_when(or_(*bounds), detail(f"expected between {low} and {high}", f"应在 {low} 与 {high} 之间"))


@register("length")
def length(value: str, ctx: RuleContext, *, min: int | None = None, max: int | None = None) -> str:
    n = call("char_length", cast(value, "STRING"))
    bounds = []
    if min is not None:
        bounds.append(binary(n, "<", lit(int(min))))
    if max is not None:
        bounds.append(binary(n, ">", lit(int(max))))
    upper_zh = max if max is not None else "不限"
    return fail_when(or_(*bounds), detail(
        en_sql=concat(lit("length "), cast(n, "STRING"), lit(f", expected {min or 0}..{max or 'any'}")),
        zh_sql=concat(lit("长度为 "), cast(n, "STRING"), lit(f"，应为 {min or 0} 至 {upper_zh}"))))


@register("unique")
def unique(value: str, ctx: RuleContext, *, scope: str = "batch") -> str:
    """No two rows of the batch share a value (every repeat fails, naming the first line); with
    `scope: silver`, neither may a row take a value silver already holds under another primary key."""
    first, rank = first_line_over(value)
    first_line = cast(first, "STRING")
    repeated = fail_when(and_(is_not_null(value), binary(rank, ">", "1")), detail(
        en_sql=concat(lit("also at line "), first_line), zh_sql=concat(lit("与第 "), first_line, lit(" 行重复"))))
    if scope != "silver" or ctx.item not in ctx.silver_keys or ctx.row_key is None:
        return repeated
    low, high = ctx.silver_keys[ctx.item]
    taken = and_(is_not_null(low), or_(binary(low, "!=", ctx.row_key), binary(high, "!=", ctx.row_key)))
    other = when((binary(low, "!=", ctx.row_key), low), otherwise=high)
    return coalesce(repeated, fail_when(taken, detail(en_sql=concat(lit("already in silver under key "), other),
                                                      zh_sql=concat(lit("已存在于 silver，主键为 "), other))))


@register("regex")
def regex(value: str, ctx: RuleContext, *, pattern: str) -> str:
    return fail_when(not_(rlike(cast(value, "STRING"), pattern)), detail(f"pattern {pattern}", f"应符合格式 {pattern}"))


@register("references")
def references(value: str, ctx: RuleContext, *, resource: str, item: str) -> str:
    """The value names a record of another resource (an instruction's appeal): it must be in that
    resource's silver table. Not judged while that table does not exist (its first load is pending)."""
    found = ctx.references.get(ctx.item)
    if found is None:
        return not_judged()
    return fail_when(and_(is_not_null(value), is_null(found)),
                     detail(f"silver.{resource} holds no such {item}", f"silver.{resource} 中没有该 {item}"))


@register("not_before")
def not_before(value: str, ctx: RuleContext, *, field: str, other: str) -> str:
    """Cross-field order: `field` must not be earlier than `other` (e.g. finished >= received). When
    either is a date, both are compared as dates: a case decided on the day it was filed at 10:00 is
    not decided before it was filed."""
    later, earlier = ctx.column(field), ctx.column(other)
    if "date" in (ctx.types.get(field), ctx.types.get(other)):
        later, earlier = call("to_date", later), call("to_date", earlier)
    shown = cast(earlier, "STRING")
    return fail_when(binary(later, "<", earlier), detail(
        en_sql=concat(lit(f"{field} is earlier than {other} ("), shown, lit(")")),
        zh_sql=concat(lit(f"{field} 早于 {other}（"), shown, lit("）"))))

