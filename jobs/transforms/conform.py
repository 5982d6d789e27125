"""Bronze batch -> typed rows with every rule's verdict, in one `select`.

The result keeps the raw strings (for quarantine and correction by the department), the typed
values (for silver) and two arrays of reasons: `_errors` (the row goes to quarantine) and
`_warnings` (the row is accepted and the warning recorded). Nothing here reads files, the clock
or the environment: `as_of` arrives as an argument.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import date

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from jobs.catalog.derive import spark_type
from jobs.catalog.model import DataItem, Resource, RuleRef
from jobs.rules import registry
from jobs.rules.divisions import DivisionIndex
from jobs.rules.generic import fail_when
from jobs.rules.specs import IMPLICIT_RULES, RULE_SPECS

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


def normalise(raw: Column, *, halfwidth: bool = False) -> Column:
    """Trim (after full-width -> half-width when asked); an empty string is a missing value."""
    value = F.translate(raw, FULLWIDTH, HALFWIDTH) if halfwidth else raw
    trimmed = F.trim(value)
    return F.when(trimmed == "", F.lit(None)).otherwise(trimmed)


def wants_halfwidth(item: DataItem) -> bool:
    """Codes, numbers and dates are compared half-width; names and free text keep their punctuation."""
    return item.type != "string" or bool(item.rules) or item.pii in ("phone", "resident_id")


def excel_serial(value: Column) -> Column:
    """An Excel serial as TIMESTAMP_NTZ, honouring Excel's fictitious 1900-02-29 (serial 60 -> null)."""
    serial = F.when(value.rlike(r"^[0-9]{1,6}(\.[0-9]+)?$"), value.try_cast("double"))
    days = F.floor(serial).cast("int")
    seconds = F.round((serial - F.floor(serial)) * 86400).cast("int")
    # serials before 61 count the day Excel invented; 1 must land on 1900-01-01
    days = F.when(days == 60, F.lit(None)).when(days < 60, days + 1).otherwise(days)
    base = F.lit("1899-12-30 00:00:00").cast("timestamp_ntz")
    return base + F.make_dt_interval(days, F.lit(0), F.lit(0), seconds)


def epoch(value: Column, *, millis: bool = False) -> Column:
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
        number = F.when(value.rlike(r"^[1-9][0-9]{11,12}$"), value.try_cast("long"))
        return F.timestamp_millis(number).cast("timestamp_ntz")
    seconds = F.when(value.rlike(r"^[1-9][0-9]{8,9}(\.[0-9]+)?$"), value.try_cast("decimal(16,6)"))
    return F.timestamp_micros((seconds * 1_000_000).cast("long")).cast("timestamp_ntz")


def _datetime(value: Column, formats: tuple[str, ...], *, date_only: bool) -> Column:
    parsed = []
    for f in formats:
        if f == EXCEL_SERIAL:
            parsed.append(excel_serial(value))
        elif f in (EPOCH_SECONDS, EPOCH_MILLIS):
            parsed.append(epoch(value, millis=f == EPOCH_MILLIS))
        elif date_only:
            parsed.append(F.try_to_date(value, f))
        else:
            parsed.append(F.try_to_timestamp(value, F.lit(f)).cast("timestamp_ntz"))
    result = F.coalesce(*parsed)
    return result.cast("date") if date_only else result


def parse(value: Column, item: DataItem) -> Column:
    """Typed value or null when it cannot be read (the `type` rule reports that)."""
    if item.type == "string":
        return value
    if item.type in ("integer", "decimal"):
        return value.try_cast(spark_type(item))
    if item.type in ("date", "timestamp"):
        return _datetime(value, item.formats, date_only=item.type == "date")
    lowered = F.lower(value)
    return (
        F.when(lowered.isin("1", "true", "y", "yes", "是"), F.lit(True))
        .when(lowered.isin("0", "false", "n", "no", "否"), F.lit(False))
    )


