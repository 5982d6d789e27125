"""HTML, CSS, JavaScript and SVG of the static open-data portal: pure functions from records to text.

Kept apart from `portal.py` (which decides what goes where and writes it) so the markup can be read and
tested on its own. Every value that comes from a record passes through `esc` (or `json_for_script`
when embedded as data), because titles and summaries are typed by departments and must never be able
to inject markup into a public site. Output depends only on the input: no clock, no randomness, no
dict-order surprises, so rebuilding an unchanged catalog rewrites identical bytes.

The pages load nothing from outside the portal folder (no CDN, no web fonts): the portal is opened from
a file:// folder as well as served over HTTP, and an open-data site must not leak its visitors to third
parties.
"""

from __future__ import annotations

import html
import json
import math
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta, timezone
from functools import cache
from typing import Any
from urllib.parse import quote

from jobs.publish.records import ChartSpec, Distribution, FieldInfo, OpenDataset

#: China has one time zone and no daylight saving, so a fixed offset is exact.
BEIJING = timezone(timedelta(hours=8), "北京时间")

#: Update cycles in the order a person expects them in a filter; unknown ones follow, sorted.
CYCLE_ORDER: tuple[str, ...] = ("realtime", "hourly", "daily", "weekly", "monthly", "quarterly",
                                "half-yearly", "semiannual", "yearly", "annual", "irregular")

#: How many preview rows a dataset page shows (the record may carry more).
PREVIEW_ROWS = 20

DEIDENTIFICATION_ZH: Mapping[str, str] = {
    "none": "无",
    "suppression": "删除",
}


def esc(value: Any) -> str:
    """Text safe in element content and in double- or single-quoted attributes."""
    return html.escape("" if value is None else str(value), quote=True)


def href(prefix: str, path: str) -> str:
    """A relative link from a page to a zone path (`prefix` climbs from the page to the zone root).

    Percent-encodes the path (file names may be Chinese or contain spaces) and refuses absolute paths,
    URLs and `..` segments: a distribution path is always relative to the zone root, and anything else
    would point the public outside the zone.
    """
    if not path or path.startswith("/") or "\\" in path or ":" in path.split("/", 1)[0]:
        raise ValueError(f"not a zone-relative path: {path!r}")
    if any(part in ("", ".", "..") for part in path.split("/")):
        raise ValueError(f"not a normalised zone-relative path: {path!r}")
    return prefix + quote(path, safe="/")


def json_for_script(value: Any) -> str:
    """JSON text that is safe inside a <script> element: no `</script>`, `<!--` or `]]>` can form."""
    text = json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def human_size(size: int) -> str:
    """Decimal (SI) units, as download sizes are shown on the web: 1 kB = 1000 bytes."""
    if size < 1000:
        return f"{size} B"
    value = float(size)
    for unit in ("kB", "MB", "GB", "TB"):
        value /= 1000
        if value < 1000 or unit == "TB":
            return f"{value:.1f} {unit}"
    raise AssertionError("unreachable")


def en(text: str) -> str:
    """The English secondary text that follows a Chinese label."""
    return f'<span class="en" lang="en">{esc(text)}</span>'


def count(n: int) -> str:
    return f"{n:,}"


def number(value: float) -> str:
    """A chart value: integers without decimals, others with at most two, thousands separated."""
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.2f}".rstrip("0").rstrip(".")


def beijing_time(value: str, *, date_only: bool = False) -> str:
    """An ISO timestamp (UTC when it carries no offset, as records store it) in Beijing time.

    Plain dates and unparsable text are shown as given rather than guessed at.
    """
    if not value or re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return value
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    local = moment.astimezone(BEIJING)
    return local.strftime("%Y-%m-%d") if date_only else local.strftime("%Y-%m-%d %H:%M（北京时间）")


def cycle_rank(cycle: str) -> tuple[int, str]:
    return (CYCLE_ORDER.index(cycle) if cycle in CYCLE_ORDER else len(CYCLE_ORDER), cycle)


