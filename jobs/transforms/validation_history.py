"""A resource's validation history as one Data Docs page: every batch it was validated on, newest first.

GX's own index groups results by run and caps how many it reads (it re-reads every stored result on
each build); a data engineer answering "since when does this department send broken IDs?" needs the
whole story of one resource on one page. The history is a small JSON list kept next to the site and
appended once per validation run, so building the page costs the same on the 1st and the 1,000th batch.
"""

from __future__ import annotations

import html
from dataclasses import asdict, dataclass
from typing import Any

#: the folder of the Data Docs site that holds one history page per resource
HISTORY_FOLDER = "citylake"


@dataclass(frozen=True)
class HistoryEntry:
    run_name: str
    run_time: str  # ISO 8601, UTC
    batch: str
    success: bool
    evaluated: int
    failed_errors: int
    failed_warnings: int
    #: the GX validation result page, relative to the site root ("" when the site has none)
    page: str
    failures: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "failures": list(self.failures)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> HistoryEntry:
        return cls(**{**data, "failures": tuple(data.get("failures", ()))})


def add_entry(history: list[HistoryEntry], entry: HistoryEntry) -> list[HistoryEntry]:
    """The history with `entry`, newest first; a re-run of the same run (same name and time) replaces it."""
    kept = [e for e in history if (e.run_name, e.run_time) != (entry.run_name, entry.run_time)]
    return sorted([entry, *kept], key=lambda e: (e.run_time, e.run_name), reverse=True)


def _status(entry: HistoryEntry) -> str:
    if entry.failed_errors:
        return '<span class="bad">未通过 failed</span>'
    if entry.failed_warnings:
        return '<span class="warn">有警告 warnings</span>'
    return '<span class="ok">通过 passed</span>'


def render_resource_page(suite: str, title: str, history: list[HistoryEntry], *, root: str = "../") -> str:
    """The HTML page of one resource; `root` leads from the page back to the site root."""
    rows = []
    for e in history:
        link = (f'<a href="{html.escape(root + e.page)}">{html.escape(e.run_name)}</a>'
                if e.page else html.escape(e.run_name))
        failures = "<br>".join(html.escape(f) for f in e.failures)
        rows.append(
            f"<tr><td>{html.escape(e.run_time)}</td><td>{link}</td><td>{html.escape(e.batch)}</td>"
            f"<td>{_status(e)}</td><td>{e.evaluated}</td><td>{e.failed_errors}</td><td>{e.failed_warnings}</td>"
            f"<td>{failures}</td></tr>"
        )
    passed = sum(1 for e in history if not e.failed_errors)
    rate = f"{100.0 * passed / len(history):.1f}%" if history else "-"
    return f"""<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>{html.escape(title)} — {html.escape(suite)}</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:4px 8px;vertical-align:top}}.bad{{color:#b00}}.warn{{color:#a60}}
.ok{{color:#070}}</style></head>
<body><p><a href="{html.escape(root)}index.html">Data Docs</a> · <a href="index.html">所有资源 all resources</a></p>
<h1>{html.escape(title)} <small>{html.escape(suite)}</small></h1>
<p>校验批次 batches validated: {len(history)} · 通过率 pass rate: {rate}</p>
<table><thead><tr><th>时间 run time (UTC)</th><th>运行 run</th><th>批次 batch</th><th>结果 result</th>
<th>期望数 expectations</th><th>错误 errors</th><th>警告 warnings</th><th>未通过的期望 failed expectations</th></tr>
</thead><tbody>
{chr(10).join(rows)}
</tbody></table></body></html>
"""


def render_resources_index(latest: dict[str, tuple[str, HistoryEntry | None]]) -> str:
    """The list of resources (suite -> (title, newest entry)), each linking to its history page."""
    rows = []
    for suite in sorted(latest):
        title, entry = latest[suite]
        status = _status(entry) if entry else "-"
        when = html.escape(entry.run_time) if entry else "-"
        rows.append(f'<tr><td><a href="{html.escape(suite)}.html">{html.escape(suite)}</a></td>'
                    f"<td>{html.escape(title)}</td><td>{when}</td><td>{status}</td></tr>")
    return f"""<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>citylake — 数据质量 validation history</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:4px 8px}}.bad{{color:#b00}}.warn{{color:#a60}}.ok{{color:#070}}</style>
</head><body><p><a href="../index.html">Data Docs</a></p>
<h1>数据质量 · 各资源校验历史 validation history per resource</h1>
<table><thead><tr><th>资源 resource</th><th>名称 title</th><th>最近校验 last run (UTC)</th><th>结果 result</th></tr>
</thead><tbody>
{chr(10).join(rows)}
</tbody></table></body></html>
"""
