"""Valid values for catalog items: names, phones, resident IDs, credit codes, companies, addresses,
division codes, decimals, flags, days and times.

Every function takes the `random.Random` it draws from, so a seed fixes the whole export; none reads
the clock or the environment ("today" arrives as an argument). Check characters are computed with the
same functions the plain-Python rules use (`jobs.rules.identifiers`), so a generated value that a rule
rejects is a bug in one of the two, never noise.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import cache

from jobs.rules import divisions
from jobs.rules.identifiers import USCC_ALPHABET, resident_id_check_char, uscc_check_char

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡"
    "余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯"
    "龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
GIVEN = (
    "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉兰萍红鹏飞建国建华志强海"
    "燕雪梅俊杰晓东文博思远欣怡雨涵子轩浩然梓涵"
)
MOBILE_PREFIXES = ("130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151", "152", "155",
                   "157", "158", "159", "166", "173", "177", "180", "181", "182", "183", "186", "187", "188",
                   "189", "191", "198", "199")
#: Trade names (字号), industries (行业) and legal forms (组织形式) of company names (GB/T 企业名称登记).
TRADE_NAMES = ("天府", "锦城", "蓉兴", "华西", "蜀都", "岷江", "金沙", "宽窄", "芙蓉", "浣花", "西岭", "龙泉",
               "银杏", "竹韵", "瑞祥", "鑫源", "恒达", "博远", "星辉", "卓越", "泰和", "汇通", "新希", "川渝")
INDUSTRIES = ("科技", "信息技术", "商贸", "餐饮管理", "建筑工程", "物业管理", "文化传媒", "医药", "农业开发",
              "环保科技", "物流", "教育咨询", "装饰工程", "电子商务")
LEGAL_FORMS = ("有限公司", "有限公司", "有限公司", "有限责任公司", "股份有限公司")
#: Street-name stems and suffixes for addresses ("人民南路", "玉林街", "天府大道").
ROAD_STEMS = ("人民", "蜀汉", "红星", "天府", "建设", "顺城", "光华", "锦华", "科华", "玉林", "府青", "沙湾",
              "金府", "交子", "永丰", "双林", "抚琴", "青龙", "万年", "武侯")
ROAD_SUFFIXES = ("路", "路", "街", "南路", "北路", "大道", "巷")
#: Type codes of enterprises registered by market regulation (登记管理部门 9): 1 企业, 2 个体工商户,
#: 3 农民专业合作社, with how often each occurs.
USCC_TYPES = ("1", "2", "3")
USCC_TYPE_WEIGHTS = (80, 15, 5)
#: GB 11714 organization-code weights (positions 9-16 of a credit code; position 17 is their check).
ORG_CODE_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
CHENGDU = "5101"


@cache
def _counties(within: str) -> tuple[str, ...]:
    return tuple(sorted(divisions.codes_at("county", within)))


def person_name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))


def mobile(rng: random.Random) -> str:
    return rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}"


def resident_id(rng: random.Random, *, county: str | None = None, as_of: date = date(2026, 1, 1)) -> str:
    """A valid 18-character ID of someone aged 18-85 on `as_of`."""
    county = county or rng.choice(_counties(CHENGDU))
    born = as_of - timedelta(days=rng.randrange(18 * 365, 85 * 365))
    first17 = f"{county}{born:%Y%m%d}{rng.randrange(1000):03d}"
    return first17 + resident_id_check_char(first17)


def org_code_check_char(body: str) -> str:
    """GB 11714 check character of an 8-character organization code body: C = 11 - (sum mod 11),
    10 -> X, 11 -> 0. Letters count as 10 (A) to 35 (Z)."""
    total = sum(int(c, 36) * w for c, w in zip(body, ORG_CODE_WEIGHTS, strict=True))
    check = 11 - total % 11
    return "X" if check == 10 else "0" if check == 11 else str(check)


def uscc(rng: random.Random, *, division: str | None = None) -> str:
    """A valid unified social credit code (GB 32100) of an enterprise registered in Chengdu.

    Registration authority 9 (market regulation), type 1/2/3 (enterprise / individual business /
    farmers' cooperative), the 6-digit division of the registering office (the city, 510100, or one of
    its counties), an organization code with its own GB 11714 check character (since 2015 most start
    "MA"), and the GB 32100 check character over the first 17. Example: 91510104MA6C1PGT9W.
    """
    division = division or (CHENGDU + "00" if rng.random() < 0.2 else rng.choice(_counties(CHENGDU)))
    letters = USCC_ALPHABET[10:]
    if rng.random() < 0.7:
        body = "MA" + "".join(rng.choice(USCC_ALPHABET[:10] + letters) for _ in range(6))
    else:
        body = f"{rng.randrange(10**8):08d}"
    kind = rng.choices(USCC_TYPES, weights=USCC_TYPE_WEIGHTS)[0]
    first17 = f"9{kind}{division}{body}{org_code_check_char(body)}"
    return first17 + uscc_check_char(first17)


def company_name(rng: random.Random, *, city: str = "成都") -> str:
    """A company name such as 成都蓉兴科技有限公司 (city, trade name, industry, legal form)."""
    return city + rng.choice(TRADE_NAMES) + rng.choice(INDUSTRIES) + rng.choice(LEGAL_FORMS)


def address(rng: random.Random, *, county: str | None = None, township: str | None = None) -> str:
    """A street address inside a county (and township when given), such as
    武侯区浆洗街街道人民南路128号: district and street names from the division reference data."""
    names = divisions.names()
    county = county or (township[:6] if township else rng.choice(_counties(CHENGDU)))
    if township is None:
        towns = divisions.townships_of(county)
        township = rng.choice(towns) if towns else None
    road = rng.choice(ROAD_STEMS) + rng.choice(ROAD_SUFFIXES)
    return f"{names.get(county, '')}{names.get(township or '', '')}{road}{rng.randint(1, 399)}号"


def township_of(rng: random.Random, county: str) -> str | None:
    towns = divisions.townships_of(county)
    return rng.choice(towns) if towns else None


def village_of(rng: random.Random, township: str) -> str | None:
    villages = divisions.villages_of(township)
    return rng.choice(villages) if villages else None


def division_code(rng: random.Random, *, level: str, within: str = "", padded: bool = False) -> str | None:
    """A current code of `level` under `within`; provinces and cities short (51, 5101) or, with
    `padded`, in the 6-digit form departments pad them to (510000, 510100). None when none exists."""
    pool = division_pool(level, within, padded)
    return rng.choice(pool) if pool else None


@cache
def division_pool(level: str, within: str = "", padded: bool = False) -> tuple[str, ...]:
    """Sorted current codes of `level` under `within` (see `division_code`), cached per level."""
    codes = divisions.codes_at(level, within)
    if level in ("province", "city"):
        width = 6 if padded else 2 if level == "province" else 4
        codes = frozenset(c for c in codes if len(c) == width)
    return tuple(sorted(codes))


def decimal_between(rng: random.Random, low: object, high: object, *, scale: int) -> Decimal:
    """A decimal in [low, high] with exactly `scale` digits after the point (drawn in integer units of
    10^-scale, so no binary-float rounding shows up as 12.300000000000001)."""
    unit = Decimal(1).scaleb(-scale)
    lo = int((Decimal(str(low)) / unit).to_integral_value(rounding="ROUND_CEILING"))
    hi = int((Decimal(str(high)) / unit).to_integral_value(rounding="ROUND_FLOOR"))
    if hi < lo:
        raise ValueError(f"no value with scale {scale} between {low} and {high}")
    return (Decimal(rng.randint(lo, hi)) * unit).quantize(unit)


def flag(rng: random.Random, *, rate: float, texts: Sequence[str]) -> str:
    """texts[0] (yes) with probability `rate`, else texts[1] (no)."""
    return str(texts[0] if rng.random() < rate else texts[1])


def day_back(rng: random.Random, day: date, *, low: int, high: int) -> date:
    """A day between `high` and `low` days before `day` (both included)."""
    return day - timedelta(days=rng.randint(low, high))


def moment(rng: random.Random, day: date) -> datetime:
    """A time during `day`, busier in office hours."""
    hour = rng.choice((8, 9, 9, 10, 10, 10, 11, 11, 14, 14, 15, 15, 16, 16, 17, 19, 21))
    return datetime(day.year, day.month, day.day, hour, rng.randrange(60), rng.randrange(60))