def deidentification_label(technique: str) -> str:
    """The technique in Chinese with the catalog's English term kept (it is what the field dictionary says)."""
    if technique in DEIDENTIFICATION_ZH:
        zh = DEIDENTIFICATION_ZH[technique]
        return zh if technique == "none" else f"{zh}（{technique}）"
    for prefix, zh in (("masking", "掩码"), ("pseudonymisation", "假名化"), ("generaliz", "泛化"),
                       ("generalis", "泛化")):
        if technique.startswith(prefix):
            return f"{zh}（{technique}）"
    return technique


# ---------------------------------------------------------------------------------------------- layout


def page(*, title: str, site_title: str, root: str, body: str, generated_at: str, script: str = "") -> str:
    """The document shell shared by every page; `root` climbs from the page to the portal folder."""
    script_tags = f'\n<script src="{esc(root)}assets/portal.js"></script>' if script else ""
    return f"""<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="citylake">
<title>{esc(title)}</title>
<link rel="stylesheet" href="{esc(root)}assets/portal.css">
</head>
<body>
<header class="site-header">
<div class="wrap">
<a class="site-title" href="{esc(root)}index.html">{esc(site_title)}</a>
<span class="site-subtitle" lang="en">Open Government Data Portal</span>
</div>
</header>
<main class="wrap">
{body}
</main>
<footer class="site-footer">
<div class="wrap">生成时间 <span lang="en">Generated</span>：<time id="generated-at" datetime="{esc(generated_at)}">\
{esc(beijing_time(generated_at))}</time></div>
</footer>{script}{script_tags}
</body>
</html>
"""


def facts(items: Sequence[tuple[str, str, str]]) -> str:
    """A definition list of (Chinese label, English label, already-escaped HTML value)."""
    rows = "\n".join(f'<div><dt>{esc(zh)} <span class="en" lang="en">{esc(en)}</span></dt><dd>{value}</dd></div>'
                     for zh, en, value in items)
    return f'<dl class="facts">\n{rows}\n</dl>'


def formats_html(dataset: OpenDataset) -> str:
    return " ".join(f'<span class="format">{esc(d.format)}</span>' for d in dataset.distributions)


# ------------------------------------------------------------------------------------------------ index


def select(name: str, label_zh: str, label_en: str, options: Sequence[tuple[str, str]]) -> str:
    opts = "\n".join(f'<option value="{esc(v)}">{esc(label)}</option>' for v, label in options)
    return (f'<label class="filter" for="filter-{name}">{esc(label_zh)} <span class="en" lang="en">{esc(label_en)}'
            f'</span>\n<select id="filter-{name}" name="{name}" data-filter="{name}">\n'
            f'<option value="">全部</option>\n{opts}\n</select></label>')


def card(dataset: OpenDataset) -> str:
    """One search result; the data-* attributes are what the filter script compares."""
    d = dataset
    body = facts([
        ("来源部门", "Publisher", esc(d.publisher.name)),
        ("主题", "Theme", esc(d.theme)),
        ("更新频率", "Update cycle", esc(d.update_cycle_zh)),
        ("数据量", "Rows", f"{esc(count(d.rows))} 条"),
        ("最近更新", "Last update",
         f'<time datetime="{esc(d.modified)}">{esc(beijing_time(d.modified, date_only=True))}</time>'),
        ("格式", "Formats", formats_html(d)),
    ])
    return f"""<article class="dataset-card" id="card-{esc(d.name)}" data-name="{esc(d.name)}">
<h2 class="card-title"><a class="dataset-link" href="datasets/{esc(quote(d.name))}.html">{esc(d.title)}</a></h2>
<p class="title-en" lang="en">{esc(d.title_en)}</p>
<p class="summary">{esc(d.summary)}</p>
{body}
</article>"""


