"""The static portal works for a person: search, filters, dataset pages, downloads and the chart.

The pure tests read the generated text (escaping, determinism, every link relative and resolvable). The
browser tests open the portal from a file:// folder in real headless Chromium (``tests/support/browser.py``),
as someone would after downloading the zone, which is the stricter case: no fetch(), no server, and links
must resolve as plain relative paths. Screenshots are kept for a human look.
"""

from __future__ import annotations

import dataclasses
import hashlib
import posixpath
import shutil
from collections.abc import Mapping, Sequence
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import pytest
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select, WebDriverWait

from jobs.io.objects import LocalStore
from jobs.publish.portal import build_portal, render_portal
from jobs.publish.portal_html import chart_values, human_size
from jobs.publish.records import MEDIA_TYPES, ChartSpec, Distribution, FieldInfo, OpenDataset, Publisher

GENERATED_AT = "2026-11-27T08:00:00+00:00"
SCREENSHOTS = Path(__file__).resolve().parents[2] / ".citylake" / "screenshots"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

TRANSPORT = Publisher(key="transport", code="11110000000000001A", name="市交通委员会",
                      name_en="Municipal Commission of Transport")
EDUCATION = Publisher(key="education", code="11110000000000002B", name="市教育委员会",
                      name_en="Municipal Education Commission")


def _distributions(name: str, version: int, rows: int, stem: str | None = None) -> tuple[Distribution, ...]:
    stem = stem or name
    out = []
    for fmt in ("CSV", "JSON"):
        file_name = f"{stem}.{fmt.lower()}"
        out.append(Distribution(format=fmt, media_type=MEDIA_TYPES[fmt], file_name=file_name,
                                path=f"datasets/{name}/v{version}/{file_name}",
                                latest_path=f"datasets/{name}/latest/{file_name}",
                                size=1_234_567 if fmt == "CSV" else 2_048,
                                sha256=hashlib.sha256(file_name.encode()).hexdigest(), rows=rows))
    return tuple(out)


RIDERSHIP_PREVIEW = tuple(
    {"month": month, "district": district, "boardings": boardings}
    for month, district, boardings in [
        ("2026-09", "东城区", 120_500), ("2026-09", "西城区", 95_200), ("2026-09", "朝阳区", 210_000),
        ("2026-10", "东城区", 130_100), ("2026-10", "西城区", 88_300), ("2026-10", "朝阳区", 205_400),
    ]
)
DISTRICT_TOTALS = {"东城区": 250_600, "西城区": 183_500, "朝阳区": 415_400}


