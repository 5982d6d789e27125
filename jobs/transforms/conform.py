"""Bronze batch -> typed rows with every rule's verdict, in one pass of Spark SQL expressions.

The result keeps the raw strings (for quarantine and correction by the department), the typed
values (for silver) and two arrays of reasons: `_errors` (the row goes to quarantine) and
`_warnings` (the row is accepted and the warning recorded). Nothing here reads files, the clock
or the environment: `as_of` arrives as an argument.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs.catalog.derive import spark_type
from jobs.catalog.model import DataItem, Resource, RuleRef
from jobs.rules import builtin as registry
from jobs.rules.divisions import DivisionIndex
from jobs.rules.generic import detail as failure_detail
from jobs.rules.generic import fail_when, first_line_over
from jobs.rules.specs import IMPLICIT_RULES, RULE_SPECS
from jobs.sql_text import (
    alias,
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
    rlike,
    sql_column,
    try_cast,
    when,
)

REASON_FIELDS = ("rule", "field", "value", "severity", "message", "message_zh")
LINEAGE = ("_batch_id", "_source_file", "_row_number", "_ingested_at")


#: Full-width ASCII (U+FF01..U+FF5E) and the ideographic space, and their half-width forms.
FULLWIDTH = "".join(chr(c) for c in range(0xFF01, 0xFF5F)) + "\u3000"
HALFWIDTH = "".join(chr(c) for c in range(0x21, 0x7F)) + " "
#: A `formats` entry meaning "an Excel serial day number" (1 = 1900-01-01, fraction = time of day).
EXCEL_SERIAL = "excel_serial"
#: `formats` entries meaning "seconds (a fraction allowed) / milliseconds since 1970-01-01 00:00:00 UTC".
EPOCH_SECONDS = "epoch_seconds"
EPOCH_MILLIS = "epoch_millis"


def normalise(raw: str, *, halfwidth: bool = False) -> str:
    """Trim (after full-width -> half-width when asked); an empty string is a missing value."""
    value = call("translate", raw, lit(FULLWIDTH), lit(HALFWIDTH)) if halfwidth else raw
    trimmed = call("trim", value)
    return when((binary(trimmed, "=", "''"), "NULL"), otherwise=trimmed)


def wants_halfwidth(item: DataItem) -> bool:
    """Codes, numbers and dates are compared half-width; names and free text keep their punctuation."""
    return item.type != "string" or bool(item.rules) or item.pii in ("phone", "resident_id")


def excel_serial(value: str) -> str:
    """An Excel serial as TIMESTAMP_NTZ, honouring Excel's fictitious 1900-02-29 (serial 60 -> null)."""
    serial = when((rlike(value, r"^[0-9]{1,6}(\.[0-9]+)?$"), try_cast(value, "DOUBLE")))
    days = cast(call("floor", serial), "INT")
    seconds = cast(call("round", f"({serial} - floor({serial})) * 86400"), "INT")
    # serials before 61 count the day Excel invented; 1 must land on 1900-01-01
    days = when((binary(days, "=", "60"), "NULL"), (binary(days, "<", "60"), f"{days} + 1"), otherwise=days)
    return f"({cast(lit('1899-12-30 00:00:00'), 'TIMESTAMP_NTZ')} + make_dt_interval({days}, 0, 0, {seconds}))"


def epoch(value: str, *, millis: bool = False) -> str:
    """A Unix epoch number as TIMESTAMP_NTZ: the city's wall-clock time at that instant.

    `epoch_seconds` reads 9-10 digits with an optional fraction (kept to the microsecond),
    `epoch_millis` 12-13 digits, both without sign or leading zero: 1973-03-03 to 2286-11-20 either
    way. Narrow on purpose: these lengths overlap neither each other nor an Excel serial (at most 6
    digits), `yyyyMMdd` (8) or `yyyyMMddHHmmss` (14), so listing several of them in any order never
    reads one number two ways, and a stray code or phone number is a `type` failure, not a day in 1970.

    An epoch number is an instant, and the lake stores what the city's clocks showed (timestamps
    without time zone). Casting the instant to TIMESTAMP_NTZ renders it in the session time zone,
    which `jobs.io.spark.spark_conf` fixes to the city's (Asia/Shanghai), the same conversion a pattern
    with a zone offset (`XXX`) goes through: 1732600000 is 2024-11-26 13:46:40, when the event happened
    for the department's staff. A date item keeps that instant's day in the city, which is the day a
    department meant whether it wrote local midnight (16:00 UTC the day before) or UTC midnight (08:00
    in the city); taking the UTC day would put the first a day early.
    """
    if millis:
        number = when((rlike(value, r"^[1-9][0-9]{11,12}$"), try_cast(value, "BIGINT")))
        return cast(call("timestamp_millis", number), "TIMESTAMP_NTZ")
    seconds = when((rlike(value, r"^[1-9][0-9]{8,9}(\.[0-9]+)?$"), try_cast(value, "DECIMAL(16,6)")))
    return cast(call("timestamp_micros", cast(f"{seconds} * 1000000", "BIGINT")), "TIMESTAMP_NTZ")


