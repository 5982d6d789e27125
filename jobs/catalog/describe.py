"""The catalog as people and tables see it: listing lines, an entry's card, and one flat row per
resource for `ops.catalog`. Pure Python, no Spark."""

from __future__ import annotations

import json
from typing import Any

from jobs.catalog.model import UPDATE_CYCLES, Catalog, Resource

#: Columns of `ops.catalog`, in order (all strings except `items_count`).
CATALOG_COLUMNS = (
    "code", "classification_code", "sequence_code", "name", "title", "title_en", "provider", "provider_code",
    "provider_name", "source_system", "catalog", "classification", "theme", "summary", "resource_format",
    "share_type", "share_condition", "share_method", "open_type", "open_condition", "update_cycle", "published",
    "related", "primary_key", "source_format", "write_mode", "items", "items_count", "file",
)


def find(catalog: Catalog, code_or_name: str) -> Resource:
    """A resource by its code (信息资源代码) or its name."""
    for res in catalog.resources.values():
        if code_or_name in (res.code, res.name):
            return res
    return catalog.resource(code_or_name)  # raises CatalogError listing what exists


def listed(catalog: Catalog, department: str | None = None) -> list[Resource]:
    """The resources `catalog list` shows (one department's, or all), by code."""
    return [r for r in sorted(catalog.resources.values(), key=lambda r: r.code) if department in (None, r.provider)]


def listing(catalog: Catalog, department: str | None = None) -> list[str]:
    """One line per resource: code, name, title, provider, format, cycle, open type."""
    return [f"{r.code:22} {r.name:28} {r.title}  [{r.provider}, {r.source.format}, "
            f"{UPDATE_CYCLES[r.update_cycle]}, {r.open_type}]" for r in listed(catalog, department)]


def card(catalog: Catalog, res: Resource) -> str:
    """The catalog entry as the compilation guide lays it out, then what the pipeline needs."""
    dept = catalog.departments[res.provider]
    cls = res.classification
    lines = [
        f"信息资源名称  {res.title} ({res.title_en})",
        f"信息资源代码  {res.code}  (分类码 {res.classification_code or '-'}, 顺序码 {res.sequence_code})",
        f"信息资源分类  {cls.catalog + ' · ' + cls.path if cls else '-'}",
        f"提供方        {dept.name} ({dept.code}) — {dept.system}",
        f"摘要          {res.summary}",
        f"格式          {res.resource_format}; 主题 {res.theme}",
        f"共享属性      {res.share.type}" + (f"; 条件: {res.share.condition}" if res.share.condition else "")
        + (f"; 方式: {res.share.method}" if res.share.method else ""),
        f"开放属性      {res.open_type}" + (f"; 条件: {res.open_condition}" if res.open_condition else ""),
        f"更新周期      {UPDATE_CYCLES[res.update_cycle]}; 发布日期 {res.published or '-'}",
        f"关联资源代码  {', '.join(res.related) or '-'}",
        f"pipeline      table {res.name}, key {', '.join(res.primary_key) or '-'}, write {res.write_mode}"
        f"{' (history: scd2)' if res.history == 'scd2' else ''}, "
        f"source {res.source.format}/{res.source.encoding} {res.source.file_pattern}, drift {res.source.drift}",
        "信息项:",
    ]
    for item in res.items:
        flags = [item.type + (f"({item.length})" if item.length else "")]
        if item.required or item.name in res.primary_key:
            flags.append("必填")
        if item.pii != "none":
            flags.append(f"pii {item.pii} -> {item.publish}")
        flags += [r.rule + ("" if r.severity == "error" else f" ({r.severity})") for r in item.rules]
        lines.append(f"  {item.name:24} {item.title:12} {', '.join(flags)}")
    return "\n".join(lines)


def catalog_row(catalog: Catalog, res: Resource) -> dict[str, Any]:
    """The resource as one row of `ops.catalog`."""
    dept = catalog.departments[res.provider]
    cls = res.classification
    items = [{"name": i.name, "title": i.title, "type": i.type, "length": i.length, "required": i.required,
              "pii": i.pii, "publish": i.publish} for i in res.items]
    return {
        "code": res.code, "classification_code": res.classification_code, "sequence_code": res.sequence_code,
        "name": res.name, "title": res.title, "title_en": res.title_en, "provider": res.provider,
        "provider_code": dept.code, "provider_name": dept.name, "source_system": dept.system,
        "catalog": cls.catalog if cls else "", "classification": cls.path if cls else "", "theme": res.theme,
        "summary": res.summary, "resource_format": res.resource_format, "share_type": res.share.type,
        "share_condition": res.share.condition, "share_method": res.share.method, "open_type": res.open_type,
        "open_condition": res.open_condition, "update_cycle": UPDATE_CYCLES[res.update_cycle],
        "published": res.published, "related": json.dumps(list(res.related)),
        "primary_key": ",".join(res.primary_key), "source_format": res.source.format, "write_mode": res.write_mode,
        "items": json.dumps(items, ensure_ascii=False), "items_count": len(items), "file": res.file,
    }
