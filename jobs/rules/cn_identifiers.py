"""Chinese identifiers as Spark rules: resident ID (GB 11643), mobile numbers, division codes.

The arithmetic mirrors `jobs.rules.identifiers`; here it is written as Spark SQL so that it runs
inside the one rule pass, on the executors, without Python UDFs.
"""

from __future__ import annotations

from jobs.rules import divisions
from jobs.rules.generic import detail, fail_when, not_judged
from jobs.rules.identifiers import (
    RESIDENT_ID_CHECK,
    RESIDENT_ID_WEIGHTS,
    USCC_ALPHABET,
    USCC_AUTHORITIES,
    USCC_PATTERN,
    USCC_PROVINCES,
    USCC_WEIGHTS,
    uscc_prefixes,
)
from jobs.rules.registry import RuleContext, register
from jobs.sql_text import (
    and_,
    binary,
    call,
    cast,
    coalesce,
    concat,
    is_null,
    isin,
    lit,
    not_,
    or_,
    rlike,
    when,
)


def _char(expr: str, position: int | str) -> str:
    return call("substring", expr, str(position), "1")


def resident_id_check_column(first17: str) -> str:
    """The expected check character of a 17-digit expression.

    Digits are read as their code point minus 48 (`ascii`), twice as fast as casting 17 one-character
    strings; callers only use the result once the value is known to be 17 digits.
    """
    total = "(" + " + ".join(f"(ascii({_char(first17, i + 1)}) - 48) * {w}"
                             for i, w in enumerate(RESIDENT_ID_WEIGHTS)) + ")"
    return _char(lit(RESIDENT_ID_CHECK), cast(f"pmod({total}, 11) + 1", "INT"))


@register("cn_resident_id")
def cn_resident_id(value: str, ctx: RuleContext, *, allow_legacy: bool = False) -> str:
    """18 characters, a known (or retired) division prefix, a real birth date, the right check char.

    The legacy 15-digit form fails unless `allow_legacy`; give it severity `warn` in the catalog to
    record rather than quarantine it.
    """
    v = call("upper", cast(value, "STRING"))
    prefixes = sorted(divisions.county_codes() | divisions.retired_county_codes())
    birth = call("try_to_date", call("substring", v, "7", "8"), lit("yyyyMMdd"))
    legacy = rlike(v, "^[0-9]{15}$")
    expected = resident_id_check_column(call("substring", v, "1", "17"))
    impossible_birth = or_(is_null(birth), binary(birth, "<", "DATE'1900-01-01'"), binary(birth, ">", lit(ctx.as_of)))
    return when(
        (is_null(v), not_judged()),
        (and_(legacy, lit(not allow_legacy)), detail("legacy 15-digit number", "15 位旧号码")),
        (legacy, not_judged()),
        (not_(rlike(v, "^[0-9]{17}[0-9X]$")), detail("expected 17 digits and a check character",
                                                      "应为 17 位数字加 1 位校验码")),
        (not_(isin(call("substring", v, "1", "6"), prefixes)),
         detail("unknown division prefix", "前六位行政区划代码无效")),
        (impossible_birth, detail("impossible birth date", "出生日期不可能")),
        (binary(_char(v, 18), "!=", expected), detail(en_sql=concat(lit("check character should be "), expected),
                                                        zh_sql=concat(lit("校验码应为 "), expected))),
    )


@register("cn_mobile")
def cn_mobile(value: str, ctx: RuleContext) -> str:
    spaced = call("regexp_replace", cast(value, "STRING"), lit(r"[\s\-]"), lit(""))
    digits = call("regexp_replace", spaced, lit(r"^(\+86|0086)"), lit(""))
    return fail_when(not_(rlike(digits, "^1[3-9][0-9]{9}$")),
                     detail("expected 11 digits starting 13-19", "应为以 13 至 19 开头的 11 位数字"))