def _datetime(value: str, formats: tuple[str, ...], *, date_only: bool) -> str:
    parsed = []
    for f in formats:
        if f == EXCEL_SERIAL:
            parsed.append(excel_serial(value))
        elif f in (EPOCH_SECONDS, EPOCH_MILLIS):
            parsed.append(epoch(value, millis=f == EPOCH_MILLIS))
        elif date_only:
            parsed.append(call("try_to_date", value, lit(f)))
        else:
            parsed.append(cast(call("try_to_timestamp", value, lit(f)), "TIMESTAMP_NTZ"))
    result = coalesce(*parsed)
    return cast(result, "DATE") if date_only else result


def sql_type(item: DataItem) -> str:
    """The item's silver type as Spark SQL names it (bigint, decimal(18,2), timestamp_ntz ...)."""
    return spark_type(item).simpleString()


def parse(value: str, item: DataItem) -> str:
    """Typed value or null when it cannot be read (the `type` rule reports that)."""
    if item.type == "string":
        return value
    if item.type in ("integer", "decimal"):
        return try_cast(value, sql_type(item))
    if item.type in ("date", "timestamp"):
        return _datetime(value, item.formats, date_only=item.type == "date")
    lowered = call("lower", value)
    return when((isin(lowered, ("1", "true", "y", "yes", "是")), "true"),
                (isin(lowered, ("0", "false", "n", "no", "否")), "false"))


def reason(rule: str, field: str, raw: str, severity: str, detail: str, en: str, zh: str) -> str:
    """A reason struct, or null when `detail` (a rule's `struct<en, zh>`, see `jobs.rules.generic.detail`;
    a column name, since it is read three times) is null (the row passed). Both messages carry the whole
    detail; a Chinese message with a `{detail}` placeholder puts it there (主键重复，首次出现于第 5 行),
    any other appends it in brackets."""
    en_detail, zh_detail = f"{detail}.en", f"{detail}.zh"
    message = when((binary(en_detail, "=", "''"), lit(f"{field}: {en}")),
                   otherwise=concat(lit(f"{field}: {en}: "), en_detail))
    if "{detail}" in zh:
        before, after = zh.split("{detail}", 1)
        message_zh = concat(lit(f"{field}：{before}"), zh_detail, lit(after))
    else:
        message_zh = when((binary(zh_detail, "=", "''"), lit(f"{field}：{zh}")),
                          otherwise=concat(lit(f"{field}：{zh}（"), zh_detail, lit("）")))
    return when((is_not_null(detail), named_struct(
        rule=lit(rule), field=lit(field), value=cast(raw, "STRING"), severity=lit(severity),
        message=message, message_zh=message_zh)))


def only_when(ref: RuleRef, detail: str, ctx: registry.RuleContext) -> str:
    """The rule's failure detail limited to the rows its `when` selects (all rows without one)."""
    if not ref.when:
        return detail
    selected = and_(*[coalesce(isin(cast(ctx.column(other), "STRING"), [str(v) for v in values]), "false")
                      for other, values in sorted(ref.when.items())])
    return when((selected, detail))


@dataclass(frozen=True)
class _Check:
    """One rule applied to one field: its failure detail (an expression) and how its reason reads."""

    rule: str
    field: str
    raw: str
    severity: str
    detail: str
    en: str
    zh: str


