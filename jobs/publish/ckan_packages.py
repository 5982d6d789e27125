"""OpenDataset records as CKAN dicts: packages, resources, organizations, tags and groups.

CKAN clients (ckanapi, harvesters, the national portal's aggregator) key on CKAN's field names and
shapes, so a record is mapped field by field rather than dumped: ``notes`` is the summary, the
department is an ``organization``, the theme a ``group``, every download file a ``resource`` with its
``sha256:`` hash, and the Delta table one more resource with ``datastore_active`` that
``datastore_search`` answers for. The Chinese portal fields (来源部门, 开放属性, ...) ride in ``extras``,
as CKAN-based portals in China carry them. Ids are UUIDs derived from resource codes and department
keys, so they are stable across versions, servers and restarts. Pure functions, no I/O.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode

from jobs.publish.records import EXTENSIONS, Distribution, Licence, OpenDataset, Publisher

_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:citylake:ckan")
DATASTORE_FORMAT = "API"


def stable_id(kind: str, key: str) -> str:
    """A UUID that always names the same package/organization/tag/group."""
    return str(uuid.uuid5(_NAMESPACE, f"{kind}:{key}"))


def package_id(dataset: OpenDataset) -> str:
    return stable_id("package", dataset.code)


def organization_id(publisher: Publisher) -> str:
    return stable_id("organization", publisher.key)


def datastore_resource_id(dataset: OpenDataset) -> str:
    """The resource whose rows ``datastore_search`` serves: the dataset's Delta table, named like it."""
    return dataset.name


def file_resource_id(dataset: OpenDataset, distribution: Distribution) -> str:
    ext = EXTENSIONS.get(distribution.format, distribution.format.lower())
    return f"{dataset.name}-{ext}"


def ckan_time(value: str) -> str:
    """CKAN's timestamp spelling: ISO 8601 in UTC without an offset (``2026-11-26T08:00:00``)."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return value
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed.isoformat()


def absolute_url(base_url: str, path: str) -> str:
    """`base_url` + a zone-relative path, percent-encoded (codes and names may be Chinese); a query string is
    the caller's to append (a `?` here would be encoded as part of the path)."""
    return base_url.rstrip("/") + "/" + quote(path.lstrip("/"), safe="/")


def licence_id(licence: Licence) -> str:
    """The SPDX id of a Creative Commons licence (what CKAN's license list uses), else its URL."""
    url = licence.url.rstrip("/")
    if m := re.search(r"creativecommons\.org/licenses/([a-z-]+)/(\d+\.\d+)", url):
        return f"CC-{m.group(1).upper()}-{m.group(2)}"
    if "creativecommons.org/publicdomain/zero/1.0" in url:
        return "CC0-1.0"
    return licence.url


def is_open(licence: Licence) -> bool:
    return any(host in licence.url for host in ("creativecommons.org", "opendatacommons.org"))


def organization_dict(publisher: Publisher, *, created: str = "") -> dict[str, Any]:
    """The department as embedded in a package (``organization``); organization_show adds counts."""
    return {
        "id": organization_id(publisher),
        "name": publisher.key,
        "title": publisher.name,
        "display_name": publisher.name,
        "type": "organization",
        "description": publisher.name_en,
        "image_url": "",
        "created": created,
        "is_organization": True,
        "approval_status": "approved",
        "state": "active",
    }


def organization_extras(publisher: Publisher) -> list[dict[str, str]]:
    return [{"key": "code", "value": publisher.code}, {"key": "title_en", "value": publisher.name_en}]


def group_dict(theme: str) -> dict[str, Any]:
    return {"id": stable_id("group", theme), "name": theme, "title": theme, "display_name": theme,
            "description": "", "image_display_url": ""}


def tag_dict(keyword: str) -> dict[str, Any]:
    return {"id": stable_id("tag", keyword), "name": keyword, "display_name": keyword, "state": "active",
            "vocabulary_id": None}