def index_page(datasets: Sequence[OpenDataset], *, site_title: str, generated_at: str,
               filters: Mapping[str, Sequence[tuple[str, str]]], index: Mapping[str, Any]) -> str:
    """The search page: every card rendered server-side (readable without JavaScript), filtered by script."""
    cards = "\n".join(card(d) for d in datasets)
    controls = "\n".join([
        select("department", "来源部门", "Publisher", filters["department"]),
        select("theme", "主题", "Theme", filters["theme"]),
        select("open-type", "开放属性", "Open type", filters["open-type"]),
        select("cycle", "更新频率", "Update cycle", filters["cycle"]),
    ])
    total = len(datasets)
    body = f"""<h1>数据目录 <span class="en" lang="en">Dataset catalogue</span></h1>
<form class="search" id="search-form" role="search">
<label class="search-label" for="search">搜索 <span class="en" lang="en">Search</span></label>
<input type="search" id="search" name="q" autocomplete="off"
 placeholder="输入名称、关键词或信息项，例如：人口 / Enter a title, keyword or field">
<div class="filters">
{controls}
<button type="reset" id="reset-filters">重置 <span lang="en">Reset</span></button>
</div>
</form>
<p class="result-count" id="result-count" data-count="{total}" aria-live="polite">共 <strong>{total}</strong> 个数据集
 <span class="en" lang="en">datasets</span></p>
<p class="no-results" id="no-results" hidden>没有符合条件的数据集。{en("No dataset matches.")}</p>
<section class="results" id="results">
{cards}
</section>"""
    data = f'\n<script type="application/json" id="portal-index">{json_for_script(index)}</script>'
    return page(title=site_title, site_title=site_title, root="", body=body, generated_at=generated_at, script=data)


# ---------------------------------------------------------------------------------------------- dataset


def field_table(fields: Sequence[FieldInfo], withheld: Sequence[FieldInfo] = ()) -> str:
    """Every item of the catalog entry: the published ones, then those withheld (not in any file)."""
    rows = "\n".join(
        f'<tr{cls}><td><code>{esc(f.name)}</code></td><td>{esc(f.title)}</td><td><code>{esc(f.type)}</code></td>'
        f"<td>{esc(f.description)}</td><td>{esc(deidentification_label(f.deidentification))}{note}</td></tr>"
        for f, cls, note in [*((f, "", "") for f in fields),
                             *((f, ' class="withheld"', "：未开放，不在任何下载文件中") for f in withheld)])
    return f"""<table class="fields" id="field-table">
<thead><tr><th>信息项 {en("Name")}</th><th>中文名称 {en("Title")}</th>
<th>类型 <span class="en" lang="en">Type</span></th><th>描述 <span class="en" lang="en">Description</span></th>
<th>脱敏方式 <span class="en" lang="en">De-identification</span></th></tr></thead>
<tbody>
{rows}
</tbody>
</table>"""


def download_row(dist: Distribution, root: str) -> str:
    latest_name = dist.latest_path.rsplit("/", 1)[-1] if dist.latest_path else ""
    latest = (f'<a class="latest-link" href="{esc(href(root, dist.latest_path))}">latest/{esc(latest_name)}</a>'
              if dist.latest_path else "")
    return (f'<tr data-format="{esc(dist.format)}"><td><span class="format">{esc(dist.format)}</span></td>'
            f'<td><a class="download-link" href="{esc(href(root, dist.path))}" type="{esc(dist.media_type)}" '
            f'download>{esc(dist.file_name)}</a></td>'
            f'<td>{esc(human_size(dist.size))} <span class="bytes">({esc(count(dist.size))} 字节)</span></td>'
            f'<td><code class="sha256">{esc(dist.sha256)}</code></td><td>{esc(count(dist.rows))}</td>'
            f"<td>{latest}</td></tr>")


def downloads_table(dataset: OpenDataset, root: str) -> str:
    rows = "\n".join(download_row(d, root) for d in dataset.distributions)
    return f"""<table class="downloads" id="download-table">
<thead><tr><th>格式 <span class="en" lang="en">Format</span></th><th>文件 <span class="en" lang="en">File</span></th>
<th>大小 <span class="en" lang="en">Size</span></th><th>SHA-256</th><th>行数 <span class="en" lang="en">Rows</span></th>
<th>固定链接 <span class="en" lang="en">Latest</span></th></tr></thead>
<tbody>
{rows}
</tbody>
</table>
<p class="note">“固定链接”始终指向最新版本。{en("Latest links always point to the newest version.")}</p>"""


def cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    return str(value)


