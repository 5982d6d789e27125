"""The CKAN-compatible API on a real server: uvicorn on loopback, real Delta tables, the real ckanapi client.

The zone is built without Spark: Delta tables written with deltalake (Chinese text, integers, decimals,
floats, UTC timestamps, dates, nulls), download files and a portal page written as publishing lays them
out, and two `OpenDataset` records in ``catalog.json``. ckanapi's RemoteCKAN posts JSON to
``/api/action/<name>`` and turns error envelopes back into its exceptions, so passing through it proves
clients see CKAN; raw HTTP checks what ckanapi hides (GET parameters, ``/api/3`` URLs, forms, status codes,
the envelope itself, static files and path traversal).
"""

from __future__ import annotations

import hashlib
import json
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from http.client import HTTPConnection
from pathlib import Path
from typing import Any

import ckanapi
import httpx
import pyarrow as pa
import pytest
import uvicorn
from deltalake import write_deltalake

from jobs.io.deltars import storage_options as delta_storage_options
from jobs.io.objects import LocalStore, ObjectStore, S3Store
from jobs.publish import layout
from jobs.publish.ckan import create_app
from jobs.publish.records import (
    MEDIA_TYPES,
    Distribution,
    FieldInfo,
    OpenDataset,
    Publisher,
    from_json,
    to_json,
)
from jobs.settings import Settings

BASE_URL = "https://data.example.gov.cn/open/"
BUS_ROWS = 250
DAY = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)
DISTRICTS = ["天河区", "越秀区", "海珠区", "白云区"]
TRANSPORT = Publisher(key="transport", code="11440100MB2C90001X", name="市交通运输局",
                      name_en="Municipal Transport Bureau")
ENVIRONMENT = Publisher(key="environment", code="11440100MB2C90002Y", name="市生态环境局",
                        name_en="Municipal Ecology and Environment Bureau")


# ---------------------------------------------------------------------------------------------- the zone