def reason(rule: str, field: str, raw: Column, severity: str, detail: Column, en: str, zh: str) -> Column:
    """A reason struct, or null when `detail` (a rule's `struct<en, zh>`, see `jobs.rules.generic.detail`)
    is null (the row passed). Both messages carry the whole detail; a Chinese message with a `{detail}`
    placeholder puts it there (主键重复，首次出现于第 5 行), any other appends it in brackets."""
    en_detail, zh_detail = detail["en"], detail["zh"]
    message = F.when(en_detail == "", F.lit(f"{field}: {en}")).otherwise(F.concat(F.lit(f"{field}: {en}: "), en_detail))
    if "{detail}" in zh:
        before, after = zh.split("{detail}", 1)
        message_zh = F.concat(F.lit(f"{field}：{before}"), zh_detail, F.lit(after))
    else:
        message_zh = F.when(zh_detail == "", F.lit(f"{field}：{zh}")) \
            .otherwise(F.concat(F.lit(f"{field}：{zh}（"), zh_detail, F.lit("）")))
    return F.when(
        detail.isNotNull(),
        F.struct(
            F.lit(rule).alias("rule"),
            F.lit(field).alias("field"),
            raw.cast("string").alias("value"),
            F.lit(severity).alias("severity"),
            message.alias("message"),
            message_zh.alias("message_zh"),
        ),
    )


def only_when(ref: RuleRef, detail: Column, ctx: registry.RuleContext) -> Column:
    """The rule's failure detail limited to the rows its `when` selects (all rows without one)."""
    if not ref.when:
        return detail
    selected = F.lit(True)
    for other, values in sorted(ref.when.items()):
        selected = selected & F.coalesce(ctx.column(other).cast("string").isin(list(values)), F.lit(False))
    return F.when(selected, detail)