def preview_table(dataset: OpenDataset) -> str:
    """The first rows, columns in field order (then any extra column, sorted), headed by Chinese titles."""
    rows = dataset.preview[:PREVIEW_ROWS]
    if not rows:
        return '<p class="note" id="preview-empty">暂无预览数据。<span class="en" lang="en">No preview.</span></p>'
    present = {k for r in rows for k in r}
    titles = {f.name: f.title for f in dataset.fields}
    columns = [f.name for f in dataset.fields if f.name in present] + sorted(present - titles.keys())
    head = "".join(f'<th>{esc(titles.get(c, c))}<br><code class="en">{esc(c)}</code></th>' for c in columns)
    body = "\n".join("<tr>" + "".join(f"<td>{esc(cell(r.get(c)))}</td>" for c in columns) + "</tr>" for r in rows)
    return f"""<table class="preview" id="preview-table">
<thead><tr>{head}</tr></thead>
<tbody>
{body}
</tbody>
</table>
<p class="note">显示前 {len(rows)} 行。<span class="en" lang="en">First {len(rows)} rows.</span></p>"""


def dataset_page(dataset: OpenDataset, *, site_title: str, generated_at: str) -> str:
    """One dataset's page, at portal/datasets/<name>.html (so the zone root is two folders up)."""
    d = dataset
    zone_root = "../../"
    licence = d.licence
    summary = facts([
        ("数据集编码", "Code", f"<code>{esc(d.code)}</code>"),
        ("来源部门", "Publisher", f"{esc(d.publisher.name)} <span class=\"en\" lang=\"en\">{esc(d.publisher.name_en)}"
                                f"</span>"),
        ("主题", "Theme", esc(d.theme)),
        ("开放属性", "Open type", esc(d.open_type)),
        ("更新频率", "Update cycle", esc(d.update_cycle_zh)),
        ("发布日期", "Issued", f'<time datetime="{esc(d.issued)}">{esc(beijing_time(d.issued))}</time>'),
        ("最近更新", "Modified", f'<time datetime="{esc(d.modified)}">{esc(beijing_time(d.modified))}</time>'),
        ("版本", "Version", esc(d.version)),
        ("数据量", "Rows", f'<span id="row-count">{esc(count(d.rows))}</span> 条'),
        ("关键词", "Keywords", "、".join(f'<span class="keyword">{esc(k)}</span>' for k in d.keywords)),
    ])
    chart = ""
    if d.kind == "aggregate" and d.chart is not None:
        chart = f"""<section id="chart">
<h2>统计图 <span class="en" lang="en">Chart</span></h2>
{bar_chart(d.chart, d.preview, d.fields)}
</section>"""
    body = f"""<nav class="breadcrumb"><a href="../index.html">数据目录 <span lang="en">Catalogue</span></a> ›
 {esc(d.title)}</nav>
<article class="dataset" data-name="{esc(d.name)}">
<h1 id="dataset-title">{esc(d.title)}</h1>
<p class="title-en" lang="en" id="dataset-title-en">{esc(d.title_en)}</p>
<p class="summary">{esc(d.summary)}</p>
{summary}
{chart}
<section id="downloads">
<h2>数据下载 <span class="en" lang="en">Downloads</span></h2>
{downloads_table(d, zone_root)}
</section>
<section id="fields">
<h2>信息项 <span class="en" lang="en">Fields</span></h2>
{field_table(d.fields, d.withheld_fields)}
</section>
<section id="preview">
<h2>数据预览 <span class="en" lang="en">Preview</span></h2>
{preview_table(d)}
</section>
<section id="licence">
<h2>许可协议 <span class="en" lang="en">Licence</span></h2>
<p><a rel="license noopener noreferrer" href="{esc(licence.url)}">{esc(licence.title_zh)}</a>
<br><span class="en" lang="en">{esc(licence.title)}</span></p>
</section>
</article>"""
    return page(title=f"{d.title} - {site_title}", site_title=site_title, root="../", body=body,
                generated_at=generated_at)


# -------------------------------------------------------------------------------------------------- SVG


