"""What a published open dataset *is*, once, for everything that describes it to the outside.

Publishing writes one `OpenDataset` per published resource version into `catalog.json` of its zone;
the DCAT-AP catalog (`catalog.jsonld`), the CKAN-compatible API and the portal are all built from
these records, so they can never disagree about a title, a checksum or a row count. Pure Python
(no Spark, no I/O) so the API server and the portal load without a JVM.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

DatasetKind = Literal["detail", "aggregate"]

#: Download formats, in the order the portal lists them, with their media types (IANA).
MEDIA_TYPES: Mapping[str, str] = {
    "CSV": "text/csv",
    "JSON": "application/json",
    "Parquet": "application/vnd.apache.parquet",
    "XLSX": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
EXTENSIONS: Mapping[str, str] = {"CSV": "csv", "JSON": "json", "Parquet": "parquet", "XLSX": "xlsx"}


@dataclass(frozen=True)
class Licence:
    url: str = "https://creativecommons.org/licenses/by/4.0/"
    title: str = "Creative Commons Attribution 4.0 International (CC BY 4.0)"
    title_zh: str = "知识共享署名 4.0 国际许可协议"


@dataclass(frozen=True)
class Publisher:
    """The providing department (来源部门)."""

    key: str
    code: str
    name: str
    name_en: str


@dataclass(frozen=True)
class FieldInfo:
    """One published data item (信息项) and the de-identification technique applied to it."""

    name: str
    title: str
    type: str
    description: str = ""
    deidentification: str = "none"


@dataclass(frozen=True)
class Distribution:
    """One downloadable file of one dataset version.

    `path` is relative to the zone's root (`datasets/<name>/v<version>/<file>`); `latest_path` is the
    stable copy under `datasets/<name>/latest/`. Absolute URLs are `base_url + path`.
    """

    format: str
    media_type: str
    file_name: str
    path: str
    latest_path: str
    size: int
    sha256: str
    rows: int


@dataclass(frozen=True)
class ChartSpec:
    """How the portal charts an aggregate table: one bar per value of `dimension`, summing `measure`."""

    dimension: str
    measure: str
    title: str = ""


@dataclass(frozen=True)
class OpenDataset:
    """One published resource (detail or aggregate table) at its current version."""

    name: str
    code: str
    title: str
    title_en: str
    summary: str
    publisher: Publisher
    theme: str
    open_type: str
    #: catalog key (daily, monthly, ...) and its Chinese label (每日, 每月, ...)
    update_cycle: str
    update_cycle_zh: str
    kind: DatasetKind
    #: the catalog resource the table is derived from (itself for a detail table)
    source: str
    #: 发布日期 of the catalog entry (ISO date) and when this version was published (ISO datetime, UTC)
    issued: str
    modified: str
    version: int
    rows: int
    fields: tuple[FieldInfo, ...]
    distributions: tuple[Distribution, ...]
    keywords: tuple[str, ...] = ()
    licence: Licence = field(default_factory=Licence)
    #: the first rows of the table, as JSON values, for previews
    preview: tuple[Mapping[str, Any], ...] = ()
    chart: ChartSpec | None = None
    #: the entry's items that are not published (dropped), with their technique: the field list a reader
    #: sees is the catalog entry's whole list, and says what was withheld
    withheld_fields: tuple[FieldInfo, ...] = ()

    def distribution(self, fmt: str) -> Distribution:
        """The distribution in format `fmt` (CSV, JSON, Parquet, XLSX)."""
        for d in self.distributions:
            if d.format == fmt:
                return d
        raise KeyError(f"{self.name} has no {fmt} distribution")


def to_json(datasets: Iterable[OpenDataset]) -> str:
    """`catalog.json` text: the records sorted by code, UTF-8 friendly (Chinese kept readable)."""
    rows = [asdict(d) for d in sorted(datasets, key=lambda d: d.code)]
    return json.dumps({"datasets": rows}, ensure_ascii=False, indent=1, sort_keys=True, default=str)


def from_json(text: str) -> list[OpenDataset]:
    """Records back from `catalog.json` text."""
    return [_dataset(d) for d in json.loads(text)["datasets"]]


def _dataset(d: Mapping[str, Any]) -> OpenDataset:
    data = dict(d)
    data.pop("table", None)  # zones published before the lake's location was kept out of public records
    data["publisher"] = Publisher(**data["publisher"])
    data["licence"] = Licence(**data["licence"])
    data["fields"] = tuple(FieldInfo(**f) for f in data["fields"])
    data["withheld_fields"] = tuple(FieldInfo(**f) for f in data.get("withheld_fields", ()))
    data["distributions"] = tuple(Distribution(**x) for x in data["distributions"])
    data["keywords"] = tuple(data.get("keywords", ()))
    data["preview"] = tuple(data.get("preview", ()))
    data["chart"] = ChartSpec(**data["chart"]) if data.get("chart") else None
    return OpenDataset(**data)
