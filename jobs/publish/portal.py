"""The static open-data portal (开放平台): an index with search and filters, one page per dataset.

Generated into the open zone next to the downloads (`portal/` beside `datasets/`), from the same
`OpenDataset` records as the DCAT catalog and the API, so the three never disagree. Static files only:
the zone can be served by any web server or bucket, or opened from a folder on a laptop, with no
application server to run or secure. Every link is relative for that reason.

Layout (keys relative to the zone root)::

    portal/index.html              search page; the search index is embedded in it
    portal/index.json              the same index, for other tools
    portal/datasets/<name>.html    one page per dataset; downloads are ../../datasets/...
    portal/assets/portal.css|js

Markup lives in `portal_html`; this module decides what goes where and writes it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from jobs.io.objects import ObjectStore
from jobs.publish import portal_html as t
from jobs.publish.records import OpenDataset

PREFIX = "portal/"
HTML = "text/html; charset=utf-8"
CONTENT_TYPES = {
    ".html": HTML,
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".json": "application/json; charset=utf-8",
}
DEFAULT_TITLE = "城市公共数据开放平台"

#: A dataset name becomes a file name and an element id: keep it to what is safe in both.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


def build_portal(datasets: Sequence[OpenDataset], store: ObjectStore, *, site_title: str = DEFAULT_TITLE,
                 generated_at: str) -> list[str]:
    """Write the portal for `datasets` into `store` and return the keys written, in writing order.

    Output depends only on the arguments (datasets are ordered by code, whatever order they come in),
    so an unchanged catalog rebuilds byte-identical files. Pages of datasets no longer published are
    deleted afterwards: a withdrawn dataset must not stay reachable from the portal. The index is
    written last, so it never links to a page that does not exist yet.
    """
    ordered = _checked(datasets)
    files = render_portal(ordered, site_title=site_title, generated_at=generated_at)
    written: list[str] = []
    for key, text in files.items():
        store.put_bytes(text.encode("utf-8"), key, content_type=CONTENT_TYPES[key[key.rindex("."):]])
        written.append(key)
    _prune_pages(store, set(written))
    return written


def render_portal(datasets: Sequence[OpenDataset], *, site_title: str = DEFAULT_TITLE,
                  generated_at: str) -> dict[str, str]:
    """Every portal file as text, by key: assets, dataset pages, then index.json and index.html."""
    ordered = _checked(datasets)
    index = search_index(ordered, site_title=site_title, generated_at=generated_at)
    files: dict[str, str] = {
        f"{PREFIX}assets/portal.css": t.CSS,
        f"{PREFIX}assets/portal.js": t.JS,
    }
    for d in ordered:
        files[f"{PREFIX}datasets/{d.name}.html"] = t.dataset_page(d, site_title=site_title, generated_at=generated_at)
    files[f"{PREFIX}index.json"] = json.dumps(index, ensure_ascii=False, indent=1, sort_keys=True) + "\n"
    files[f"{PREFIX}index.html"] = t.index_page(ordered, site_title=site_title, generated_at=generated_at,
                                                filters=filter_options(ordered), index=index)
    return files


def search_index(datasets: Sequence[OpenDataset], *, site_title: str, generated_at: str) -> dict[str, Any]:
    """What the search script needs per dataset: searchable text and the facet values of the filters."""
    return {
        "site_title": site_title,
        "generated_at": generated_at,
        "datasets": [{
            "name": d.name,
            "code": d.code,
            "title": d.title,
            "title_en": d.title_en,
            "summary": d.summary,
            "keywords": list(d.keywords),
            "fields": [f.title for f in d.fields],
            "publisher": d.publisher.name,
            "theme": d.theme,
            "open_type": d.open_type,
            "update_cycle": d.update_cycle,
            "update_cycle_zh": d.update_cycle_zh,
            "kind": d.kind,
            "rows": d.rows,
            "modified": d.modified,
            "formats": [x.format for x in d.distributions],
            "page": f"datasets/{d.name}.html",
            # keyed like the filter <select>s' data-filter attributes
            "facets": {"department": d.publisher.key, "theme": d.theme, "open-type": d.open_type,
                       "cycle": d.update_cycle},
        } for d in datasets],
    }


def filter_options(datasets: Sequence[OpenDataset]) -> dict[str, list[tuple[str, str]]]:
    """(value, label) per filter, only values that occur, in a stable order people expect."""
    departments = {d.publisher.key: d.publisher.name for d in datasets}
    cycles = {d.update_cycle: d.update_cycle_zh for d in datasets}
    themes = sorted({d.theme for d in datasets})
    open_types = sorted({d.open_type for d in datasets})
    return {
        "department": sorted(departments.items(), key=lambda kv: (kv[1], kv[0])),
        "theme": [(v, v) for v in themes],
        "open-type": [(v, v) for v in open_types],
        "cycle": [(k, cycles[k]) for k in sorted(cycles, key=t.cycle_rank)],
    }


def _checked(datasets: Sequence[OpenDataset]) -> list[OpenDataset]:
    names: set[str] = set()
    for d in datasets:
        if not _NAME.fullmatch(d.name):
            raise ValueError(f"dataset name {d.name!r} cannot name a portal page (letters, digits, _ . - only)")
        if d.name in names:
            raise ValueError(f"dataset {d.name!r} appears twice")
        names.add(d.name)
    return sorted(datasets, key=lambda d: (d.code, d.name))


def _prune_pages(store: ObjectStore, keep: set[str]) -> None:
    """Delete dataset pages not written this time (stores only delete by prefix, hence the guard)."""
    for key in store.list(f"{PREFIX}datasets/"):
        if key not in keep and not any(k.startswith(key) for k in keep):
            store.delete_prefix(key)
