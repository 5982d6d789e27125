"""`publish: mask` on an address: cut before the house number the Chinese way, or starred out whole,
never kept in part or emptied; publishing warns how many values were starred out."""

from __future__ import annotations

import logging
from datetime import datetime

import pytest
from pyspark.sql import functions as F

from jobs.catalog.model import DataItem, Resource, ShareAttribute, SourceSpec
from jobs.transforms.masking import ADDRESS_STARRED, mask_address, starred_addresses, to_open, warn_starred_addresses

pytestmark = pytest.mark.spark

ADDRESSES = [
    ("成都市武侯区浆洗街街道洗面桥街18号3栋", "成都市武侯区浆洗街街道"),
    ("成都市锦江区春熙路南段8号", "成都市锦江区春熙路"),
    ("郫都区团结镇", "郫都区团结镇"),                      # nothing after the township: kept whole
    ("成都市高新区天府大道中段1268号", ADDRESS_STARRED),       # 大道: no 路 / 街 / 镇 / 乡
    ("大邑县某某村3组", ADDRESS_STARRED),                    # a village group
    ("No. 18, Renmin South Road, Chengdu", ADDRESS_STARRED),  # another script
    ("成都市锦江区3号院旁小路", ADDRESS_STARRED),              # a house number before the road
    ("13812345678春熙路", ADDRESS_STARRED),                  # a phone number before the road
    (None, None),
]

SHOPS = Resource(
    name="shops", code="T-M1", title="商户", title_en="Shops", provider="p", summary="", theme="",
    update_cycle="daily", share=ShareAttribute("无条件共享"), open_type="无条件开放", source=SourceSpec(),
    primary_key=("shop_id",),
    items=(
        DataItem(name="shop_id", title="编号"),
        DataItem(name="address", title="经营场所", pii="address", publish="mask"),
        DataItem(name="home", title="住址", pii="address", publish="drop"),
    ),
)


def silver(spark, addresses):
    rows = [(f"S{n}", a, a, datetime(2026, 11, 26, 12)) for n, a in enumerate(addresses)]
    return spark.createDataFrame(rows, "shop_id string, address string, home string, _ingested_at timestamp")


def test_an_address_is_cut_the_chinese_way_or_starred_out_whole(spark):
    frame = spark.createDataFrame([(a,) for a, _ in ADDRESSES], "v string")
    masked = [r.out for r in frame.select(mask_address(F.col("v")).alias("out")).collect()]
    assert list(zip([a for a, _ in ADDRESSES], masked, strict=True)) == ADDRESSES


def test_publishing_warns_how_many_addresses_were_starred_out(spark, caplog):
    frame = silver(spark, [a for a, _ in ADDRESSES])
    assert starred_addresses(frame, SHOPS) == {"address": (5, 8)}  # the dropped `home` is not counted
    with caplog.at_level(logging.WARNING, logger="citylake"):
        warn_starred_addresses(frame, SHOPS)
        opened = to_open(frame, SHOPS)
    assert [r.message for r in caplog.records] == [
        "open shops.address: 5 of 8 addresses name no street, road or township (or hold a number before it) "
        "and are published as ***"]
    assert [r.address for r in opened.orderBy("shop_id").collect()] == [m for _, m in ADDRESSES]


def test_no_warning_when_every_address_names_its_street(spark, caplog):
    frame = silver(spark, ["成都市锦江区春熙路南段8号", None])
    with caplog.at_level(logging.WARNING, logger="citylake"):
        warn_starred_addresses(frame, SHOPS)
    assert caplog.records == []