def _item_checks(item: DataItem, raw: str, typed: str, ctx: registry.RuleContext) -> list[_Check]:
    out = []
    if item.required:
        spec = RULE_SPECS["not_null"]
        out.append(_Check("not_null", item.name, raw, "error", registry.build("not_null", raw, ctx, {}),
                          spec.message_en, spec.message_zh))
    if item.type != "string":
        en, zh = IMPLICIT_RULES["type"]
        fmt = f" ({' | '.join(item.formats)})" if item.formats else ""
        detail = fail_when(and_(is_not_null(raw), is_null(typed)))
        out.append(_Check("type", item.name, raw, "error", detail, f"{en} {item.type}{fmt}", f"{zh}{item.type}"))
    if item.length is not None and item.type == "string":
        spec = RULE_SPECS["length"]
        out.append(_Check("length", item.name, raw, "error", registry.build("length", typed, ctx, {"max": item.length}),
                          spec.message_en, spec.message_zh))
    item_ctx = replace(ctx, item=item.name)
    for ref in item.rules:
        spec = RULE_SPECS[ref.rule]
        detail = only_when(ref, registry.build(ref.rule, typed, item_ctx, ref.params), ctx)
        out.append(_Check(ref.rule, item.name, raw, ref.severity, detail, spec.message_en, spec.message_zh))
    return out


def silver_unique_items(resource: Resource) -> tuple[str, ...]:
    """Items whose `unique` rule also looks at silver (conform must pass their silver values)."""
    return tuple(i.name for i in resource.items
                 if any(r.rule == "unique" and r.params.get("scope") == "silver" for r in i.rules))


def referencing_items(resource: Resource) -> dict[str, tuple[str, str]]:
    """Items with a `references` rule -> (referenced resource, its item)."""
    return {i.name: (str(r.params["resource"]), str(r.params["item"]))
            for i in resource.items for r in i.rules if r.rule == "references"}