def _item_reasons(item: DataItem, raw: Column, typed: Column, ctx: registry.RuleContext) -> list[Column]:
    out = []
    if item.required:
        spec = RULE_SPECS["not_null"]
        out.append(reason("not_null", item.name, raw, "error", registry.build("not_null", raw, ctx, {}),
                          spec.message_en, spec.message_zh))
    if item.type != "string":
        en, zh = IMPLICIT_RULES["type"]
        fmt = f" ({' | '.join(item.formats)})" if item.formats else ""
        detail = fail_when(raw.isNotNull() & typed.isNull())
        out.append(reason("type", item.name, raw, "error", detail, f"{en} {item.type}{fmt}", f"{zh}{item.type}"))
    if item.length is not None and item.type == "string":
        spec = RULE_SPECS["length"]
        out.append(reason("length", item.name, raw, "error",
                          registry.build("length", typed, ctx, {"max": item.length}), spec.message_en, spec.message_zh))
    item_ctx = replace(ctx, item=item.name)
    for ref in item.rules:
        spec = RULE_SPECS[ref.rule]
        detail = only_when(ref, registry.build(ref.rule, typed, item_ctx, ref.params), ctx)
        out.append(reason(ref.rule, item.name, raw, ref.severity, detail, spec.message_en, spec.message_zh))
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
    raw = {i.name: normalise(F.col(f"`{i.name}`"), halfwidth=wants_halfwidth(i)) for i in resource.items}
    typed = {i.name: parse(raw[i.name], i) for i in resource.items}
    row_key = F.concat_ws("|", *[typed[k].cast("string") for k in resource.primary_key])
    silver_keys = {}
    for k, (name, pairs) in enumerate(sorted((existing or {}).items())):
        prefix = f"__silver{k}"
        per_value = pairs.groupBy("value").agg(F.min("key").alias(f"{prefix}_low"),
                                               F.max("key").alias(f"{prefix}_high"))
        bronze = bronze.join(per_value.withColumnRenamed("value", f"{prefix}_value"),
                             typed[name].cast("string") == F.col(f"{prefix}_value"), "left")
        silver_keys[name] = (F.col(f"{prefix}_low"), F.col(f"{prefix}_high"))
    found = {}
    for k, (name, values) in enumerate(sorted((referenced or {}).items())):
        prefix = f"__ref{k}"
        bronze = bronze.join(values.select(F.col("value").alias(f"{prefix}_value")).distinct(),
                             typed[name].cast("string") == F.col(f"{prefix}_value"), "left")
        found[name] = F.col(f"{prefix}_value")
    ctx = registry.RuleContext(columns=typed, as_of=as_of, row_key=row_key if resource.primary_key else None,
                               silver_keys=silver_keys, divisions=divisions, references=found,
                               types={i.name: i.type for i in resource.items})

    reasons: list[Column] = []
    for item in resource.items:
        reasons += _item_reasons(item, raw[item.name], typed[item.name], ctx)
    for check in resource.checks:
        spec = RULE_SPECS[check.rule]
        field = str(check.params["field"])
        detail = only_when(check, registry.build(check.rule, typed[field], ctx, check.params), ctx)
        reasons.append(reason(check.rule, field, raw[field], check.severity, detail, spec.message_en, spec.message_zh))
    en, zh = IMPLICIT_RULES["malformed_record"]
    reasons.append(reason("malformed_record", "*", F.to_json("_rescued"), "error",
                          fail_when(F.col("_parse_error").isNotNull(), F.col("_parse_error")), en, zh))

    if resource.primary_key:
        pk_cols = [typed[k] for k in resource.primary_key]
        window = Window.partitionBy(*pk_cols).orderBy("_row_number")
        first_line = F.first("_row_number").over(window)
        is_dup = F.row_number().over(window) > 1
        all_present = F.lit(True)
        for c in pk_cols:
            all_present = all_present & c.isNotNull()
        en, zh = IMPLICIT_RULES["duplicate_key"]
        key_raw = F.concat_ws("|", *[raw[k] for k in resource.primary_key])
        dup_detail = fail_when(is_dup & all_present, first_line.cast("string"))
        reasons.append(reason("duplicate_key", ",".join(resource.primary_key), key_raw, "error", dup_detail, en, zh))

    all_reasons = F.filter(F.array(*reasons), lambda r: r.isNotNull())
    evaluated = bronze.select(
        *[F.col(c) for c in LINEAGE],
        F.struct(*[F.col(f"`{i.name}`").alias(i.name) for i in resource.items]).alias("_raw"),
        F.struct(*[typed[i.name].cast(spark_type(i)).alias(i.name) for i in resource.items]).alias("_typed"),
        all_reasons.alias("_reasons"),
    ).select(
        *LINEAGE, "_raw", "_typed",
        F.filter("_reasons", lambda r: r["severity"] == "error").alias("_errors"),
        F.filter("_reasons", lambda r: r["severity"] == "warn").alias("_warnings"),
    )
    # Keep the raw strings only where they are needed (quarantine) and the typed values only where
    # they are accepted: a persisted batch is then about half as wide.
    failed = F.size("_errors") > 0
    return evaluated.select(
        *LINEAGE,
        F.when(failed, F.col("_raw")).alias("_raw"),
        F.when(~failed, F.col("_typed")).alias("_typed"),
        "_errors",
        "_warnings",
    )


def accepted_rows(evaluated: DataFrame) -> DataFrame:
    """Silver-shaped rows: typed items plus lineage, for rows without errors."""
    return evaluated.where(F.size("_errors") == 0).select("_typed.*", *LINEAGE)


def quarantined_rows(evaluated: DataFrame) -> DataFrame:
    """Quarantine-shaped rows: raw strings, every reason, lineage."""
    return evaluated.where(F.size("_errors") > 0).select(
        "_raw.*", *LINEAGE, F.concat("_errors", "_warnings").alias("reasons")
    )