def portal_datasets() -> list[OpenDataset]:
    ridership = OpenDataset(
        name="bus_ridership_by_district", code="JT-0007-A01", title="公交客流量分区月度统计",
        title_en="Monthly bus ridership by district",
        summary="按行政区和月份汇总的公交刷卡上车人次，不含个人出行记录。",
        publisher=TRANSPORT, theme="交通出行", open_type="无条件开放", update_cycle="monthly",
        update_cycle_zh="每月", kind="aggregate", source="bus_card_trips", issued="2025-01-15",
        modified="2026-11-20T17:30:00+00:00", version=7, rows=6,
        fields=(FieldInfo("month", "统计月份", "string"), FieldInfo("district", "行政区", "string"),
                FieldInfo("boardings", "上车人次", "long", "当月刷卡上车总人次")),
        distributions=_distributions("bus_ridership_by_district", 7, 6),
        keywords=("公交", "客流"), preview=RIDERSHIP_PREVIEW,
        chart=ChartSpec(dimension="district", measure="boardings", title="各区公交上车人次"),
    )
    stops = OpenDataset(
        name="bus_stops", code="JT-0003", title="公交站点信息", title_en="Bus stops",
        summary="全市公交站点的名称、所在线路及位置坐标。",
        publisher=TRANSPORT, theme="交通出行", open_type="无条件开放", update_cycle="weekly",
        update_cycle_zh="每周", kind="detail", source="bus_stops", issued="2024-06-01",
        modified="2026-11-25T02:00:00+00:00", version=3, rows=4_321,
        fields=(FieldInfo("stop_id", "站点编号", "string"), FieldInfo("stop_name", "站点名称", "string"),
                FieldInfo("longitude", "经度", "double", deidentification="generalisation (rounded to 3 digits)"),
                FieldInfo("latitude", "纬度", "double", deidentification="generalisation (rounded to 3 digits)")),
        distributions=_distributions("bus_stops", 3, 4_321, stem="公交站点 2026"),
        keywords=("公交", "站点", "地理位置"),
        preview=({"stop_id": "S0001", "stop_name": "天安门东", "longitude": 116.401, "latitude": 39.907,
                  "data_updated_at": "2026-11-25 10:00:00"},),
    )
    schools = OpenDataset(
        name="school_directory", code="JY-0001", title="中小学校名录", title_en="Primary and secondary schools",
        summary="全市中小学校的名称、办学性质、地址和联系电话。",
        publisher=EDUCATION, theme="教育文化", open_type="有条件开放", update_cycle="yearly",
        update_cycle_zh="每年", kind="detail", source="school_directory", issued="2023-09-01",
        modified="2026-09-01T00:00:00+00:00", version=2, rows=1_024,
        fields=(FieldInfo("school_name", "学校名称", "string"), FieldInfo("nature", "办学性质", "string"),
                FieldInfo("phone", "联系电话", "string", deidentification="masking (phone)"),
                FieldInfo("principal_id", "校长标识", "string",
                          deidentification="pseudonymisation (HMAC-SHA256, keyed)")),
        distributions=_distributions("school_directory", 2, 1_024),
        keywords=("学校", "教育"),
        withheld_fields=(FieldInfo("principal_id_no", "校长身份证号", "string", "校长居民身份证号码", "suppression"),),
        preview=({"school_name": "第一实验小学", "nature": "公办", "phone": "010-****5678", "principal_id": "a1b2"},),
    )
    return [ridership, stops, schools]


def _build(root: Path, datasets: Sequence[OpenDataset]) -> list[str]:
    """The portal plus dummy download files at every distribution path, as publishing would leave them."""
    store = LocalStore(root)
    keys = build_portal(datasets, store, generated_at=GENERATED_AT)
    for d in datasets:
        for dist in d.distributions:
            for path in (dist.path, dist.latest_path):
                target = root / path
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(f"dummy {dist.format} of {d.name}\n", encoding="utf-8")
    return keys