def conform_batch(bronze: DataFrame, resource: Resource, *, as_of: date,
                  existing: Mapping[str, DataFrame] | None = None, divisions: DivisionIndex | None = None,
                  referenced: Mapping[str, DataFrame] | None = None) -> DataFrame:
    """Type and check one bronze batch.

    Args:
        bronze: rows of one batch with the bronze schema (all items as strings plus lineage).
        resource: the catalog entry.
        as_of: the day the batch is judged on (birth dates after it are impossible).
        existing: for items in `silver_unique_items`, silver's (`value`, `key`) pairs (key: the primary
            key values joined with "|"); joined to the batch once per item, aggregated per value first,
            so the batch keeps its row count.
        divisions: the division codes `cn_division` accepts (None: the packaged reference).
        referenced: for items in `referencing_items`, the values (column `value`) the referenced silver
            table holds; an item left out is not judged (that table does not exist yet).

    Returns:
        One row per bronze row with `_errors` and `_warnings` (arrays of reason structs), the lineage
        columns, and either `_raw` (struct of the raw strings, rows with errors) or `_typed` (struct of
        typed values, rows without).
    """
    items = resource.items
    raw = {i.name: sql_column(f"__raw__{i.name}") for i in items}
    typed = {i.name: sql_column(f"__typed__{i.name}") for i in items}
    row_key = call("concat_ws", "'|'", *[cast(typed[k], "STRING") for k in resource.primary_key])
    silver_keys = {}
    for k, (name, pairs) in enumerate(sorted((existing or {}).items())):
        prefix = f"__silver{k}"
        per_value = pairs.groupBy("value").agg(F.min("key").alias(f"{prefix}_low"),
                                               F.max("key").alias(f"{prefix}_high"))
        silver_keys[name] = (sql_column(f"{prefix}_low"), sql_column(f"{prefix}_high"))
        bronze = _left_join(bronze, per_value.withColumnRenamed("value", f"{prefix}_value"),
                            _normalised_typed(resource, name), f"{prefix}_value")
    found = {}
    for k, (name, values) in enumerate(sorted((referenced or {}).items())):
        prefix = f"__ref{k}"
        bronze = _left_join(bronze, values.select(F.col("value").alias(f"{prefix}_value")).distinct(),
                            _normalised_typed(resource, name), f"{prefix}_value")
        found[name] = sql_column(f"{prefix}_value")
    ctx = registry.RuleContext(columns=typed, as_of=as_of, row_key=row_key if resource.primary_key else None,
                               silver_keys=silver_keys, divisions=divisions, references=found,
                               types={i.name: i.type for i in items})

    checks: list[_Check] = []
    for item in items:
        checks += _item_checks(item, raw[item.name], typed[item.name], ctx)
    for check in resource.checks:
        spec = RULE_SPECS[check.rule]
        field = str(check.params["field"])
        detail = only_when(check, registry.build(check.rule, typed[field], ctx, check.params), ctx)
        checks.append(_Check(check.rule, field, raw[field], check.severity, detail, spec.message_en, spec.message_zh))
    en, zh = IMPLICIT_RULES["malformed_record"]
    checks.append(_Check("malformed_record", "*", call("to_json", "`_rescued`"), "error",
                         fail_when(is_not_null("`_parse_error`"), failure_detail(en_sql="`_parse_error`")), en, zh))
    if resource.primary_key:
        pk = [typed[k] for k in resource.primary_key]
        first_line, rank = first_line_over(*pk)
        en, zh = IMPLICIT_RULES["duplicate_key"]
        key_raw = call("concat_ws", "'|'", *[raw[k] for k in resource.primary_key])
        dup = fail_when(and_(binary(rank, ">", "1"), *[is_not_null(c) for c in pk]),
                        failure_detail(en_sql=cast(first_line, "STRING")))
        checks.append(_Check("duplicate_key", ",".join(resource.primary_key), key_raw, "error", dup, en, zh))

    # One projection per layer, each column referring to the layer below by name: a typed value or a
    # rule's detail is computed once per row however many rules read it (Spark keeps such layers apart
    # rather than copy a non-trivial expression into each reader), and the SQL text stays small.
    lineage = [sql_column(c) for c in LINEAGE]
    stage = bronze.selectExpr("*", *[alias(normalise(sql_column(i.name), halfwidth=wants_halfwidth(i)),
                                           f"__raw__{i.name}") for i in items])
    stage = stage.selectExpr("*", *[alias(parse(raw[i.name], i), f"__typed__{i.name}") for i in items])
    stage = stage.selectExpr(*lineage, "`_rescued`", *raw.values(), *[sql_column(i.name) for i in items],
                             *[alias(cast(typed[i.name], sql_type(i)), f"__typed__{i.name}") for i in items],
                             *[alias(c.detail, f"__detail{k}") for k, c in enumerate(checks)])
    reasons = [reason(c.rule, c.field, c.raw, c.severity, sql_column(f"__detail{k}"), c.en, c.zh)
               for k, c in enumerate(checks)]
    raw_struct = named_struct(**{i.name: sql_column(i.name) for i in items})
    typed_struct = named_struct(**{i.name: typed[i.name] for i in items})
    evaluated = stage.selectExpr(
        *lineage, alias(raw_struct, "_raw"), alias(typed_struct, "_typed"),
        alias(f"filter(array({', '.join(reasons)}), r -> r IS NOT NULL)", "_reasons"),
    ).selectExpr(
        *lineage, "_raw", "_typed",
        "filter(_reasons, r -> r.severity = 'error') AS _errors",
        "filter(_reasons, r -> r.severity = 'warn') AS _warnings",
    )
    # Keep the raw strings only where they are needed (quarantine) and the typed values only where
    # they are accepted: a persisted batch is then about half as wide.
    return evaluated.selectExpr(
        *lineage,
        "CASE WHEN size(_errors) > 0 THEN _raw END AS _raw",
        "CASE WHEN size(_errors) = 0 THEN _typed END AS _typed",
        "_errors",
        "_warnings",
    )


def _normalised_typed(resource: Resource, name: str) -> str:
    """The typed value of item `name` straight from the bronze column (for joins, before the layers exist)."""
    item = next(i for i in resource.items if i.name == name)
    return parse(normalise(sql_column(name), halfwidth=wants_halfwidth(item)), item)


def _left_join(bronze: DataFrame, lookup: DataFrame, typed_value: str, key: str) -> DataFrame:
    return bronze.join(lookup, F.expr(cast(typed_value, "STRING")) == F.col(key), "left")


def accepted_rows(evaluated: DataFrame) -> DataFrame:
    """Silver-shaped rows: typed items plus lineage, for rows without errors."""
    return evaluated.where(F.size("_errors") == 0).select("_typed.*", *LINEAGE)


def quarantined_rows(evaluated: DataFrame) -> DataFrame:
    """Quarantine-shaped rows: raw strings, every reason, lineage."""
    return evaluated.where(F.size("_errors") > 0).select(
        "_raw.*", *LINEAGE, F.concat("_errors", "_warnings").alias("reasons")
    )
