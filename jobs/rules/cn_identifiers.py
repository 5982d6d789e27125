"""Chinese identifiers as Spark rules: resident ID (GB 11643), mobile numbers, division codes.

The arithmetic mirrors `jobs.rules.identifiers`; here it is written with Column functions so that it
runs inside the one rule pass, on the executors, without Python UDFs.
"""

from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F

from jobs.rules import divisions
from jobs.rules.generic import detail, fail_when, isin_strings, not_judged
from jobs.rules.identifiers import (
    RESIDENT_ID_CHECK,
    RESIDENT_ID_WEIGHTS,
    USCC_ALPHABET,
    USCC_PATTERN,
    USCC_WEIGHTS,
)
from jobs.rules.registry import RuleContext, register


def resident_id_check_column(first17: Column) -> Column:
    """The expected check character of a 17-digit Column.

    Digits are read as their code point minus 48 (`ascii`), twice as fast as casting 17 one-character
    strings; callers only use the result once the value is known to be 17 digits.
    """
    total = sum(
        ((F.ascii(F.substring(first17, i + 1, 1)) - 48) * w for i, w in enumerate(RESIDENT_ID_WEIGHTS)),
        F.lit(0),
    )
    return F.substring(F.lit(RESIDENT_ID_CHECK), (F.pmod(total, F.lit(11)) + 1).cast("int"), 1)


@register("cn_resident_id")
def cn_resident_id(value: Column, ctx: RuleContext, *, allow_legacy: bool = False) -> Column:
    """18 characters, a known (or retired) division prefix, a real birth date, the right check char.

    The legacy 15-digit form fails unless `allow_legacy`; give it severity `warn` in the catalog to
    record rather than quarantine it.
    """
    v = F.upper(value.cast("string"))
    prefixes = sorted(divisions.county_codes() | divisions.retired_county_codes())
    birth = F.try_to_date(F.substring(v, 7, 8), "yyyyMMdd")
    legacy = v.rlike("^[0-9]{15}$")
    expected = resident_id_check_column(F.substring(v, 1, 17))
    impossible_birth = birth.isNull() | (birth < F.lit("1900-01-01").cast("date")) | (birth > F.lit(ctx.as_of))
    return (
        F.when(v.isNull(), not_judged())
        .when(legacy & F.lit(not allow_legacy), detail("legacy 15-digit number", "15 位旧号码"))
        .when(legacy, not_judged())
        .when(~v.rlike("^[0-9]{17}[0-9X]$"), detail("expected 17 digits and a check character",
                                                      "应为 17 位数字加 1 位校验码"))
        .when(~isin_strings(F.substring(v, 1, 6), prefixes),
              detail("unknown division prefix", "前六位行政区划代码无效"))
        .when(impossible_birth, detail("impossible birth date", "出生日期不可能"))
        .when(F.substring(v, 18, 1) != expected, detail(F.concat(F.lit("check character should be "), expected),
                                                         F.concat(F.lit("校验码应为 "), expected)))
    )


@register("cn_mobile")
def cn_mobile(value: Column, ctx: RuleContext) -> Column:
    digits = F.regexp_replace(F.regexp_replace(value.cast("string"), r"[\s\-]", ""), r"^(\+86|0086)", "")
    return fail_when(~digits.rlike("^1[3-9][0-9]{9}$"), "expected 11 digits starting 13-19",
                     "应为以 13 至 19 开头的 11 位数字")


@register("cn_division")
def cn_division(value: Column, ctx: RuleContext, *, level: str, within: str = "", parent: str | None = None) -> Column:
    """A current code of `level` (province, city, county, township, village) under `within`; with
    `parent`, the code must lie inside the code held by that field (a village in its township, a township
    in its county, a county in its city, a city in its province), whether the parent is written short
    (51, 5101) or padded (510000, 510100). Current codes come from `ctx.divisions` (the city's own list
    in silver, when the lake has it) or the packaged reference."""
    index = ctx.divisions or divisions.packaged_index()
    codes = sorted(index.codes_at(level, within))
    v = value.cast("string")
    level_zh = {v: k for k, v in divisions.LEVEL_OF_ZH.items()}.get(level, level)
    failure = F.when(~isin_strings(v, codes), detail(
        f"not a {level} code" + (f" of {within}" if within else "") + f" in the {index.source}",
        (f"{within} 下" if within else "") + f"不是{level_zh}代码（依据：{index.source}）"))
    if parent is not None:
        parent_code = ctx.column(parent).cast("string")
        significant = F.when(F.length(parent_code) == 6, F.regexp_replace(parent_code, "(00){1,2}$", "")) \
            .otherwise(parent_code)
        failure = failure.when(
            ~v.startswith(significant), detail(F.concat(F.lit(f"does not belong to {parent} "), parent_code),
                                               F.concat(F.lit(f"不属于 {parent} "), parent_code))
        )
    return failure


def uscc_check_column(first17: Column) -> Column:
    """The expected GB 32100 check character of a 17-character Column (alphabet already checked)."""
    alphabet = F.lit(USCC_ALPHABET)
    total = sum(
        ((F.instr(alphabet, F.substring(first17, i + 1, 1)) - 1) * w for i, w in enumerate(USCC_WEIGHTS)),
        F.lit(0),
    )
    return F.substring(alphabet, (F.pmod(F.lit(31) - F.pmod(total, F.lit(31)), F.lit(31)) + 1).cast("int"), 1)


@register("cn_uscc")
def cn_uscc(value: Column, ctx: RuleContext) -> Column:
    """18 characters from the GB 32100 alphabet (no I, O, S, V, Z) with a 6-digit division code."""
    return fail_when(~F.upper(value.cast("string")).rlike(USCC_PATTERN.pattern),
                     "expected 18 characters: 2 of 0-9A-Y (no I O S V Z), 6 digits, 10 of 0-9A-Y",
                     "应为 18 位：2 位 0-9A-Y（不含 I O S V Z）、6 位数字、10 位 0-9A-Y")


@register("cn_uscc_checksum")
def cn_uscc_checksum(value: Column, ctx: RuleContext) -> Column:
    """The check character; give it severity `warn`: some early codes were issued without a valid one."""
    v = F.upper(value.cast("string"))
    expected = uscc_check_column(F.substring(v, 1, 17))
    wrong = v.rlike(USCC_PATTERN.pattern) & (F.substring(v, 18, 1) != expected)
    return fail_when(wrong, F.concat(F.lit("check character should be "), expected),
                     F.concat(F.lit("校验码应为 "), expected))
