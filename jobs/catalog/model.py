"""Frozen, typed models of catalog entries (GB/T 21063 core metadata plus what the pipeline needs).

Pure Python with no Spark import, so the DAG factory and the tests load the whole catalog in
milliseconds. Everything else (schemas, rules, suites, masking, DAG tasks) is derived from these.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from jobs.catalog.opendata import OpenSpec

ItemType = Literal["string", "integer", "decimal", "date", "timestamp", "boolean"]
ITEM_TYPES: tuple[str, ...] = ("string", "integer", "decimal", "date", "timestamp", "boolean")

Severity = Literal["error", "warn"]
SEVERITIES: tuple[str, ...] = ("error", "warn")

#: PII classes (GB/T 37964 direct identifiers and sensitive free text); `none` is not personal.
#: `pseudonym` is an account token or hash standing for a person: still personal information.
PiiClass = Literal["none", "name", "phone", "resident_id", "address", "free_text", "pseudonym"]
PII_CLASSES: tuple[str, ...] = ("none", "name", "phone", "resident_id", "address", "free_text", "pseudonym")

#: What publishing does with a field (GB/T 37964 techniques): keep it, drop it (suppression), mask it,
#: generalise it (see `DataItem.generalize`) or replace it by a keyed pseudonym (HMAC-SHA256).
PublishMode = Literal["keep", "drop", "mask", "generalize", "pseudonymize"]
PUBLISH_MODES: tuple[str, ...] = ("keep", "drop", "mask", "generalize", "pseudonymize")

#: Identifier kinds the PII scanner looks for in published data (`jobs.publish.scanner.PATTERNS`, one
#: per kind); a field may allow some of them (e.g. a public service hotline) with `allow_identifiers`.
#: `phone` is an international number (E.164 or North American), `mobile` a mainland one.
IDENTIFIER_KINDS: tuple[str, ...] = ("resident_id", "mobile", "bank_card", "email", "phone")

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
    #: the rule applies only to rows where each named item holds one of the listed values (typed value
    #: as text), e.g. `{applicant_type: [个人]}` for the resident ID of a person applying
    when: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


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
    #: `publish: generalize` only: {to: date|month|year|hour} for dates and times, {to: band, width: N}
    #: for numbers (age 37 -> "30-39"), {to: round, digits: N} (coordinates), {to: prefix, length: N}
    #: for hierarchical codes (a township code cut to its district).
    generalize: Mapping[str, object] = field(default_factory=dict)
    #: identifier kinds this field may publish (the PII scanner skips them here only)
    allow_identifiers: tuple[str, ...] = ()

    @property
    def is_personal(self) -> bool:
        """True when the item identifies or describes a person."""
        return self.pii != "none"


#: The three catalogs of the compilation guide (政务信息资源目录编制指南) a resource can belong to.
CATALOG_KINDS: tuple[str, ...] = ("基础信息资源目录", "主题信息资源目录", "部门信息资源目录")

#: 信息资源格式 (GB/T 21063.3): how the resource is held at its provider.
RESOURCE_FORMATS: tuple[str, ...] = ("数据库", "电子文件", "电子表格", "图形图像", "流媒体", "接口", "其他")

#: How accepted rows reach silver: MERGE on the primary key, append (event logs), or replace the table
#: with each batch (full snapshots such as code lists).
WriteMode = Literal["merge", "append", "overwrite"]
WRITE_MODES: tuple[str, ...] = ("merge", "append", "overwrite")
#: what silver keeps of a keyed record: its latest value, or every version (slowly changing dimension type 2)
HistoryMode = Literal["latest", "scd2"]
HISTORY_MODES: tuple[str, ...] = ("latest", "scd2")


@dataclass(frozen=True)
class Classification:
    """分类: the catalog the resource belongs to and its place in it (类 / 项 / 目 / 细目)."""

    catalog: str
    category: str
    item: str = ""
    entry: str = ""
    detail: str = ""

    @property
    def path(self) -> str:
        """类/项/目/细目 joined, the way catalog listings show it."""
        return " / ".join(p for p in (self.category, self.item, self.entry, self.detail) if p)


@dataclass(frozen=True)
class ShareAttribute:
    """共享属性: who inside government may use the resource, and how."""

    type: str
    condition: str = ""
    method: str = ""


SourceFormat = Literal["csv", "jsonl", "xlsx"]
SOURCE_FORMATS: tuple[str, ...] = ("csv", "jsonl", "xlsx")

#: What ingest does when a file's columns differ from the catalog's data items.
DriftPolicy = Literal["freeze", "rescue", "evolve"]
DRIFT_POLICIES: tuple[str, ...] = ("freeze", "rescue", "evolve")

#: How a department says an export is complete: a marker file next to it, or the file has been
#: left unchanged for `quiet_seconds` (for systems that cannot write markers).
ReadyRule = Literal["marker", "quiet"]
READY_RULES: tuple[str, ...] = ("marker", "quiet")


@dataclass(frozen=True)
class SourceSpec:
    """How the department delivers the export."""

    format: SourceFormat = "csv"
    encoding: str = "gb18030"
    delimiter: str = ","
    file_pattern: str = "*.csv"
    header: Literal["title", "name"] = "title"
    drift: DriftPolicy = "freeze"
    ready: ReadyRule = "marker"
    marker_suffix: str = ".ok"
    quiet_seconds: int = 300
    #: Excel only: the sheet (default the first), the 1-based row where the header starts (rows above
    #: are title rows), how many rows the header spans (merged group cells above the column titles),
    #: and first-cell prefixes that mark notes below the table.
    sheet: str | None = None
    header_row: int = 1
    header_rows: int = 1
    footer_prefixes: tuple[str, ...] = ("注", "备注", "说明", "制表", "数据来源")


@dataclass(frozen=True)
class ErrorLimit:
    """Dirty-record limit of a batch (like DataX's errorLimit): above it the batch fails after
    quarantining and nothing of it reaches silver. `None` means no limit of that kind."""

    records: int | None = None
    ratio: float | None = None

    def exceeded(self, quarantined: int, read: int) -> str | None:
        """Why `quarantined` of `read` rows is too many, or None when within the limit."""
        if self.records is not None and quarantined > self.records:
            return f"{quarantined} quarantined rows exceed the limit of {self.records}"
        if self.ratio is not None and read and quarantined / read > self.ratio:
            return f"{quarantined / read:.2%} of rows quarantined exceeds the limit of {self.ratio:.2%}"
        return None


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
    error_limit: ErrorLimit = field(default_factory=ErrorLimit)
    classification: Classification | None = None
    #: 信息资源格式
    resource_format: str = "数据库"
    #: 开放条件 of a conditionally open resource
    open_condition: str = ""
    #: 发布日期 (ISO date) of the catalog entry
    published: str = ""
    #: 关联资源代码: codes of related resources (checked to exist)
    related: tuple[str, ...] = ()
    #: silver partition columns (items)
    partition_by: tuple[str, ...] = ()
    #: items maintenance Z-orders silver by (the columns most queries filter on), none: plain compaction
    cluster_by: tuple[str, ...] = ()
    write_mode: WriteMode = "merge"
    #: `scd2`: silver keeps every version of a record (`_valid_from`, `_valid_to`, `_is_current`)
    history: HistoryMode = "latest"
    #: how the resource is opened: k-anonymity and aggregate tables (see jobs/catalog/opendata.py)
    open: OpenSpec = field(default_factory=lambda: OpenSpec())
    #: Hints for the sample generator about the whole resource, e.g. `daily_rows` (rows a day at scale 1,
    #: from the city's reported volumes); not used by the pipeline.
    sample: Mapping[str, object] = field(default_factory=dict)
    #: reference data this resource is the lake's source of, for the rules (`divisions`: its silver
    #: table is the list `cn_division` checks codes against)
    provides: str | None = None
    file: str = ""

    @property
    def uses_rule(self) -> frozenset[str]:
        """Names of the rules any item or cross-field check of this resource applies."""
        return frozenset([r.rule for i in self.items for r in i.rules] + [c.rule for c in self.checks])

    @property
    def sequence_code(self) -> str:
        """顺序码: the part of the resource code after the classification code (`<分类码>/<顺序码>`)."""
        return self.code.split("/", 1)[1] if "/" in self.code else self.code

    @property
    def classification_code(self) -> str:
        """分类码: the part of the resource code before the slash."""
        return self.code.split("/", 1)[0] if "/" in self.code else ""

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

    @property
    def zone(self) -> str | None:
        """`open` (public), `restricted`, or None: the resource never leaves the lake."""
        from jobs.catalog.opendata import ZONES

        return ZONES[self.open_type]


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

    def provider_of(self, reference: str) -> Resource | None:
        """The resource that `provides` the reference data `reference` (the loader allows one)."""
        return next((r for _, r in sorted(self.resources.items()) if r.provides == reference), None)

    def resources_of(self, department: str) -> tuple[Resource, ...]:
        """Resources a department provides, in name order."""
        return tuple(r for _, r in sorted(self.resources.items()) if r.provider == department)