def chart_values(spec: ChartSpec, rows: Sequence[Mapping[str, Any]]) -> list[tuple[str, float]]:
    """Sum of `measure` per value of `dimension`, in order of first appearance (the table's own order).

    Rows whose measure is missing or not a number add nothing (a non-numeric measure is a catalog error,
    not something to guess about); a dimension value with only such rows still gets a bar of 0 so the
    chart does not silently drop a category.
    """
    totals: dict[str, float] = {}
    for row in rows:
        key = cell(row.get(spec.dimension))
        totals.setdefault(key, 0.0)
        value = row.get(spec.measure)
        if isinstance(value, bool):
            continue
        if isinstance(value, (int, float)):
            if math.isfinite(value):
                totals[key] += value
        elif isinstance(value, str):
            try:
                parsed = float(value)
            except ValueError:
                continue
            if math.isfinite(parsed):
                totals[key] += parsed
    return [(label, total) for label, total in zip(division_labels(list(totals)), totals.values(), strict=True)]


@cache
def _division_names() -> Mapping[str, str]:
    from jobs.rules.divisions import names

    return names()


def division_labels(keys: Sequence[str]) -> list[str]:
    """Names for the bars when every category is a division code (510117 -> 郫都区; a resident reads names,
    not codes); otherwise the values as they are."""
    known = _division_names()
    present = [k for k in keys if k]
    if not present or any(k not in known for k in present):
        return list(keys)
    return [known.get(k, k) for k in keys]


def nice_step(span: float, ticks: int = 5) -> float:
    """A round tick step (1, 2, 2.5 or 5 times a power of ten) giving about `ticks` intervals."""
    raw = span / ticks
    magnitude = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 2.5, 5, 10):
        if factor * magnitude >= raw:
            return factor * magnitude
    return 10 * magnitude


def text_width(text: str, size: float) -> float:
    """Rough rendered width: CJK and other wide characters take a full em, the rest about 0.6 em."""
    return sum(size if ord(ch) > 0x2E7F else size * 0.6 for ch in text)


def shorten(text: str, size: float, limit: float) -> str:
    if text_width(text, size) <= limit:
        return text
    out = ""
    for ch in text:
        if text_width(out + ch + "…", size) > limit:
            break
        out += ch
    return out + "…"


