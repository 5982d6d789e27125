"""Valid values for catalog items: names, phones, resident IDs, division codes, times.

Every function takes the `random.Random` it draws from, so a seed fixes the whole export.
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from functools import lru_cache

from jobs.rules import divisions
from jobs.rules.identifiers import resident_id_check_char

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


@lru_cache(maxsize=1)
def _chengdu_counties() -> tuple[str, ...]:
    return tuple(sorted(divisions.codes_at("county", "5101")))


def person_name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))


def mobile(rng: random.Random) -> str:
    return rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}"


def resident_id(rng: random.Random, *, county: str | None = None, as_of: date = date(2026, 1, 1)) -> str:
    """A valid 18-character ID of someone aged 18-85 on `as_of`."""
    county = county or rng.choice(_chengdu_counties())
    born = as_of - timedelta(days=rng.randrange(18 * 365, 85 * 365))
    first17 = f"{county}{born:%Y%m%d}{rng.randrange(1000):03d}"
    return first17 + resident_id_check_char(first17)


def township_of(rng: random.Random, county: str) -> str | None:
    towns = divisions.townships_of(county)
    return rng.choice(towns) if towns else None


def moment(rng: random.Random, day: date) -> datetime:
    """A time during `day`, busier in office hours."""
    hour = rng.choice((8, 9, 9, 10, 10, 10, 11, 11, 14, 14, 15, 15, 16, 16, 17, 19, 21))
    return datetime(day.year, day.month, day.day, hour, rng.randrange(60), rng.randrange(60))