@register("cn_division")
def cn_division(value: str, ctx: RuleContext, *, level: str, within: str = "", parent: str | None = None) -> str:
    """A current code of `level` (province, city, county, township, village) under `within`; with
    `parent`, the code must lie inside the code held by that field (a village in its township, a township
    in its county, a county in its city, a city in its province), whether the parent is written short
    (51, 5101) or padded (510000, 510100). Current codes come from `ctx.divisions` (the city's own list
    in silver, when the lake has it) or the packaged reference."""
    index = ctx.divisions or divisions.packaged_index()
    codes = sorted(index.codes_at(level, within))
    v = cast(value, "STRING")
    level_zh = {v: k for k, v in divisions.LEVEL_OF_ZH.items()}.get(level, level)
    branches = [(not_(isin(v, codes)), detail(
        f"not a {level} code" + (f" of {within}" if within else "") + f" in the {index.source}",
        (f"{within} 下" if within else "") + f"不是{level_zh}代码（依据：{index.source}）"))]
    if parent is not None:
        parent_code = cast(ctx.column(parent), "STRING")
        significant = when((binary(call("length", parent_code), "=", "6"),
                            call("regexp_replace", parent_code, lit("(00){1,2}$"), lit(""))), otherwise=parent_code)
        branches.append((not_(call("startswith", v, significant)), detail(
            en_sql=concat(lit(f"does not belong to {parent} "), parent_code),
            zh_sql=concat(lit(f"不属于 {parent} "), parent_code))))
    return when(*branches)


def uscc_check_column(first17: str) -> str:
    """The expected GB 32100 check character of a 17-character expression (alphabet already checked)."""
    alphabet = lit(USCC_ALPHABET)
    total = "(" + " + ".join(f"(instr({alphabet}, {_char(first17, i + 1)}) - 1) * {w}"
                             for i, w in enumerate(USCC_WEIGHTS)) + ")"
    return _char(alphabet, cast(f"pmod(31 - pmod({total}, 31), 31) + 1", "INT"))


@register("cn_uscc")
def cn_uscc(value: str, ctx: RuleContext) -> str:
    """18 characters from the GB 32100 alphabet (no I, O, S, V, Z), a registration authority and an
    organisation type of GB 32100's tables, and a division code of a province (or 100000, national)."""
    v = call("upper", cast(value, "STRING"))
    authorities = "、".join(f"{code} {name}" for code, (name, _) in USCC_AUTHORITIES.items())
    first, pair = _char(v, 1), call("substring", v, "1", "2")
    return when(
        (coalesce(not_(rlike(v, USCC_PATTERN.pattern)), "false"), detail(
            "expected 18 characters: 2 of 0-9A-Y (no I O S V Z), 6 digits, 10 of 0-9A-Y",
            "应为 18 位：2 位 0-9A-Y（不含 I O S V Z）、6 位数字、10 位 0-9A-Y")),
        (not_(isin(first, USCC_AUTHORITIES)), detail(
            en_sql=concat(lit("registration authority code "), first, lit(f" is not in GB 32100 ({authorities})")),
            zh_sql=concat(lit("登记管理部门码 "), first, lit(f" 不在 GB 32100 中（{authorities}）")))),
        (not_(isin(pair, sorted(uscc_prefixes()))), detail(
            en_sql=concat(lit("organisation type code "), _char(v, 2), lit(" is not one authority "), first,
                          lit(" registers (GB 32100)")),
            zh_sql=concat(lit("机构类别码 "), _char(v, 2), lit(" 不属于登记管理部门 "), first,
                          lit("（GB 32100）")))),
        (not_(isin(call("substring", v, "3", "2"), sorted(USCC_PROVINCES))), detail(
            en_sql=concat(lit("positions 3-8 "), call("substring", v, "3", "6"),
                          lit(" are not a division code of a province (GB/T 2260) or 100000")),
            zh_sql=concat(lit("第 3-8 位 "), call("substring", v, "3", "6"),
                          lit(" 不是省级行政区划内的区划码（GB/T 2260）或 100000")))),
    )


@register("cn_uscc_checksum")
def cn_uscc_checksum(value: str, ctx: RuleContext) -> str:
    """The check character; give it severity `warn`: some early codes were issued without a valid one."""
    v = call("upper", cast(value, "STRING"))
    expected = uscc_check_column(call("substring", v, "1", "17"))
    wrong = and_(rlike(v, USCC_PATTERN.pattern), binary(_char(v, 18), "!=", expected))
    return fail_when(wrong, detail(en_sql=concat(lit("check character should be "), expected),
                                   zh_sql=concat(lit("校验码应为 "), expected)))