def bar_chart(spec: ChartSpec, rows: Sequence[Mapping[str, Any]], fields: Sequence[FieldInfo]) -> str:
    """A horizontal bar chart as inline SVG (horizontal, because Chinese category labels are long).

    Bars start at zero and may go either way, so negative totals are drawn honestly. The caption says
    the chart covers only the preview rows, which is what the record carries.
    """
    values = chart_values(spec, rows)
    titles = {f.name: f.title for f in fields}
    dim_title = titles.get(spec.dimension, spec.dimension)
    measure_title = titles.get(spec.measure, spec.measure)
    title = spec.title or f"{measure_title}（按{dim_title}）"
    if not values:
        return f'<p class="note" id="chart-empty">暂无可绘制的数据。{en("No data to chart.")}</p>'

    font, bar_h, gap = 13.0, 22.0, 10.0
    label_w = min(220.0, max(text_width(k, font) for k, _ in values) + 12)
    left, right, top, bottom = label_w + 10, 90.0, 46.0, 56.0
    plot_w = 560.0
    width = left + plot_w + right
    height = top + len(values) * (bar_h + gap) - gap + bottom

    lo = min(0.0, min(v for _, v in values))
    hi = max(0.0, max(v for _, v in values))
    if lo == hi:
        hi = 1.0
    step = nice_step(hi - lo)
    lo = math.floor(lo / step) * step
    hi = math.ceil(hi / step) * step

    def x(v: float) -> float:
        return left + (v - lo) / (hi - lo) * plot_w

    def f(n: float) -> str:  # coordinates with one decimal: stable text, sub-pixel precise enough
        return f"{n:.1f}"

    parts: list[str] = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="bar-chart" id="bar-chart" role="img" '
        f'aria-labelledby="chart-title" width="{f(width)}" height="{f(height)}" viewBox="0 0 {f(width)} {f(height)}" '
        f'font-size="{f(font)}" data-dimension="{esc(spec.dimension)}" data-measure="{esc(spec.measure)}">',
        f'<title id="chart-title">{esc(title)}</title>',
        f'<text class="chart-title" x="{f(left)}" y="20" font-weight="bold">{esc(title)}</text>',
        f'<text class="axis-label axis-label-y" x="{f(left - 8)}" y="{f(top - 8)}" text-anchor="end">'
        f"{esc(dim_title)}</text>",
    ]
    axis_y = top + len(values) * (bar_h + gap) - gap + 6
    tick = lo
    while tick <= hi + step / 2:
        tx = x(tick)
        parts.append(f'<line class="grid" x1="{f(tx)}" y1="{f(top - 4)}" x2="{f(tx)}" y2="{f(axis_y)}" '
                     f'stroke="#d9dee5" stroke-width="1"/>')
        parts.append(f'<text class="tick" x="{f(tx)}" y="{f(axis_y + 16)}" text-anchor="middle">{esc(number(tick))}'
                     f"</text>")
        tick = round(tick + step, 10)
    parts.append(f'<line class="axis" x1="{f(left)}" y1="{f(axis_y)}" x2="{f(left + plot_w)}" y2="{f(axis_y)}" '
                 f'stroke="#4a5568" stroke-width="1"/>')
    parts.append(f'<line class="axis zero" x1="{f(x(0))}" y1="{f(top - 4)}" x2="{f(x(0))}" y2="{f(axis_y)}" '
                 f'stroke="#4a5568" stroke-width="1"/>')
    parts.append(f'<text class="axis-label axis-label-x" x="{f(left + plot_w / 2)}" y="{f(axis_y + 38)}" '
                 f'text-anchor="middle">{esc(measure_title)}</text>')
    for i, (label, value) in enumerate(values):
        y = top + i * (bar_h + gap)
        x0, x1 = sorted((x(0), x(value)))
        parts.append(f'<text class="category" x="{f(left - 8)}" y="{f(y + bar_h / 2 + font / 3)}" text-anchor="end">'
                     f"{esc(shorten(label, font, label_w - 12))}</text>")
        parts.append(f'<rect class="bar" x="{f(x0)}" y="{f(y)}" width="{f(max(x1 - x0, 0.0))}" height="{f(bar_h)}" '
                     f'fill="#2b6cb0" data-label="{esc(label)}" data-value="{esc(number(value))}">'
                     f"<title>{esc(label)}：{esc(number(value))}</title></rect>")
        anchor, vx = ("end", x0 - 4) if value < 0 else ("start", x1 + 4)
        parts.append(f'<text class="value" x="{f(vx)}" y="{f(y + bar_h / 2 + font / 3)}" text-anchor="{anchor}">'
                     f"{esc(number(value))}</text>")
    parts.append("</svg>")
    svg = "\n".join(parts)
    return (f'<figure class="chart">\n{svg}\n<figcaption>{esc(title)}，基于前 {len(rows)} 行预览数据汇总。'
            f'<span class="en" lang="en">Summed over the {len(rows)} preview rows.</span></figcaption>\n</figure>')


# -------------------------------------------------------------------------------------- static assets

