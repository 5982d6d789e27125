"""Frozen, typed models of catalog entries (GB/T 21063 core metadata plus what the pipeline needs).

Pure Python with no Spark import, so the DAG factory and the tests load the whole catalog in
milliseconds. Everything else (schemas, rules, suites, masking, DAG tasks) is derived from these.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

ItemType = Literal["string", "integer", "decimal", "date", "timestamp", "boolean"]
ITEM_TYPES: tuple[str, ...] = ("string", "integer", "decimal", "date", "timestamp", "boolean")

Severity = Literal["error", "warn"]
SEVERITIES: tuple[str, ...] = ("error", "warn")

#: PII classes (GB/T 37964 direct identifiers and sensitive free text); `none` is not personal.
PiiClass = Literal["none", "name", "phone", "resident_id", "address", "free_text"]
PII_CLASSES: tuple[str, ...] = ("none", "name", "phone", "resident_id", "address", "free_text")

#: What publishing does with a field: keep it, drop it (suppression) or mask it.
PublishMode = Literal["keep", "drop", "mask"]
PUBLISH_MODES: tuple[str, ...] = ("keep", "drop", "mask")

SHARE_TYPES: tuple[str, ...] = ("无条件共享", "有条件共享", "不予共享")
OPEN_TYPES: tuple[str, ...] = ("无条件开放", "有条件开放", "不予开放")
UPDATE_CYCLES: Mapping[str, str] = {
    "realtime": "实时",
    "hourly": "每小时",
    "daily": "每日",
    "weekly": "每周",
    "monthly": "每月",
    "quarterly": "每季度",
    "yearly": "每年",
}


@dataclass(frozen=True)
class RuleRef:
    """A named rule applied to a field (or, for resource checks, to several fields)."""

    rule: str
    severity: Severity = "error"
    params: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class DataItem:
    """One data item (信息项) of a resource."""

    name: str
    title: str
    type: ItemType = "string"
    length: int | None = None
    required: bool = False
    formats: tuple[str, ...] = ()
    precision: int | None = None
    scale: int | None = None
    rules: tuple[RuleRef, ...] = ()
    pii: PiiClass = "none"
    publish: PublishMode = "keep"
    description: str = ""
    examples: tuple[str, ...] = ()
    #: How the sample generator makes realistic values (see jobs/sample/generator.py); not a rule.
    sample: Mapping[str, object] = field(default_factory=dict)

    @property
    def is_personal(self) -> bool:
        """True when the item identifies or describes a person."""
        return self.pii != "none"


@dataclass(frozen=True)
class ShareAttribute:
    """共享属性: who inside government may use the resource, and how."""

    type: str
    condition: str = ""
    method: str = ""


@dataclass(frozen=True)
class SourceSpec:
    """How the department delivers the export."""

    format: Literal["csv", "jsonl"] = "csv"
    encoding: str = "gb18030"
    delimiter: str = ","
    file_pattern: str = "*.csv"
    header: Literal["title", "name"] = "title"


@dataclass(frozen=True)
class Department:
    """A providing department and its source system (one DAG each)."""

    key: str
    code: str
    name: str
    name_en: str
    system: str


@dataclass(frozen=True)
class Resource:
    """A catalog resource: one bronze, one silver and (when open) one open table."""

    name: str
    code: str
    title: str
    title_en: str
    provider: str
    summary: str
    theme: str
    update_cycle: str
    share: ShareAttribute
    open_type: str
    source: SourceSpec
    items: tuple[DataItem, ...]
    primary_key: tuple[str, ...]
    checks: tuple[RuleRef, ...] = ()
    file: str = ""

    def item(self, name: str) -> DataItem:
        """The data item called `name` (KeyError if absent)."""
        for it in self.items:
            if it.name == name:
                return it
        raise KeyError(f"{self.name} has no data item {name!r}")

    @property
    def item_names(self) -> tuple[str, ...]:
        return tuple(it.name for it in self.items)

    @property
    def is_open(self) -> bool:
        """True when the resource may be published to the public open zone."""
        return self.open_type == "无条件开放"


@dataclass(frozen=True)
class Catalog:
    """All departments and resources, keyed by name."""

    departments: Mapping[str, Department]
    resources: Mapping[str, Resource]

    def resource(self, name: str) -> Resource:
        """The resource called `name`; the error lists what exists."""
        try:
            return self.resources[name]
        except KeyError:
            from jobs.errors import CatalogError

            known = ", ".join(sorted(self.resources)) or "none"
            raise CatalogError(f"no such resource (known: {known})", file="<catalog>", resource=name) from None

    def resources_of(self, department: str) -> tuple[Resource, ...]:
        """Resources a department provides, in name order."""
        return tuple(r for _, r in sorted(self.resources.items()) if r.provider == department)