def bus_rows() -> pa.Table:
    """Per-line ridership; every 50th row has no district (a null for filters and sorting)."""
    n = range(BUS_ROWS)
    passengers = [1000 + (i * 37) % 5000 for i in n]
    return pa.table({
        "line_name": pa.array([f"快速公交B{i % 7}" if i % 10 == 0 else f"{i % 25 + 1}路" for i in n]),
        "district": pa.array([None if i % 50 == 49 else DISTRICTS[i % 4] for i in n], pa.string()),
        "passengers": pa.array(passengers, pa.int64()),
        "fare_income": pa.array([Decimal(p * 2) + Decimal("0.50") for p in passengers], pa.decimal128(12, 2)),
        "load_factor": pa.array([round((i % 100) / 100, 2) for i in n], pa.float64()),
        "recorded_at": pa.array([datetime(2026, 11, 1, tzinfo=UTC) + timedelta(hours=i) for i in n],
                                pa.timestamp("us", tz="UTC")),
        "service_day": pa.array([date(2026, 11, 1) + timedelta(days=i // 24) for i in n], pa.date32()),
    })


def air_rows() -> pa.Table:
    stations = ["广雅中学监测站", "市监测站", "麓湖监测站"]
    return pa.table({
        "station": pa.array([stations[i % 3] for i in range(30)]),
        "aqi": pa.array([40 + i * 3 for i in range(30)], pa.int32()),
        "pm25": pa.array([12.5 + i for i in range(30)], pa.float64()),
        "day": pa.array([date(2026, 11, 1) + timedelta(days=i // 3) for i in range(30)], pa.date32()),
    })


def distributions(store: ObjectStore, name: str, code: str, version: int, table: pa.Table
                  ) -> tuple[Distribution, ...]:
    """CSV and JSON downloads of `table`, stored under the version and latest/ paths."""
    rows = table.to_pylist()
    bodies = {
        "CSV": ("\ufeff" + ",".join(table.column_names) + "\r\n" + "".join(
            ",".join("" if v is None else str(v) for v in r.values()) + "\r\n" for r in rows)).encode(),
        "JSON": json.dumps(rows, ensure_ascii=False, default=str).encode(),
    }
    out = []
    for fmt, body in bodies.items():
        path = layout.version_file(name, version, code, DAY, fmt)
        latest = layout.latest_file(name, code, fmt)
        store.put_bytes(body, path, content_type=MEDIA_TYPES[fmt])
        store.put_bytes(body, latest, content_type=MEDIA_TYPES[fmt])
        out.append(Distribution(format=fmt, media_type=MEDIA_TYPES[fmt], file_name=path.rsplit("/", 1)[1],
                                path=path, latest_path=latest, size=len(body),
                                sha256=hashlib.sha256(body).hexdigest(), rows=len(rows)))
    return tuple(out)


def records(store: ObjectStore, tables: dict[str, str]) -> list[OpenDataset]:
    bus, air = bus_rows(), air_rows()
    return [
        OpenDataset(
            name="bus_ridership", code="440100/JT-00012", title="公交线路客流统计", title_en="Bus line ridership",
            summary="全市公交线路每小时客流量、票款收入与满载率，按行政区划分。", publisher=TRANSPORT,
            theme="交通出行", open_type="无条件开放", update_cycle="daily", update_cycle_zh="每日",
            kind="detail", source="bus_ridership", issued="2026-01-15",
            modified="2026-11-26T02:00:00+00:00", version=3, rows=bus.num_rows,
            fields=(FieldInfo("line_name", "线路名称", "string"), FieldInfo("district", "行政区", "string"),
                    FieldInfo("passengers", "客流量", "bigint", "人次"),
                    FieldInfo("fare_income", "票款收入", "decimal(12,2)", "元"),
                    FieldInfo("load_factor", "满载率", "double"), FieldInfo("recorded_at", "统计时间", "timestamp"),
                    FieldInfo("service_day", "运营日期", "date")),
            distributions=distributions(store, "bus_ridership", "440100/JT-00012", 3, bus),
            keywords=("公交", "客流", "bus")),
        OpenDataset(
            name="air_quality_daily", code="440100/HB-00003", title="空气质量日报", title_en="Daily air quality",
            summary="各国控监测站点每日空气质量指数（AQI）与PM2.5浓度。", publisher=ENVIRONMENT,
            theme="生态环境", open_type="无条件开放", update_cycle="daily", update_cycle_zh="每日",
            kind="aggregate", source="air_quality", issued="2025-06-01",
            modified="2026-11-20T09:30:00+00:00", version=1, rows=air.num_rows,
            fields=(FieldInfo("station", "监测站点", "string"), FieldInfo("aqi", "空气质量指数", "int"),
                    FieldInfo("pm25", "PM2.5浓度", "double", "微克/立方米"), FieldInfo("day", "日期", "date")),
            distributions=distributions(store, "air_quality_daily", "440100/HB-00003", 1, air),
            keywords=("空气质量", "AQI")),
    ]


def build_zone(store: ObjectStore, tables: dict[str, str], storage_options: dict[str, str] | None = None
               ) -> list[OpenDataset]:
    write_deltalake(tables["bus_ridership"], bus_rows(), mode="overwrite", storage_options=storage_options)
    write_deltalake(tables["air_quality_daily"], air_rows(), mode="overwrite", storage_options=storage_options)
    datasets = records(store, tables)
    store.put_bytes(to_json(datasets).encode(), layout.CATALOG_JSON, content_type="application/json")
    store.put_bytes(b'{"@context": "https://www.w3.org/ns/dcat.jsonld", "@type": "dcat:Catalog"}',
                    layout.CATALOG_JSONLD, content_type="application/ld+json")
    store.put_bytes("<!doctype html><title>城市开放数据</title>".encode(), "portal/index.html",
                    content_type="text/html")
    return datasets


def tables_root(zone_root: Path) -> str:
    """Where the `zone` fixture keeps its open tables: `<home>/lake/open`, beside `<home>/open`."""
    return str(zone_root.parent / "lake" / "open")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running(app: Any, port: int | None = None) -> Iterator[str]:
    """`app` served by uvicorn on `port` (a free loopback port) in a background thread; yields its URL."""
    port = port or free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"uvicorn did not start on port {port}")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def zone(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[OpenDataset]]:
    home = tmp_path_factory.mktemp("ckan-zone")
    (home / "secret.txt").write_text("outside the zone")
    root = home / "open"
    tables = {n: str(home / "lake" / "open" / n) for n in ("bus_ridership", "air_quality_daily")}
    return root, build_zone(LocalStore(root), tables)


@pytest.fixture(scope="module")
def url(zone: tuple[Path, list[OpenDataset]]) -> Iterator[str]:
    app = create_app(LocalStore(zone[0]), base_url=BASE_URL, tables_root=tables_root(zone[0]))
    with running(app) as address:
        yield address


@pytest.fixture(scope="module")
def ckan(url: str) -> Iterator[ckanapi.RemoteCKAN]:
    with ckanapi.RemoteCKAN(url) as client:
        yield client


@pytest.fixture(scope="module")
def web(url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=url, timeout=30) as client:
        yield client


def all_bus_rows(ckan: ckanapi.RemoteCKAN) -> list[dict[str, Any]]:
    return ckan.action.datastore_search(resource_id="bus_ridership", limit=1000)["records"]


# ---------------------------------------------------------------------------------------------- packages


def test_package_list_names_sorted_with_limit_and_offset(ckan: ckanapi.RemoteCKAN) -> None:
    assert ckan.action.package_list() == ["air_quality_daily", "bus_ridership"]
    assert ckan.action.package_list(limit=1) == ["air_quality_daily"]
    assert ckan.action.package_list(limit=1, offset=1) == ["bus_ridership"]


def test_package_show_maps_the_record_to_ckan_fields(ckan: ckanapi.RemoteCKAN,
                                                      zone: tuple[Path, list[OpenDataset]]) -> None:
    bus = zone[1][0]
    pkg = ckan.action.package_show(id="bus_ridership")
    assert (pkg["name"], pkg["title"], pkg["notes"]) == (bus.name, "公交线路客流统计", bus.summary)
    assert uuid.UUID(pkg["id"]) and pkg["type"] == "dataset" and pkg["state"] == "active" and pkg["private"] is False
    assert pkg["metadata_created"] == "2026-01-15T00:00:00"
    assert pkg["metadata_modified"] == "2026-11-26T02:00:00"
    assert (pkg["license_id"], pkg["license_url"]) == ("CC-BY-4.0", "https://creativecommons.org/licenses/by/4.0/")
    assert pkg["license_title"].startswith("Creative Commons Attribution 4.0")
    org = pkg["organization"]
    assert (org["name"], org["title"], org["is_organization"]) == ("transport", "市交通运输局", True)
    assert pkg["owner_org"] == org["id"]
    assert [t["name"] for t in pkg["tags"]] == ["公交", "客流", "bus"] and pkg["num_tags"] == 3
    assert [g["name"] for g in pkg["groups"]] == ["交通出行"]
    extras = {e["key"]: e["value"] for e in pkg["extras"]}
    assert extras["来源部门"] == "市交通运输局" and extras["开放属性"] == "无条件开放"
    assert extras["更新频率"] == "每日" and extras["数据量"] == str(BUS_ROWS)
    assert extras["资源代码"] == "440100/JT-00012" and extras["title_en"] == "Bus line ridership"

    files, table = pkg["resources"][:-1], pkg["resources"][-1]
    assert pkg["num_resources"] == len(pkg["resources"]) == len(bus.distributions) + 1
    for res, dist in zip(files, bus.distributions, strict=True):
        assert res["url"] == BASE_URL + dist.path
        assert (res["format"], res["mimetype"], res["size"]) == (dist.format, dist.media_type, dist.size)
        assert res["hash"] == f"sha256:{dist.sha256}" and res["datastore_active"] is False
        assert res["package_id"] == pkg["id"]
    assert files[0]["url"] == BASE_URL + "datasets/bus_ridership/v3/440100_JT-00012_20261126.csv"
    assert (table["id"], table["datastore_active"]) == ("bus_ridership", True)


def test_package_show_accepts_code_and_id_and_refuses_unknown(ckan: ckanapi.RemoteCKAN) -> None:
    by_name = ckan.action.package_show(id="bus_ridership")
    assert ckan.action.package_show(id="440100/JT-00012") == by_name
    assert ckan.action.package_show(id=by_name["id"]) == by_name
    with pytest.raises(ckanapi.NotFound):
        ckan.action.package_show(id="no_such_dataset")
    with pytest.raises(ckanapi.ValidationError) as missing:
        ckan.action.package_show()
    assert missing.value.error_dict["id"] == ["Missing value"]


def test_resource_show(ckan: ckanapi.RemoteCKAN) -> None:
    assert ckan.action.resource_show(id="bus_ridership-csv")["format"] == "CSV"
    with pytest.raises(ckanapi.NotFound):
        ckan.action.resource_show(id="bus_ridership-pdf")


def names(result: dict[str, Any]) -> list[str]:
    return [p["name"] for p in result["results"]]


def test_package_search_full_text_matches_chinese_substrings(ckan: ckanapi.RemoteCKAN) -> None:
    search = ckan.action.package_search
    assert names(search(q="客流")) == ["bus_ridership"]  # inside 公交线路客流统计
    assert names(search(q="空气")) == ["air_quality_daily"]
    assert names(search(q="满载率")) == ["bus_ridership"]  # a column title
    assert names(search(q="PM2.5")) == ["air_quality_daily"]  # summary, case-insensitive
    assert names(search(q="daily AIR")) == ["air_quality_daily"]  # title_en, every term must match
    assert names(search(q="公交 -票款")) == []
    assert search(q="地铁")["count"] == 0
    everything = search()
    assert everything["count"] == 2 and everything["sort"] == "score desc, metadata_modified desc"
    assert names(everything) == ["bus_ridership", "air_quality_daily"]  # newest first
    assert everything["facets"] == {} and everything["search_facets"] == {}


def test_package_search_fq_on_organization_tags_groups_and_extras(ckan: ckanapi.RemoteCKAN) -> None:
    search = ckan.action.package_search
    assert names(search(fq="organization:transport")) == ["bus_ridership"]
    assert names(search(fq="-organization:transport")) == ["air_quality_daily"]
    assert names(search(fq="tags:AQI")) == ["air_quality_daily"]
    assert names(search(fq="groups:交通出行")) == ["bus_ridership"]
    assert names(search(fq="res_format:CSV", sort="name asc")) == ["air_quality_daily", "bus_ridership"]
    assert search(fq='开放属性:"无条件开放" kind:aggregate')["count"] == 1
    assert names(search(fq="organization:(transport OR environment) open_type:无条件开放", sort="name desc")) == [
        "bus_ridership", "air_quality_daily"]
    assert names(search(q="organization:environment")) == ["air_quality_daily"]
    assert names(search(fq_list=["tags:公交", "update_cycle:daily"])) == ["bus_ridership"]
    with pytest.raises(ckanapi.SearchQueryError):
        search(fq="colour:red")


def test_package_search_sort_rows_start_and_facets(ckan: ckanapi.RemoteCKAN) -> None:
    search = ckan.action.package_search
    assert names(search(sort="metadata_modified asc")) == ["air_quality_daily", "bus_ridership"]
    assert names(search(sort="name desc", rows=1)) == ["bus_ridership"]
    page = search(sort="name asc", rows=1, start=1)
    assert page["count"] == 2 and names(page) == ["bus_ridership"]
    assert names(search(sort="title asc"))[0] in ("air_quality_daily", "bus_ridership")
    faceted = search(**{"facet.field": ["organization", "res_format"]})
    assert faceted["facets"]["organization"] == {"environment": 1, "transport": 1}
    assert faceted["facets"]["res_format"] == {"API": 2, "CSV": 2, "JSON": 2}
    items = faceted["search_facets"]["organization"]["items"]
    assert {i["display_name"] for i in items} == {"市交通运输局", "市生态环境局"}
    with pytest.raises(ckanapi.SearchQueryError):
        search(sort="popularity desc")
    with pytest.raises(ckanapi.ValidationError) as bad:
        search(rows="many")
    assert bad.value.error_dict["rows"] == ["Invalid integer"]


# ---------------------------------------------------------------------------------------------- organizations


def test_organization_list_and_show(ckan: ckanapi.RemoteCKAN) -> None:
    assert ckan.action.organization_list() == ["transport", "environment"]  # by title: 市交通… < 市生态…
    assert ckan.action.organization_list(sort="name asc") == ["environment", "transport"]
    full = ckan.action.organization_list(all_fields=True, sort="name")
    assert [(o["name"], o["title"], o["package_count"]) for o in full] == [
        ("environment", "市生态环境局", 1), ("transport", "市交通运输局", 1)]
    org = ckan.action.organization_show(id="transport")
    assert org["title"] == "市交通运输局" and org["package_count"] == 1 and "packages" not in org
    assert {e["key"]: e["value"] for e in org["extras"]}["code"] == TRANSPORT.code
    assert ckan.action.organization_show(id=TRANSPORT.code)["name"] == "transport"
    with_datasets = ckan.action.organization_show(id="environment", include_datasets=True)
    assert [p["name"] for p in with_datasets["packages"]] == ["air_quality_daily"]
    with pytest.raises(ckanapi.NotFound):
        ckan.action.organization_show(id="police")


# ---------------------------------------------------------------------------------------------- datastore


def test_datastore_search_defaults_fields_and_values(ckan: ckanapi.RemoteCKAN) -> None:
    result = ckan.action.datastore_search(resource_id="bus_ridership")
    assert result["resource_id"] == "bus_ridership" and result["total"] == BUS_ROWS
    assert (result["limit"], result["offset"], len(result["records"])) == (100, 0, 100)
    assert [(f["id"], f["type"]) for f in result["fields"]] == [
        ("_id", "int"), ("line_name", "text"), ("district", "text"), ("passengers", "int8"),
        ("fare_income", "numeric"), ("load_factor", "float8"), ("recorded_at", "timestamptz"),
        ("service_day", "date")]
    assert result["fields"][3]["info"] == {"label": "客流量", "notes": "人次"}
    assert "stable within it only" in result["fields"][0]["info"]["notes"]
    first = result["records"][0]
    assert first == {"_id": 1, "line_name": "快速公交B0", "district": "天河区", "passengers": 1000,
                     "fare_income": 2000.5, "load_factor": 0.0, "recorded_at": "2026-11-01T00:00:00+00:00",
                     "service_day": "2026-11-01"}
    assert [r["_id"] for r in result["records"]] == list(range(1, 101))
    assert result["records"][49]["district"] is None
    assert result["_links"]["start"].startswith("/api/action/datastore_search?")


def test_datastore_search_pages_cover_the_table_once(ckan: ckanapi.RemoteCKAN) -> None:
    everything = all_bus_rows(ckan)
    assert len(everything) == BUS_ROWS
    pages, offset = [], 0
    while True:
        page = ckan.action.datastore_search(resource_id="bus_ridership", limit=60, offset=offset)
        assert page["total"] == BUS_ROWS
        if not page["records"]:
            break
        pages.extend(page["records"])
        offset += 60
    assert pages == everything
    assert ckan.action.datastore_search(resource_id="bus_ridership", offset=10_000)["records"] == []
    assert ckan.action.datastore_search(resource_id="bus_ridership", limit=999_999)["limit"] == 32000


def test_datastore_search_filters_q_fields_and_sort(ckan: ckanapi.RemoteCKAN) -> None:
    search, everything = ckan.action.datastore_search, all_bus_rows(ckan)
    tianhe = search(resource_id="bus_ridership", filters={"district": "天河区"}, limit=1000)
    assert tianhe["total"] == sum(r["district"] == "天河区" for r in everything) == len(tianhe["records"])
    both = search(resource_id="bus_ridership", filters={"district": ["越秀区", "海珠区"], "passengers": 1037})
    assert [r["line_name"] for r in both["records"]] == ["2路"]
    assert search(resource_id="bus_ridership", filters={"fare_income": "2074.50"})["total"] == 1
    assert search(resource_id="bus_ridership", filters={"service_day": "2026-11-02"})["total"] == 24
    assert search(resource_id="bus_ridership", filters={"district": None})["total"] == 5
    at = search(resource_id="bus_ridership", filters={"recorded_at": "2026-11-01T13:00:00+08:00"})["records"]
    assert [r["passengers"] for r in at] == [1000 + 5 * 37]  # 05:00 UTC: the sixth hour
    express = search(resource_id="bus_ridership", q="快速公交", limit=1000)
    assert express["total"] == 25 and all(r["line_name"].startswith("快速公交") for r in express["records"])
    assert search(resource_id="bus_ridership", q="b3 天河")["total"] == sum(
        r["line_name"] == "快速公交B3" and r["district"] == "天河区" for r in everything)
    assert search(resource_id="bus_ridership", q={"line_name": "25路"})["total"] == 10
    top = search(resource_id="bus_ridership", fields=["line_name", "passengers"], sort="passengers desc", limit=3)
    assert [f["id"] for f in top["fields"]] == ["line_name", "passengers"]
    assert [r["passengers"] for r in top["records"]] == sorted((r["passengers"] for r in everything),
                                                               reverse=True)[:3]
    assert set(top["records"][0]) == {"line_name", "passengers"}
    ordered = search(resource_id="bus_ridership", sort="district, passengers desc", limit=1000)["records"]
    assert [r["district"] for r in ordered[-5:]] == [None] * 5  # PostgreSQL's order: nulls last ascending
    descending = search(resource_id="bus_ridership", sort="district desc", limit=6)["records"]
    assert [r["district"] for r in descending] == [None] * 5 + ["越秀区"]  # ... and first descending
    assert ordered[0]["district"] == "天河区" and ordered[0]["passengers"] == max(
        r["passengers"] for r in everything if r["district"] == "天河区")
    lists = search(resource_id="bus_ridership", records_format="lists", fields="passengers,district", limit=2)
    assert lists["records"] == [[1000, "天河区"], [1037, "越秀区"]]


def test_datastore_search_errors(ckan: ckanapi.RemoteCKAN) -> None:
    search = ckan.action.datastore_search
    with pytest.raises(ckanapi.NotFound):
        search(resource_id="no_such_table")
    with pytest.raises(ckanapi.NotFound):
        search(resource_id="bus_ridership-csv")  # a download file, not a datastore table
    with pytest.raises(ckanapi.ValidationError) as missing:
        search()
    assert missing.value.error_dict["resource_id"] == ["Missing value"]
    with pytest.raises(ckanapi.ValidationError) as unknown:
        search(resource_id="bus_ridership", filters={"colour": "red"})
    assert "colour" in unknown.value.error_dict["filters"][0]
    with pytest.raises(ckanapi.ValidationError) as typed:
        search(resource_id="bus_ridership", filters={"passengers": "many"})
    assert "passengers" in typed.value.error_dict["filters"][0]
    for params in ({"sort": "colour desc"}, {"fields": ["line_name", "colour"]}, {"limit": -1},
                   {"records_format": "xml"}, {"q": {"colour": "red"}}):
        with pytest.raises(ckanapi.ValidationError):
            search(resource_id="bus_ridership", **params)


def test_tables_too_big_for_memory_are_scanned_with_the_same_answers(
        ckan: ckanapi.RemoteCKAN, zone: tuple[Path, list[OpenDataset]]) -> None:
    """memory_bytes=0 keeps every table file-backed: each request scans Parquet with the filter pushed down."""
    queries: list[dict[str, Any]] = [
        {}, {"limit": 7, "offset": 240}, {"filters": {"district": ["越秀区", "海珠区"]}, "limit": 30, "offset": 40},
        {"sort": "district desc, passengers", "limit": 20, "offset": 3}, {"q": "快速公交 b2"},
        {"q": {"line_name": "5路"}, "fields": ["passengers"], "sort": "passengers"},
        {"filters": {"district": None}, "include_total": False},
    ]
    app = create_app(LocalStore(zone[0]), base_url=BASE_URL, tables_root=tables_root(zone[0]), memory_bytes=0)
    with running(app) as address, \
            ckanapi.RemoteCKAN(address) as scanned:
        for query in queries:
            expected = ckan.action.datastore_search(resource_id="bus_ridership", **query)
            got = scanned.action.datastore_search(resource_id="bus_ridership", **query)
            assert got["records"] == expected["records"] and got.get("total") == expected.get("total"), query
        assert "total" not in got


# ---------------------------------------------------------------------------------------------- raw HTTP


@pytest.mark.parametrize("prefix", ["/api/3/action", "/api/action"])
def test_get_and_post_share_the_envelope_on_both_prefixes(web: httpx.Client, url: str, prefix: str) -> None:
    got = web.get(f"{prefix}/package_show", params={"id": "bus_ridership", "use_default_schema": "true",
                                                     "whatever": "x"})
    posted = web.post(f"{prefix}/package_show", json={"id": "bus_ridership", "include_tracking": True})
    for response in (got, posted):
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/json; charset=utf-8"
        body = response.json()
        assert set(body) == {"help", "success", "result"} and body["success"] is True
        assert body["help"] == f"{url}/api/3/action/help_show?name=package_show"
    assert got.json()["result"] == posted.json()["result"]
    form = web.post(f"{prefix}/package_search", data={"q": "空气", "rows": "5"})
    assert [p["name"] for p in form.json()["result"]["results"]] == ["air_quality_daily"]


def test_errors_carry_ckan_status_codes_and_types(web: httpx.Client) -> None:
    missing = web.get("/api/3/action/package_show", params={"id": "nope"})
    assert missing.status_code == 404
    body = missing.json()
    assert body["success"] is False and "result" not in body and body["help"].endswith("name=package_show")
    assert body["error"]["__type"] == "Not Found Error"
    invalid = web.get("/api/3/action/datastore_search", params={"resource_id": "bus_ridership", "limit": "x"})
    assert invalid.status_code == 409
    assert invalid.json()["error"] == {"__type": "Validation Error", "limit": ["Invalid integer"],
                                       "message": "limit: Invalid integer"}
    query = web.get("/api/3/action/package_search", params={"fq": "colour:red"})
    assert query.status_code == 400 and query.json()["error"]["__type"] == "Search Query Error"  # as CKAN's
    extra = web.get("/api/3/action/package_search", params={"q": "公交", "colour": "red"})
    assert extra.status_code == 400 and extra.json()["error"] == {
        "__type": "Search Query Error", "message": "Search Query is invalid: \"Invalid search parameters: ['colour']\""}
    assert web.get("/api/3/action/package_search", params={"ext_bbox": "1,2,3,4", "wt": "json"}).status_code == 200
    junk = web.get("/api/3/action/datastore_search", params={"resource_id": "bus_ridership", "colour": "red"})
    assert junk.status_code == 409 and junk.json()["error"]["__extras"] == ['invalid value "colour"']
    unknown = web.get("/api/3/action/package_delete", params={"id": "bus_ridership"})
    assert unknown.status_code == 400
    assert unknown.json() == "Bad request - Action name not known: package_delete"
    broken = web.post("/api/3/action/package_show", content=b"{not json", headers={"content-type": "application/json"})
    assert broken.status_code == 400 and broken.json().startswith("Bad request - JSON Error")


def test_datastore_search_over_get_with_json_and_comma_parameters(web: httpx.Client) -> None:
    params = {"resource_id": "bus_ridership", "filters": json.dumps({"district": "白云区"}, ensure_ascii=False),
              "fields": "passengers,district", "sort": "passengers asc", "limit": "20"}
    first = web.get("/api/3/action/datastore_search", params=params).json()["result"]
    assert first["total"] == 60 and len(first["records"]) == 20
    assert {r["district"] for r in first["records"]} == {"白云区"}
    assert first["_links"]["start"].startswith("/api/3/action/datastore_search?")
    second = web.get(first["_links"]["next"]).json()["result"]
    assert second["offset"] == 20 and second["total"] == 60
    seen = [r["passengers"] for r in first["records"] + second["records"]]
    assert seen == sorted(seen) and len(set(seen)) == 40
    repeated = web.get("/api/3/action/datastore_search",
                        params=[("resource_id", "air_quality_daily"), ("fields", "station"), ("fields", "aqi"),
                                ("limit", "1")]).json()["result"]
    assert repeated["records"] == [{"station": "广雅中学监测站", "aqi": 40}]


@pytest.mark.parametrize("method, path, params, body, status", [
    ("GET", "/api/3/action/datastore_search", {"resource_id": "bus_ridership", "limit": "10" * 40}, None, 200),
    ("GET", "/api/3/action/datastore_search", {"resource_id": "bus_ridership", "offset": "-1"}, None, 409),
    ("GET", "/api/3/action/datastore_search", {"resource_id": "bus_ridership", "fields": "line_name,\"; DROP"},
     None, 409),
    ("GET", "/api/3/action/datastore_search",
     {"resource_id": "bus_ridership", "filters": '{"district": "天河区\' OR 1=1 --"}'}, None, 200),
    ("GET", "/api/3/action/datastore_search", {"resource_id": "bus_ridership", "sort": "1; DELETE FROM x"},
     None, 409),
    ("GET", "/api/3/action/datastore_search", {"resource_id": "../../secret.txt"}, None, 404),
    ("GET", "/api/3/action/package_search", {"q": "公交" * 3000}, None, 409),
    ("GET", "/api/3/action/package_search", {"q": "((((((((("}, None, 400),
    ("GET", "/api/3/action/package_search", {"rows": "99999999999999999999"}, None, 200),
    ("POST", "/api/3/action/package_show", None, b'{"id": "bus_ridership"', 400),
    ("POST", "/api/3/action/datastore_search", None, b"[1, 2, 3]", 400),
    ("POST", "/api/3/action/datastore_search", None, b'{"resource_id": "bus_ridership", "x": "' + b"y" * (2 << 20)
     + b'"}', 400),
])
def test_hostile_requests_get_ckan_shaped_4xx_never_a_500(web: httpx.Client, method: str, path: str,
                                                          params: dict | None, body: bytes | None,
                                                          status: int) -> None:
    """What a scanner or a careless client sends: each answered in CKAN's shape, no 500, nothing but rows."""
    answer = web.request(method, path, params=params, content=body,
                         headers={"content-type": "application/json"} if body is not None else None)
    assert answer.status_code == status, answer.text[:300]
    payload = answer.json()
    if status >= 400 and isinstance(payload, dict):
        assert payload["success"] is False and payload["error"]["__type"], payload
    elif status >= 400:
        assert payload.startswith("Bad request - "), payload
    if status == 200 and "filters" in (params or {}):  # a filter that looks like SQL is a value: no row has it
        assert payload["result"]["records"] == [] and payload["result"]["total"] == 0
    elif status == 200 and "limit" in (params or {}):  # an absurd limit is capped as CKAN caps it
        assert payload["result"]["limit"] == 32000 and len(payload["result"]["records"]) == BUS_ROWS
    elif status == 200:  # an absurd rows is capped too, and everything is found
        assert payload["result"]["count"] == 2


def test_help_show_documents_the_actions(web: httpx.Client) -> None:
    doc = web.get("/api/3/action/help_show", params={"name": "datastore_search"}).json()["result"]
    assert "resource_id" in doc and "filters" in doc
    assert web.get("/api/3/action/help_show", params={"name": "package_delete"}).status_code == 404


# ---------------------------------------------------------------------------------------------- static files


def test_static_files_with_content_types(web: httpx.Client, zone: tuple[Path, list[OpenDataset]]) -> None:
    catalog = web.get("/catalog.json")
    assert catalog.status_code == 200 and catalog.headers["content-type"] == "application/json; charset=utf-8"
    assert [d.name for d in from_json(catalog.text)] == ["air_quality_daily", "bus_ridership"]
    assert "lake" not in catalog.text and '"table"' not in catalog.text  # the lake's location is no public fact
    assert web.get("/catalog.jsonld").headers["content-type"] == "application/ld+json; charset=utf-8"
    csv_dist = zone[1][0].distribution("CSV")
    download = web.get("/" + csv_dist.path)
    assert download.headers["content-type"] == "text/csv; charset=utf-8"
    assert hashlib.sha256(download.content).hexdigest() == csv_dist.sha256
    assert web.get("/" + csv_dist.latest_path).content == download.content
    portal = web.get("/portal/index.html")
    assert portal.headers["content-type"] == "text/html; charset=utf-8" and "城市开放数据" in portal.text
    assert web.get("/portal/").content == portal.content
    assert web.head("/catalog.json").headers["content-length"] == str(len(catalog.content))
    home = web.get("/", follow_redirects=False)
    assert home.status_code in (302, 307) and home.headers["location"] == "/portal/index.html"
    assert web.get("/portal/missing.html").status_code == 404
    assert web.get("/datasets/bus_ridership/v9/none.csv").status_code == 404


@pytest.mark.parametrize("path", [
    "/datasets/../../secret.txt", "/datasets/%2e%2e/%2e%2e/secret.txt", "/portal/..%2f..%2fsecret.txt",
    "/datasets/bus_ridership/../../../secret.txt", "/portal//etc/passwd", "/portal/%2Fetc%2Fpasswd",
    "/datasets/bus_ridership/v3/.440100_JT-00012_20261126.csv.part", "/portal/..\\..\\secret.txt",
])
def test_path_traversal_is_refused(url: str, path: str) -> None:
    """Raw request lines (http.client does not normalise '..' the way httpx does)."""
    conn = HTTPConnection(url.removeprefix("http://"), timeout=10)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        body = response.read()
    finally:
        conn.close()
    assert response.status == 404 and b"outside the zone" not in body


# ---------------------------------------------------------------------------------------------- refresh


@contextmanager
def refreshing_zone(tmp_path: Path) -> Iterator[tuple[LocalStore, list[OpenDataset], ckanapi.RemoteCKAN]]:
    """A zone of its own, served with a 0.1 s catalog refresh so a test can publish into it."""
    tables = {n: str(tmp_path / "lake" / n) for n in ("bus_ridership", "air_quality_daily")}
    store = LocalStore(tmp_path / "open")
    datasets = build_zone(store, tables)
    app = create_app(store, base_url=BASE_URL, tables_root=str(tmp_path / "lake"), refresh_seconds=0.1)
    with running(app) as address, ckanapi.RemoteCKAN(address) as ckan:
        yield store, datasets, ckan


def publish_records(store: LocalStore, ckan: ckanapi.RemoteCKAN, records: list[OpenDataset],
                    served: Callable[[ckanapi.RemoteCKAN], bool]) -> None:
    """Write a new catalog.json and wait until the server answers with it (`served` says when)."""
    store.put_bytes(to_json(records).encode(), layout.CATALOG_JSON)
    deadline = time.monotonic() + 10
    while not served(ckan):
        assert time.monotonic() < deadline, "the new catalog.json was not picked up"
        time.sleep(0.05)


def test_a_new_publish_is_served_without_restart(tmp_path: Path) -> None:
    tables = {n: str(tmp_path / "lake" / n) for n in ("bus_ridership", "air_quality_daily")}
    with refreshing_zone(tmp_path) as (store, datasets, ckan):
        assert ckan.action.datastore_search(resource_id="air_quality_daily")["total"] == 30
        write_deltalake(tables["air_quality_daily"], air_rows().slice(0, 6), mode="overwrite")
        renamed = replace(datasets[1], title="空气质量日报（修订）", version=2, rows=6,
                          modified="2026-11-27T02:00:00+00:00")
        publish_records(store, ckan, [datasets[0], renamed],
                        lambda c: c.action.package_show(id="air_quality_daily")["title"] == renamed.title)
        assert ckan.action.datastore_search(resource_id="air_quality_daily")["total"] == 6
        store.put_bytes(b"{ half written", layout.CATALOG_JSON)  # a broken catalog keeps the last good one
        time.sleep(0.3)
        assert ckan.action.package_show(id="air_quality_daily")["title"] == renamed.title


def test_a_harvester_takes_everything_then_only_what_changed(tmp_path: Path) -> None:
    """A CKAN harvester's loop (ckanext-harvest's CKAN harvester asks exactly so): a full harvest by pages,
    then after a publish only the datasets modified since the last run, by a Solr range on metadata_modified."""
    with refreshing_zone(tmp_path) as (store, datasets, ckan):
        harvested, start = {}, 0
        while page := ckan.action.package_search(q="*:*", rows=1, start=start, sort="metadata_modified asc")[
                "results"]:
            harvested.update({p["name"]: p["metadata_modified"] for p in page})
            start += 1
        assert harvested == {"air_quality_daily": "2026-11-20T09:30:00", "bus_ridership": "2026-11-26T02:00:00"}
        last_run = max(harvested.values())
        since = (datetime.fromisoformat(last_run) + timedelta(seconds=1)).isoformat()
        assert ckan.action.package_search(fq=f"metadata_modified:[{since}Z TO *]")["count"] == 0

        republished = replace(datasets[1], version=2, modified="2026-11-27T02:00:00+00:00")
        publish_records(store, ckan, [datasets[0], republished],
                        lambda c: c.action.package_show(id="air_quality_daily")["version"] == "2")
        changed = ckan.action.package_search(fq=f"metadata_modified:[{since}Z TO *]", fl="name,metadata_modified")
        assert changed["results"] == [{"name": "air_quality_daily", "metadata_modified": "2026-11-27T02:00:00"}]
        search = ckan.action.package_search
        assert names(search(fq="metadata_modified:{2026-11-26T02:00:00Z TO *]")) == ["air_quality_daily"]
        assert names(search(fq="metadata_modified:[* TO 2026-11-26T02:00:00Z]")) == ["bus_ridership"]
        assert names(search(fq="metadata_created:[2026-01-01T00:00:00Z TO NOW]")) == ["bus_ridership"]
        assert search(fq="metadata_modified:[NOW-1DAY TO NOW/DAY+1DAY]")["count"] == 0
        assert names(search(q="公交 OR 空气", sort="name asc")) == ["air_quality_daily", "bus_ridership"]
        assert names(search(q="公交 OR 不存在")) == ["bus_ridership"]
        recent = ckan.action.current_package_list_with_resources(limit=1)
        assert [p["name"] for p in recent] == ["air_quality_daily"] and recent[0]["resources"]
        assert [p["name"] for p in ckan.action.current_package_list_with_resources(limit=1, page=2)] == [
            "bus_ridership"]
        for bad in ("metadata_modified:[yesterday TO *]", "metadata_modified:[2026 TO", "公交 OR"):
            with pytest.raises(ckanapi.SearchQueryError):
                search(fq=bad)


def test_licence_tag_and_group_lists_and_site_read(ckan: ckanapi.RemoteCKAN) -> None:
    (licence,) = ckan.action.license_list()
    assert licence["id"] == "CC-BY-4.0" and licence["url"] == "https://creativecommons.org/licenses/by/4.0/"
    assert licence["od_conformance"] == "approved" and licence["status"] == "active"
    assert ckan.action.package_show(id="bus_ridership")["license_id"] == licence["id"]
    assert ckan.action.tag_list() == sorted(["公交", "客流", "bus", "空气质量", "AQI"])
    assert ckan.action.tag_list(query="公") == ["公交"]
    assert ckan.action.tag_list(query="a", all_fields=True)[0].keys() == {"id", "name", "vocabulary_id",
                                                                           "display_name"}
    assert ckan.action.tag_list(vocabulary_id="anything") == []
    assert ckan.action.group_list() == ["交通出行", "生态环境"]
    groups = ckan.action.group_list(all_fields=True, sort="name desc")
    assert [(g["name"], g["package_count"], g["is_organization"]) for g in groups] == [
        ("生态环境", 1, False), ("交通出行", 1, False)]
    assert groups[0]["id"] == ckan.action.package_show(id="air_quality_daily")["groups"][0]["id"]
    assert ckan.action.site_read() is True


def test_datastore_id_alias_row_ids_distinct_csv_and_exact_decimals(
        ckan: ckanapi.RemoteCKAN, web: httpx.Client, zone: tuple[Path, list[OpenDataset]]) -> None:
    search = ckan.action.datastore_search
    by_id = search(id="bus_ridership", limit=3)  # CKAN renames id to resource_id
    assert by_id["resource_id"] == "bus_ridership" and [r["_id"] for r in by_id["records"]] == [1, 2, 3]
    everything = all_bus_rows(ckan)
    assert [r["_id"] for r in everything] == list(range(1, BUS_ROWS + 1))
    last = search(resource_id="bus_ridership", sort="_id desc", limit=2)["records"]
    assert [r["_id"] for r in last] == [BUS_ROWS, BUS_ROWS - 1] and last[0] == everything[-1]
    assert search(resource_id="bus_ridership", filters={"_id": 42})["records"] == [everything[41]]
    assert "_id" not in search(resource_id="bus_ridership", fields="district", limit=1)["records"][0]
    districts = search(resource_id="bus_ridership", fields="district", distinct=True, sort="district", limit=100)
    assert [r["district"] for r in districts["records"]] == sorted(
        {r["district"] for r in everything if r["district"]}) + [None]
    assert districts["total"] == len({r["district"] for r in everything})
    as_csv = search(resource_id="bus_ridership", fields="_id,line_name,fare_income", records_format="csv", limit=2)
    assert as_csv["records"] == "1,快速公交B0,2000.50\n2,2路,2074.50\n"
    as_tsv = search(resource_id="bus_ridership", fields="line_name,recorded_at", records_format="tsv", limit=1)
    assert as_tsv["records"] == "快速公交B0\t2026-11-01 00:00:00\n"
    # decimals keep their digits: parsed as Decimal, the API's values are the table's, not a float's
    raw = web.get("/api/3/action/datastore_search", params={"resource_id": "bus_ridership", "limit": "1000",
                                                            "fields": "fare_income"})
    got = [r["fare_income"] for r in json.loads(raw.content, parse_float=Decimal)["result"]["records"]]
    from deltalake import DeltaTable

    stored = DeltaTable(f"{tables_root(zone[0])}/bus_ridership").to_pyarrow_table().column("fare_income").to_pylist()
    assert got == stored


def test_decimal_columns_are_written_exactly() -> None:
    from jobs.publish.ckan import _json_response
    from jobs.publish.ckan_datastore import json_column

    values = pa.chunked_array([pa.array([Decimal("4506.8717"), None, Decimal("0.0001")], pa.decimal128(18, 4))])
    assert json_column(values) == [Decimal("4506.8717"), None, Decimal("0.0001")]
    assert _json_response({"v": json_column(values)}).body == b'{"v":[4506.8717,null,0.0001]}'


def test_every_link_of_a_package_answers(zone: tuple[Path, list[OpenDataset]]) -> None:
    """Served under the address it listens on (the embedded default), every URL a package hands out works,
    and the DCAT catalog, published under another base, is served rebased to it."""
    store = LocalStore(zone[0])
    with running(create_app(store, base_url=BASE_URL, tables_root=tables_root(zone[0]))) as address, \
            httpx.Client(timeout=30) as client:
        package = client.get(f"{address}/api/3/action/package_show", params={"id": "bus_ridership"}).json()
    assert package["result"]["resources"][-1]["url"] == (
        f"{BASE_URL}api/3/action/datastore_search?resource_id=bus_ridership")  # a query, not an encoded path
    port = free_port()
    base = f"http://127.0.0.1:{port}/"
    app = create_app(store, base_url=base, published_base_url=BASE_URL, tables_root=tables_root(zone[0]))
    with running(app, port=port) as address, \
            httpx.Client(timeout=30) as client:
        resources = client.get(f"{address}/api/3/action/package_show", params={"id": "bus_ridership"}).json()[
            "result"]["resources"]
        links = [r[k] for r in resources for k in ("url", "latest_url") if k in r]
        assert len(links) == 5 and all(link.startswith(base) for link in links), links
        for link in links:
            assert client.get(link).status_code == 200, link
        published = store.read_bytes(layout.CATALOG_JSONLD)
        try:
            store.put_bytes(f'{{"@id": "{BASE_URL}catalog"}}'.encode(), layout.CATALOG_JSONLD)
            assert client.get(f"{base}{layout.CATALOG_JSONLD}").json() == {"@id": f"{base}catalog"}
        finally:
            store.put_bytes(published, layout.CATALOG_JSONLD)


# ---------------------------------------------------------------------------------------------- S3


def test_zone_and_tables_on_s3(s3_server: Any, tmp_path: Path) -> None:
    """The production layout: catalog, downloads and Delta tables in a bucket, read with settings' credentials."""
    bucket = f"citylake-{uuid.uuid4().hex[:12]}"
    s3_server.client().create_bucket(Bucket=bucket)
    settings = Settings(home=tmp_path, s3_endpoint=s3_server.endpoint_url, s3_access_key=s3_server.access_key,
                        s3_secret_key=s3_server.secret_key, open_location=f"s3://{bucket}/open")
    options = delta_storage_options(settings)
    store = S3Store(settings.open_uri, s3_server.client())
    tables = {n: f"s3://{bucket}/lake/open/{n}" for n in ("bus_ridership", "air_quality_daily")}
    datasets = build_zone(store, tables, {**options, "AWS_S3_ALLOW_UNSAFE_RENAME": "true"})
    app = create_app(store, base_url=BASE_URL, tables_root=f"s3://{bucket}/lake/open", storage_options=options)
    with running(app) as address, \
            ckanapi.RemoteCKAN(address) as ckan, httpx.Client(base_url=address) as web:
        assert ckan.action.package_list() == ["air_quality_daily", "bus_ridership"]
        found = ckan.action.datastore_search(resource_id="bus_ridership", filters={"district": "海珠区"}, limit=5)
        assert found["total"] == 62 and {r["district"] for r in found["records"]} == {"海珠区"}
        csv_dist = datasets[0].distribution("CSV")
        download = web.get("/" + csv_dist.path)
        assert download.status_code == 200 and hashlib.sha256(download.content).hexdigest() == csv_dist.sha256
        assert web.get("/portal/none.html").status_code == 404
