"""The list actions a CKAN harvester or portal aggregator calls besides search: licences, tags, groups
(our themes), the recently changed packages, and the site check.

Pure functions of a `Catalog` and the parameters, shaped as CKAN 2.10 answers them, so a client that
walks a CKAN portal (``license_list`` to map licences, ``group_list`` for themes,
``current_package_list_with_resources`` for what changed lately) walks this one unchanged.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from jobs.publish import ckan_packages as pk
from jobs.publish.ckan_actions import SEARCH_ROWS_MAX, Catalog, sort_spec
from jobs.publish.ckan_params import boolean, integer, string_list, text

#: CKAN's ckan.group_and_organization_list_max and ..._all_fields_max
GROUP_LIST_MAX, GROUP_LIST_ALL_FIELDS_MAX = 1000, 25
CURRENT_PACKAGES_DEFAULT = 10


def license_list(catalog: Catalog, params: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The licences of the published datasets, as CKAN's licence register lists them. No parameters."""
    seen: dict[str, dict[str, Any]] = {}
    for d in catalog.datasets.values():
        lid = pk.licence_id(d.licence)
        seen.setdefault(lid, {
            "id": lid, "title": d.licence.title, "url": d.licence.url, "status": "active",
            "od_conformance": "approved" if pk.is_open(d.licence) else "not reviewed",
            "osd_conformance": "not reviewed", "maintainer": "", "family": "", "is_generic": False,
            "domain_content": True, "domain_data": True, "domain_software": False,
        })
    return [seen[k] for k in sorted(seen)]


def tag_list(catalog: Catalog, params: Mapping[str, Any]) -> list[Any]:
    """Free tags (keywords) of the published datasets. Parameters: query (or q), vocabulary_id, all_fields,
    offset and limit (with a query)."""
    if text(params, "vocabulary_id").strip():
        return []  # no vocabularies: every keyword is a free tag
    names = sorted({k for d in catalog.datasets.values() for k in d.keywords})
    query = (text(params, "query") or text(params, "q")).strip().casefold()
    if query:
        names = [n for n in names if query in n.casefold()]
        offset = integer(params, "offset", 0)
        names = names[offset:offset + integer(params, "limit", len(names))]
    if not boolean(params, "all_fields", False):
        return names
    return [{k: v for k, v in pk.tag_dict(n).items() if k in ("id", "name", "vocabulary_id", "display_name")}
            for n in names]


def _group(catalog: Catalog, theme: str, count: int, *, all_fields: bool, with_count: bool) -> Any:
    if not all_fields:
        return theme
    group = {**pk.group_dict(theme), "type": "group", "is_organization": False, "approval_status": "approved",
             "state": "active", "image_url": "", "created": min(
                 (pk.ckan_time(d.issued) for d in catalog.datasets.values() if d.theme == theme), default=""),
             "num_followers": 0}
    if with_count:
        group["package_count"] = count
    return group


def group_list(catalog: Catalog, params: Mapping[str, Any]) -> list[Any]:
    """Themes (CKAN groups). Parameters: all_fields, sort (name|title|package_count asc|desc), limit, offset,
    groups, q, include_dataset_count."""
    counts = Counter(d.theme for d in catalog.datasets.values() if d.theme)
    themes = list(counts)
    if wanted := string_list(params, "groups"):
        themes = [t for t in themes if t in wanted]
    if q := text(params, "q").strip().casefold():
        themes = [t for t in themes if q in t.casefold()]
    spec = sort_spec(text(params, "sort").strip() or "title asc", ["name", "title", "package_count", "packages"],
                     lenient=True)
    for field, descending in reversed(spec):
        themes.sort(key=(lambda t: counts[t]) if field in ("package_count", "packages") else None,
                    reverse=descending)
    all_fields = boolean(params, "all_fields", False)
    cap = GROUP_LIST_ALL_FIELDS_MAX if all_fields else GROUP_LIST_MAX
    offset = integer(params, "offset", 0)
    themes = themes[offset:offset + integer(params, "limit", cap, maximum=cap)]
    with_count = boolean(params, "include_dataset_count", True)
    return [_group(catalog, t, counts[t], all_fields=all_fields, with_count=with_count) for t in themes]


def current_package_list_with_resources(catalog: Catalog, params: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Packages with their resources, most recently modified first. Parameters: limit (default 10, at most
    1000), offset, page (1-based, with limit; when no offset is given)."""
    limit = integer(params, "limit", CURRENT_PACKAGES_DEFAULT, maximum=SEARCH_ROWS_MAX)
    offset = integer(params, "offset", 0)
    if "offset" not in params and (page := integer(params, "page", 0)):
        offset = (page - 1) * limit
    names = sorted(catalog.packages, key=lambda n: catalog.packages[n]["metadata_modified"], reverse=True)
    return [catalog.packages[n] for n in names[offset:offset + limit]]


def site_read(catalog: Catalog, params: Mapping[str, Any]) -> bool:
    """Whether the site can be read (always, for everyone: the zone is public). No parameters."""
    return True