CSS = """\
:root { --ink: #1a202c; --muted: #5a6577; --line: #d9dee5; --brand: #1f4e8c; --bg: #f5f7fa; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--ink); background: var(--bg); line-height: 1.6;
  font-family: "PingFang SC", "Hiragino Sans GB", "Microsoft YaHei", "Noto Sans CJK SC", "Source Han Sans SC",
    "WenQuanYi Micro Hei", system-ui, sans-serif; }
.wrap { max-width: 1180px; margin: 0 auto; padding: 0 20px; }
.site-header { background: var(--brand); color: #fff; padding: 14px 0; }
.site-title { color: #fff; font-size: 1.35rem; font-weight: bold; text-decoration: none; margin-right: 12px; }
.site-subtitle { opacity: .8; }
.site-footer { color: var(--muted); border-top: 1px solid var(--line); margin-top: 40px; padding: 16px 0; }
h1 { font-size: 1.6rem; margin: 24px 0 4px; }
h2 { font-size: 1.2rem; margin: 28px 0 10px; }
.en { color: var(--muted); font-weight: normal; font-size: .85em; }
.title-en { color: var(--muted); margin: 0 0 8px; }
a { color: var(--brand); }
.search { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 16px; margin: 16px 0; }
.search-label { display: block; font-weight: bold; margin-bottom: 6px; }
#search { width: 100%; font-size: 1rem; padding: 8px 10px; border: 1px solid #a0aec0; border-radius: 4px; }
.filters { display: flex; flex-wrap: wrap; gap: 12px; align-items: flex-end; margin-top: 12px; }
.filter { display: flex; flex-direction: column; font-size: .9rem; }
.filter select { margin-top: 4px; padding: 5px; min-width: 160px; }
#reset-filters { padding: 6px 14px; }
.result-count { color: var(--muted); }
.results { display: grid; grid-template-columns: repeat(auto-fill, minmax(340px, 1fr)); gap: 16px; }
.dataset-card { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 14px 16px; }
.dataset-card[hidden] { display: none; }
.card-title { margin: 0; font-size: 1.1rem; }
.summary { margin: 8px 0; }
.facts { display: grid; grid-template-columns: repeat(auto-fill, minmax(220px, 1fr)); gap: 4px 16px; margin: 8px 0; }
.facts div { display: flex; gap: 8px; }
.facts dt { color: var(--muted); min-width: 7.5em; }
.facts dd { margin: 0; }
.format { display: inline-block; background: #e6eef8; color: var(--brand); border-radius: 3px; padding: 0 6px;
  font-size: .8rem; margin-right: 2px; }
.dataset { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 4px 20px 20px; }
table { border-collapse: collapse; width: 100%; font-size: .9rem; display: block; overflow-x: auto; }
th, td { border: 1px solid var(--line); padding: 5px 8px; text-align: left; vertical-align: top; }
th { background: #eef2f7; }
.sha256 { font-size: .75rem; word-break: break-all; }
.bytes, .note { color: var(--muted); font-size: .85rem; }
.chart { margin: 0; overflow-x: auto; }
.chart figcaption { color: var(--muted); font-size: .85rem; }
.bar-chart text { fill: var(--ink); }
.bar-chart .tick, .bar-chart .axis-label { fill: var(--muted); }
.breadcrumb { margin-top: 16px; color: var(--muted); }
"""

JS = """\
/* Portal search: filters the server-rendered cards with the index embedded in the page.
   The index is embedded (not fetched) so the portal also works when opened from a file:// folder. */
(function () {
  "use strict";
  var source = document.getElementById("portal-index");
  if (!source) { return; }
  var datasets = JSON.parse(source.textContent).datasets;
  var form = document.getElementById("search-form");
  var search = document.getElementById("search");
  var selects = Array.prototype.slice.call(document.querySelectorAll("select[data-filter]"));
  var count = document.getElementById("result-count");
  var empty = document.getElementById("no-results");
  var fold = function (text) { return String(text || "").normalize("NFKC").toLowerCase(); };
  var entries = datasets.map(function (d) {
    return {
      card: document.getElementById("card-" + d.name),
      facets: d.facets,
      text: fold([d.title, d.title_en, d.summary, d.keywords.join(" "), d.fields.join(" ")].join("\\n"))
    };
  });

  function apply() {
    var terms = fold(search.value).split(/\\s+/).filter(Boolean);
    var wanted = selects.filter(function (s) { return s.value !== ""; });
    var shown = 0;
    entries.forEach(function (e) {
      var match = terms.every(function (t) { return e.text.indexOf(t) !== -1; }) &&
        wanted.every(function (s) { return e.facets[s.dataset.filter] === s.value; });
      if (e.card) { e.card.hidden = !match; }
      if (match) { shown += 1; }
    });
    count.dataset.count = String(shown);
    count.querySelector("strong").textContent = String(shown);
    empty.hidden = shown !== 0;
  }

  form.addEventListener("submit", function (event) { event.preventDefault(); });  /* results are live */
  search.addEventListener("input", apply);
  selects.forEach(function (s) { s.addEventListener("change", apply); });
  form.addEventListener("reset", function () { window.setTimeout(apply, 0); });
  window.addEventListener("pageshow", apply);  /* the browser may restore form values on "back" */
  apply();
}());
"""