# ------------------------------------------------------------------------------------------- pure tests


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[tuple[str, str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        for name in ("href", "src"):
            value = attributes.get(name)
            if value is not None:
                self.links.append((tag, value, attributes))


def test_build_portal_writes_every_page_and_returns_the_keys(tmp_path: Path) -> None:
    keys = _build(tmp_path, portal_datasets())

    assert sorted(keys) == sorted([
        "portal/index.html", "portal/index.json", "portal/assets/portal.css", "portal/assets/portal.js",
        "portal/datasets/bus_ridership_by_district.html", "portal/datasets/bus_stops.html",
        "portal/datasets/school_directory.html",
    ])
    assert all((tmp_path / k).is_file() for k in keys)
    index = (tmp_path / "portal/index.html").read_text(encoding="utf-8")
    assert '<html lang="zh-CN">' in index and 'id="portal-index"' in index
    assert index.count('class="dataset-card"') == 3
    # the field table is the entry's whole list: a withheld item is listed, with how and that no file holds it
    school = (tmp_path / "portal/datasets/school_directory.html").read_text(encoding="utf-8")
    assert '<tr class="withheld"><td><code>principal_id_no</code></td><td>校长身份证号</td>' in school
    assert "删除（suppression）：未开放，不在任何下载文件中" in school


def test_pages_link_only_relatively_and_every_link_resolves(tmp_path: Path) -> None:
    datasets = portal_datasets()
    keys = _build(tmp_path, datasets)

    for key in (k for k in keys if k.endswith(".html")):
        parser = _Links()
        parser.feed((tmp_path / key).read_text(encoding="utf-8"))
        assert parser.links, key
        for tag, link, attributes in parser.links:
            if attributes.get("rel", "").startswith("license"):  # type: ignore[union-attr]
                assert link.startswith("https://")  # the licence text is a link out, never a loaded resource
                continue
            assert "://" not in link and not link.startswith(("/", "//")), (key, link)
            target = posixpath.normpath(posixpath.join(posixpath.dirname(key), unquote(link)))
            assert (tmp_path / target).is_file(), f"{key}: <{tag}> {link} -> {target} does not exist"

    page = (tmp_path / "portal/datasets/bus_stops.html").read_text(encoding="utf-8")
    assert 'href="../../datasets/bus_stops/v3/%E5%85%AC%E4%BA%A4%E7%AB%99%E7%82%B9%202026.csv"' in page
    assert 'href="../../datasets/bus_stops/latest/' in page


def test_record_text_is_escaped_everywhere(tmp_path: Path) -> None:
    hostile = dataclasses.replace(
        portal_datasets()[1], title='<script>alert("x")</script>公交站点', title_en="Stops & <b>more</b>",
        summary="</script><img src=x onerror=alert(1)>", keywords=("'\"><svg onload=alert(1)>",))
    files = render_portal([hostile], generated_at="<i>now</i>")

    for key, text in files.items():
        if key.endswith(".html"):
            assert "<script>alert" not in text and "<img src=x" not in text and "<svg onload" not in text, key
            assert "<i>now</i>" not in text and "<b>more</b>" not in text, key
    page = files["portal/datasets/bus_stops.html"]
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;公交站点" in page
    index = files["portal/index.html"]
    assert index.count("<script") == 2  # the embedded index and portal.js, nothing injected
    assert "\\u003c/script\\u003e" in index  # the embedded JSON cannot close its <script> element
    assert '"title":"\\u003cscript\\u003ealert(\\"x\\")\\u003c/script\\u003e公交站点"' in index


def test_output_is_deterministic_whatever_the_input_order(tmp_path: Path) -> None:
    datasets = portal_datasets()
    _build(tmp_path / "a", datasets)
    _build(tmp_path / "b", list(reversed(datasets)))

    files_a = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    files_b = sorted(p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*") if p.is_file())
    assert files_a == files_b
    for rel in files_a:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes(), rel


def test_withdrawn_dataset_pages_are_removed(tmp_path: Path) -> None:
    datasets = portal_datasets()
    store = LocalStore(tmp_path)
    build_portal(datasets, store, generated_at=GENERATED_AT)
    build_portal(datasets[:2], store, generated_at=GENERATED_AT)

    assert not (tmp_path / "portal/datasets/school_directory.html").exists()
    assert (tmp_path / "portal/datasets/bus_stops.html").exists()


def test_unsafe_names_and_paths_are_refused(tmp_path: Path) -> None:
    stops = portal_datasets()[1]
    with pytest.raises(ValueError, match="cannot name a portal page"):
        render_portal([dataclasses.replace(stops, name="../evil")], generated_at=GENERATED_AT)
    with pytest.raises(ValueError, match="appears twice"):
        render_portal([stops, stops], generated_at=GENERATED_AT)
    bad = dataclasses.replace(stops.distributions[0], path="javascript:alert(1)")
    with pytest.raises(ValueError, match="zone-relative"):
        render_portal([dataclasses.replace(stops, distributions=(bad,))], generated_at=GENERATED_AT)


def test_chart_sums_the_measure_per_dimension_value() -> None:
    spec = ChartSpec(dimension="district", measure="boardings")
    rows: list[Mapping[str, Any]] = [*RIDERSHIP_PREVIEW, {"district": "丰台区", "boardings": None},
                                     {"district": "东城区", "boardings": "0.5"}]

    assert chart_values(spec, rows) == [("东城区", 250_600.5), ("西城区", 183_500), ("朝阳区", 415_400), ("丰台区", 0)]
    # division codes are charted by name (a resident reads 郫都区, not 510117); a mix keeps the values as they are
    coded = [{"district": "510117", "boardings": 3}, {"district": "510104", "boardings": 2},
             {"district": "510117", "boardings": 1}, {"district": None, "boardings": 5}]
    assert chart_values(spec, coded) == [("郫都区", 4), ("锦江区", 2), ("", 5)]
    assert chart_values(spec, [*coded, {"district": "999999", "boardings": 1}])[0] == ("510117", 4)
    assert human_size(999) == "999 B" and human_size(1_234_567) == "1.2 MB"


# ----------------------------------------------------------------------------------------- browser tests


def _visible_cards(driver: WebDriver) -> list[str]:
    return [c.get_attribute("data-name") or "" for c in driver.find_elements(By.CSS_SELECTOR, ".dataset-card")
            if c.is_displayed()]


def _wait_count(driver: WebDriver, expected: int) -> None:
    WebDriverWait(driver, 5).until(
        lambda d: d.find_element(By.ID, "result-count").get_attribute("data-count") == str(expected),
        f"result count never became {expected}")
    assert len(_visible_cards(driver)) == expected
    assert driver.find_element(By.CSS_SELECTOR, "#result-count strong").text == str(expected)


def _screenshot(driver: WebDriver, target: Path) -> None:
    """Save, check it is a real PNG of a rendered page, and keep a copy for people where possible."""
    assert driver.save_screenshot(str(target))
    data = target.read_bytes()
    assert data.startswith(PNG_SIGNATURE) and len(data) > 10_000, (target, len(data))
    try:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(target, SCREENSHOTS / target.name)
    except OSError:
        pass  # a read-only checkout still tests; the copy is only a convenience


def _assert_clean_page(driver: WebDriver) -> None:
    """Everything the page loads comes from the portal folder, it is styled, and it logged no error.

    (Chromium keeps no resource timing for file:// loads, so the loaded URLs are read from the DOM.)
    """
    loaded = driver.execute_script(
        "return Array.from(document.querySelectorAll("
        "'link[href]:not([rel~=license]), script[src], img[src], iframe[src], source[src], object[data]'))"
        ".filter(e => e.tagName !== 'A').map(e => e.href || e.src || e.data)")
    assert loaded and all(url.startswith("file://") for url in loaded), loaded
    header = driver.find_element(By.CSS_SELECTOR, ".site-header").value_of_css_property("background-color")
    assert header not in ("rgba(0, 0, 0, 0)", "transparent")  # portal.css was loaded from the folder
    errors = [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]
    assert not errors, errors


def test_index_search_and_filters_in_chromium(chromium: WebDriver, tmp_path: Path) -> None:
    _build(tmp_path, portal_datasets())
    driver = chromium
    driver.get((tmp_path / "portal/index.html").as_uri())

    assert driver.title == "城市公共数据开放平台"
    _wait_count(driver, 3)
    assert _visible_cards(driver) == ["bus_stops", "bus_ridership_by_district", "school_directory"]  # by code
    _assert_clean_page(driver)

    search = driver.find_element(By.ID, "search")
    search.send_keys("中小学")
    _wait_count(driver, 1)
    assert _visible_cards(driver) == ["school_directory"]
    search.send_keys(Keys.ENTER)  # results are live: submitting must not reload or navigate away
    assert driver.current_url == (tmp_path / "portal/index.html").as_uri()
    _wait_count(driver, 1)

    driver.find_element(By.ID, "reset-filters").click()
    _wait_count(driver, 3)
    search.send_keys("经度")  # a field title only bus_stops has
    _wait_count(driver, 1)
    assert _visible_cards(driver) == ["bus_stops"]

    driver.find_element(By.ID, "reset-filters").click()
    _wait_count(driver, 3)
    department = Select(driver.find_element(By.ID, "filter-department"))
    assert [o.text for o in department.options] == ["全部", "市交通委员会", "市教育委员会"]
    department.select_by_value("transport")
    _wait_count(driver, 2)
    assert _visible_cards(driver) == ["bus_stops", "bus_ridership_by_district"]
    search.send_keys("RIDERSHIP")  # English titles match too, case-insensitively
    _wait_count(driver, 1)
    assert _visible_cards(driver) == ["bus_ridership_by_district"]
    Select(driver.find_element(By.ID, "filter-open-type")).select_by_value("有条件开放")
    _wait_count(driver, 0)
    assert driver.find_element(By.ID, "no-results").is_displayed()

    driver.find_element(By.ID, "reset-filters").click()
    _wait_count(driver, 3)
    Select(driver.find_element(By.ID, "filter-cycle")).select_by_value("yearly")
    _wait_count(driver, 1)
    assert _visible_cards(driver) == ["school_directory"]
    driver.find_element(By.ID, "reset-filters").click()
    _wait_count(driver, 3)

    _screenshot(driver, tmp_path / "portal-index.png")


def test_dataset_page_in_chromium(chromium: WebDriver, tmp_path: Path) -> None:
    datasets = portal_datasets()
    _build(tmp_path, datasets)
    ridership = datasets[0]
    driver = chromium
    driver.get((tmp_path / "portal/index.html").as_uri())

    driver.find_element(By.CSS_SELECTOR, "#card-bus_ridership_by_district a.dataset-link").click()
    WebDriverWait(driver, 5).until(lambda d: d.current_url.endswith("/portal/datasets/bus_ridership_by_district.html"))
    assert driver.find_element(By.ID, "dataset-title").text == "公交客流量分区月度统计"
    assert driver.find_element(By.ID, "dataset-title-en").text == "Monthly bus ridership by district"
    _assert_clean_page(driver)

    field_rows = driver.find_elements(By.CSS_SELECTOR, "#field-table tbody tr")
    cells = [[td.text for td in row.find_elements(By.TAG_NAME, "td")] for row in field_rows]
    assert [(c[0], c[1], c[2]) for c in cells] == [("month", "统计月份", "string"), ("district", "行政区", "string"),
                                                   ("boardings", "上车人次", "long")]
    assert [c[4] for c in cells] == ["无", "无", "无"]

    links = driver.find_elements(By.CSS_SELECTOR, "a.download-link")
    assert [a.text for a in links] == [d.file_name for d in ridership.distributions]
    for link, dist in zip(links, ridership.distributions, strict=True):
        target = Path(unquote(urlparse(link.get_attribute("href") or "").path))
        assert target == tmp_path / dist.path and target.is_file()
    for link, dist in zip(driver.find_elements(By.CSS_SELECTOR, "a.latest-link"), ridership.distributions,
                          strict=True):
        assert Path(unquote(urlparse(link.get_attribute("href") or "").path)) == tmp_path / dist.latest_path
    size = driver.find_element(By.CSS_SELECTOR, "#download-table tbody tr").text
    assert "1.2 MB" in size and "1,234,567 字节" in size

    bars = driver.find_elements(By.CSS_SELECTOR, "svg#bar-chart rect.bar")
    assert len(bars) == len(DISTRICT_TOTALS)
    assert {b.get_attribute("data-label"): b.get_attribute("data-value") for b in bars} == {
        k: f"{v:,}" for k, v in DISTRICT_TOTALS.items()}
    widths = {b.get_attribute("data-label"): float(b.get_attribute("width") or 0) for b in bars}
    assert widths["朝阳区"] > widths["东城区"] > widths["西城区"] > 0
    assert len(driver.find_elements(By.CSS_SELECTOR, "#preview-table tbody tr")) == len(RIDERSHIP_PREVIEW)

    _screenshot(driver, tmp_path / "portal-dataset.png")

    # a detail table has no chart, and its Chinese file name still resolves
    driver.get((tmp_path / "portal/datasets/bus_stops.html").as_uri())
    assert not driver.find_elements(By.CSS_SELECTOR, "svg#bar-chart")
    href = driver.find_element(By.CSS_SELECTOR, "a.download-link").get_attribute("href") or ""
    assert Path(unquote(urlparse(href).path)) == tmp_path / "datasets/bus_stops/v3/公交站点 2026.csv"
    assert (tmp_path / "datasets/bus_stops/v3/公交站点 2026.csv").is_file()