def extras(dataset: OpenDataset) -> list[dict[str, str]]:
    """Portal fields in Chinese (as shown to residents), then the same facts under machine keys for fq."""
    pairs = [
        ("来源部门", dataset.publisher.name),
        ("开放属性", dataset.open_type),
        ("更新频率", dataset.update_cycle_zh),
        ("数据量", str(dataset.rows)),
        ("资源代码", dataset.code),
        ("发布日期", dataset.issued),
        ("信息项", "、".join(f.title for f in dataset.fields)),
        ("未开放信息项", "、".join(f"{f.title}（{f.deidentification}）" for f in dataset.withheld_fields)),
        ("title_en", dataset.title_en),
        ("code", dataset.code),
        ("open_type", dataset.open_type),
        ("update_cycle", dataset.update_cycle),
        ("kind", dataset.kind),
        ("source", dataset.source),
        ("theme", dataset.theme),
        ("version", str(dataset.version)),
    ]
    return [{"key": k, "value": v} for k, v in pairs]


def _resource_common(dataset: OpenDataset, position: int) -> dict[str, Any]:
    modified = ckan_time(dataset.modified)
    return {"package_id": package_id(dataset), "position": position, "state": "active", "created": modified,
            "last_modified": modified, "metadata_modified": modified, "url_type": None, "resource_type": None,
            "cache_url": None, "cache_last_updated": None}


def file_resource(dataset: OpenDataset, distribution: Distribution, position: int, base_url: str) -> dict[str, Any]:
    return {
        **_resource_common(dataset, position),
        "id": file_resource_id(dataset, distribution),
        "name": distribution.file_name,
        "description": f"{dataset.title}（{distribution.format}）",
        "format": distribution.format,
        "mimetype": distribution.media_type,
        "url": absolute_url(base_url, distribution.path),
        "latest_url": absolute_url(base_url, distribution.latest_path),
        "size": distribution.size,
        "hash": f"sha256:{distribution.sha256}",
        "rows": distribution.rows,
        "datastore_active": False,
    }


def datastore_resource(dataset: OpenDataset, position: int, base_url: str) -> dict[str, Any]:
    rid = datastore_resource_id(dataset)
    return {
        **_resource_common(dataset, position),
        "id": rid,
        "name": dataset.title,
        "description": f"{dataset.title}：数据接口（datastore_search）",
        "format": DATASTORE_FORMAT,
        "mimetype": "application/json",
        "url": absolute_url(base_url, "api/3/action/datastore_search") + "?" + urlencode({"resource_id": rid}),
        "size": None,
        "hash": "",
        "rows": dataset.rows,
        "datastore_active": True,
    }


def resources(dataset: OpenDataset, base_url: str) -> list[dict[str, Any]]:
    files = [file_resource(dataset, d, i, base_url) for i, d in enumerate(dataset.distributions)]
    return [*files, datastore_resource(dataset, len(files), base_url)]


def package_dict(dataset: OpenDataset, base_url: str, *, org_created: str = "") -> dict[str, Any]:
    """The CKAN package (``package_show`` result) of one record."""
    tags = [tag_dict(k) for k in dataset.keywords]
    groups = [group_dict(dataset.theme)] if dataset.theme else []
    res = resources(dataset, base_url)
    org = organization_dict(dataset.publisher, created=org_created)
    return {
        "id": package_id(dataset),
        "name": dataset.name,
        "title": dataset.title,
        "notes": dataset.summary,
        "type": "dataset",
        "state": "active",
        "private": False,
        "metadata_created": ckan_time(dataset.issued),
        "metadata_modified": ckan_time(dataset.modified),
        "license_id": licence_id(dataset.licence),
        "license_title": dataset.licence.title,
        "license_url": dataset.licence.url,
        "isopen": is_open(dataset.licence),
        "author": dataset.publisher.name,
        "author_email": None,
        "maintainer": dataset.publisher.name,
        "maintainer_email": None,
        "version": str(dataset.version),
        "url": "",
        "creator_user_id": None,
        "owner_org": org["id"],
        "organization": org,
        "tags": tags,
        "num_tags": len(tags),
        "groups": groups,
        "resources": res,
        "num_resources": len(res),
        "extras": extras(dataset),
        "relationships_as_object": [],
        "relationships_as_subject": [],
    }


def organizations_created(datasets: Iterable[OpenDataset]) -> dict[str, str]:
    """Per department key, the earliest 发布日期 of its datasets: the closest thing to CKAN's ``created``."""
    first: dict[str, str] = {}
    for d in datasets:
        created = ckan_time(d.issued)
        if d.publisher.key not in first or created < first[d.publisher.key]:
            first[d.publisher.key] = created
    return first
