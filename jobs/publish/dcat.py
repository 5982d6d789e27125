"""The zone's open-data catalog as DCAT-AP 3.0 JSON-LD (`catalog.jsonld`), built from the records.

Why DCAT-AP: national and provincial portals and any DCAT harvester read it, so the catalog can be
harvested instead of re-keyed by hand. Why JSON-LD with an *inline* context: the file stays
self-contained, so reading it needs no network and yields the same triples forever, whatever happens to
a remote context URL.

Shape of the document: every node that has an IRI (catalog, datasets, distributions, publishers,
licences, controlled-vocabulary terms) is a flat entry of `@graph`, each typed; checksums (blank nodes)
and the data items (信息项) are nested in their owner. Every IRI is absolute: ours are `base_url` plus
a path, the controlled vocabularies are the EU Publications Office authority tables (frequency, file
type, language) and the IANA media-type registry, as DCAT-AP recommends.

The portal's own Chinese fields (来源部门, 开放属性, 更新频率, 数据量, 发布时间, 更新时间, 信息项) have no
DCAT property; they go into the citylake vocabulary (`cl:`). Their JSON keys are the portal's Chinese
labels, which the context maps to ASCII property IRIs, so the JSON reads like the portal and the RDF
stays portable.

Deterministic by construction (datasets sorted by code, distributions by path, vocabulary nodes by
IRI, no clock): rebuilding an unchanged zone rewrites a byte-identical file.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import quote, urlsplit

from jobs.publish.records import Distribution, FieldInfo, Licence, OpenDataset, Publisher

Node = dict[str, Any]

CL = "https://citylake.example/ns#"
PREFIXES: Mapping[str, str] = {
    "cl": CL,
    "dcat": "http://www.w3.org/ns/dcat#",
    "dct": "http://purl.org/dc/terms/",
    "foaf": "http://xmlns.com/foaf/0.1/",
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "spdx": "http://spdx.org/rdf/terms#",
    "vcard": "http://www.w3.org/2006/vcard/ns#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
}
#: JSON key (the portal's Chinese label) -> local name of the citylake property it stands for.
PORTAL_TERMS: Mapping[str, str] = {
    "来源部门": "sourceDepartment",
    "开放属性": "openType",
    "更新频率": "updateFrequency",
    "数据量": "recordCount",
    "发布时间": "publishedAt",
    "更新时间": "updatedAt",
    "信息项": "dataItem",
    "序号": "position",
    "英文信息项名": "itemName",
    "中文信息项名": "itemTitle",
    "数据类型": "dataType",
    "中文描述": "itemDescription",
    "脱敏方式": "deidentification",
}
CONTEXT: Mapping[str, Any] = {**PREFIXES, **{k: {"@id": f"cl:{v}"} for k, v in PORTAL_TERMS.items()}}

EU = "http://publications.europa.eu/resource/authority/"
IANA_MEDIA_TYPES = "https://www.iana.org/assignments/media-types/"
#: `update_cycle` keys -> EU frequency authority table codes.
FREQUENCIES: Mapping[str, str] = {
    "realtime": "UPDATE_CONT",
    "hourly": "HOURLY",
    "daily": "DAILY",
    "weekly": "WEEKLY",
    "monthly": "MONTHLY",
    "quarterly": "QUARTERLY",
    "yearly": "ANNUAL",
}
#: Download formats (records.MEDIA_TYPES keys) -> EU file-type authority table codes, for dct:format.
FILE_TYPES: Mapping[str, str] = {"CSV": "CSV", "JSON": "JSON", "Parquet": "PARQUET", "XLSX": "XLSX"}
#: EU Data Theme codes (what data.europa.eu and DCAT-AP harvesters facet on) with their labels, and the
#: words of a Chinese catalog theme (数据主题) that map to each, first match wins; a theme matching none keeps
#: only its local concept
EU_DATA_THEMES: Mapping[str, tuple[str, str, tuple[str, ...]]] = {
    "TRAN": ("交通", "Transport", ("交通", "出行", "公交", "道路", "运输")),
    "ENVI": ("环境", "Environment", ("环境", "生态", "气象", "资源")),
    "EDUC": ("教育、文化和体育", "Education, culture and sport", ("教育", "文化", "体育", "旅游", "科技")),
    "HEAL": ("卫生", "Health", ("卫生", "健康", "医疗")),
    "ECON": ("经济和金融", "Economy and finance", ("经济", "金融", "财税", "信用", "市场", "企业")),
    "AGRI": ("农业、渔业、林业和食品", "Agriculture, fisheries, forestry and food", ("农业", "农村", "林业", "食品")),
    "ENER": ("能源", "Energy", ("能源", "电力")),
    "JUST": ("司法、法律体系和公共安全", "Justice, legal system and public safety",
             ("司法", "法律", "公共安全", "执法")),
    "REGI": ("地区和城市", "Regions and cities", ("城乡", "城市", "城建", "住房", "地理")),
    "SOCI": ("人口和社会", "Population and society", ("社区", "社会", "人口", "民政", "就业", "保障")),
    "GOVE": ("政府和公共部门", "Government and public sector", ("政务", "公共服务", "机构", "政府")),
}
EU_DATA_THEME_SCHEME = EU + "data-theme"
CHINESE = EU + "language/ZHO"
LOCAL_AUTHORITY = "http://purl.org/adms/publishertype/LocalAuthority"
SHA256 = PREFIXES["spdx"] + "checksumAlgorithm_sha256"
ZH, EN = "zh", "en"
_SHA256_RX = re.compile(r"[0-9a-f]{64}")


def build_catalog(datasets: Sequence[OpenDataset], *, base_url: str, title: str = "城市公共数据开放平台",
                  title_en: str = "City Open Data Portal", publisher_name: str = "市大数据中心",
                  publisher_name_en: str = "City Big Data Center", issued: str | None = None) -> dict[str, Any]:
    """The DCAT-AP 3.0 JSON-LD document describing `datasets`, with IRIs under `base_url`.

    `issued` is the catalog's own dct:issued; without it the earliest dataset issue date is used, so the
    output never depends on the clock. Raises ValueError on input that would produce a wrong catalog
    (duplicate names or codes, an unknown update cycle or format, a malformed checksum or date).
    """
    base = _base(base_url)
    ordered = sorted(datasets, key=lambda d: d.code)
    _check_unique(ordered)
    vocab = _Vocabulary(base)
    catalog_publisher = vocab.catalog_publisher(ordered, publisher_name, publisher_name_en)
    catalog_licence = vocab.licence(Licence())

    catalog: Node = {
        "@id": base + "catalog",
        "@type": "dcat:Catalog",
        "dct:title": [_text(title), _text(title_en, EN)],
        "dct:description": [
            _text(f"{publisher_name}发布的{title}数据目录，汇集本市各部门开放的公共数据集。"),
            _text(f"Catalogue of the datasets the {publisher_name_en} publishes on the {title_en}, "
                  "from the departments of the city.", EN),
        ],
        "dct:publisher": _ref(catalog_publisher),
        "dct:language": _ref(vocab.language()),
        "dct:license": _ref(catalog_licence),
        "foaf:homepage": {"@id": base + "portal/index.html", "@type": "foaf:Document"},
    }
    graph: list[Node] = [catalog]
    for ds in ordered:
        node, distributions = _dataset(ds, base, vocab, published={d.name for d in ordered})
        graph += [node, *distributions]
    if ordered:
        catalog["dcat:dataset"] = [_ref(_dataset_iri(base, d)) for d in ordered]
        latest = max(ordered, key=lambda d: _instant(d.modified))
        catalog["dct:modified"] = _temporal(latest.modified)
    first_issue = issued or min((d.issued for d in ordered), key=_instant, default=None)
    if first_issue:
        catalog["dct:issued"] = _temporal(first_issue)
    if vocab.has_themes:
        catalog["dcat:themeTaxonomy"] = [_ref(vocab.theme_scheme)] + (
            [_ref(EU_DATA_THEME_SCHEME)] if vocab.has_eu_themes else [])
    return {"@context": dict(CONTEXT), "@graph": graph + vocab.nodes()}


def dumps(doc: Mapping[str, Any]) -> str:
    """The document as text: Chinese kept readable (not \\u-escaped), keys sorted, so diffs stay small."""
    return json.dumps(doc, ensure_ascii=False, indent=1, sort_keys=True)


class _Vocabulary:
    """The shared nodes (publishers, licences, vocabulary terms) referenced by datasets, each emitted once."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.theme_scheme = base + "themes"
        self.has_themes = False
        self.has_eu_themes = False
        self._nodes: dict[str, Node] = {}

    def _add(self, node: Node) -> str:
        self._nodes.setdefault(node["@id"], node)
        return str(node["@id"])

    def nodes(self) -> list[Node]:
        return [self._nodes[iri] for iri in sorted(self._nodes)]

    def language(self) -> str:
        return self._add({"@id": CHINESE, "@type": "dct:LinguisticSystem"})

    def _publisher_type(self) -> str:
        return self._add({"@id": LOCAL_AUTHORITY, "@type": "skos:Concept",
                          "skos:prefLabel": [_text("地方政府机构"), _text("Local Authority", EN)]})

    def contact(self, p: Publisher) -> str:
        """The department as a contact point: its names and the portal, where residents reach it."""
        return self._add({
            "@id": self.base + "agents/" + _segment(p.code) + "#contact",
            "@type": "vcard:Organization",
            "vcard:fn": [_text(p.name), _text(p.name_en, EN)],
            "vcard:hasURL": _ref(self.base + "portal/index.html"),
        })

    def department(self, p: Publisher) -> str:
        return self._add({
            "@id": self.base + "agents/" + _segment(p.code),
            "@type": "foaf:Agent",
            "foaf:name": [_text(p.name), _text(p.name_en, EN)],
            "dct:identifier": p.code,
            "dct:type": _ref(self._publisher_type()),
        })

    def catalog_publisher(self, datasets: Iterable[OpenDataset], name: str, name_en: str) -> str:
        """The department named `name` when it publishes datasets itself, else an agent of its own."""
        for ds in datasets:
            if ds.publisher.name == name:
                return self.department(ds.publisher)
        return self._add({
            "@id": self.base + "agents/catalog-publisher",
            "@type": "foaf:Agent",
            "foaf:name": [_text(name), _text(name_en, EN)],
            "dct:type": _ref(self._publisher_type()),
        })

    def licence(self, lic: Licence) -> str:
        return self._add({"@id": lic.url, "@type": "dct:LicenseDocument",
                          "dct:title": [_text(lic.title_zh), _text(lic.title, EN)]})

    def frequency(self, update_cycle: str) -> str:
        if update_cycle not in FREQUENCIES:
            raise ValueError(f"update cycle {update_cycle!r} has no DCAT frequency (known: {', '.join(FREQUENCIES)})")
        return self._add({"@id": EU + "frequency/" + FREQUENCIES[update_cycle], "@type": "dct:Frequency"})

    def file_type(self, fmt: str) -> str:
        if fmt not in FILE_TYPES:
            raise ValueError(f"download format {fmt!r} has no EU file type (known: {', '.join(FILE_TYPES)})")
        return self._add({"@id": EU + "file-type/" + FILE_TYPES[fmt], "@type": "dct:MediaTypeOrExtent"})

    def media_type(self, media_type: str) -> str:
        return self._add({"@id": IANA_MEDIA_TYPES + media_type, "@type": "dct:MediaType"})

    def checksum_algorithm(self) -> str:
        return self._add({"@id": SHA256, "@type": "spdx:ChecksumAlgorithm"})

    def eu_theme(self, theme: str) -> str | None:
        """The EU Data Theme a local theme falls under, by its words (`EU_DATA_THEMES`), or None."""
        for code, (zh, en, words) in EU_DATA_THEMES.items():
            if any(w in theme for w in words):
                self.has_eu_themes = True
                self._add({"@id": EU_DATA_THEME_SCHEME, "@type": "skos:ConceptScheme",
                           "dct:title": [_text("欧盟数据主题"), _text("Data theme", EN)]})
                return self._add({"@id": f"{EU_DATA_THEME_SCHEME}/{code}", "@type": "skos:Concept",
                                  "skos:prefLabel": [_text(zh), _text(en, EN)],
                                  "skos:inScheme": _ref(EU_DATA_THEME_SCHEME)})
        return None

    def theme(self, theme: str) -> str:
        self.has_themes = True
        self._add({"@id": self.theme_scheme, "@type": "skos:ConceptScheme",
                   "dct:title": [_text("数据主题"), _text("Data themes", EN)]})
        return self._add({"@id": f"{self.theme_scheme}/{_segment(theme)}", "@type": "skos:Concept",
                          "skos:prefLabel": _text(theme), "skos:inScheme": _ref(self.theme_scheme)})


def _dataset(ds: OpenDataset, base: str, vocab: _Vocabulary, published: set[str]) -> tuple[Node, list[Node]]:
    """The dataset's node and its distributions' nodes."""
    iri = _dataset_iri(base, ds)
    licence = vocab.licence(ds.licence)
    distributions = [_distribution(ds, d, base, vocab, licence) for d in sorted(ds.distributions, key=lambda x: x.path)]
    node: Node = {
        "@id": iri,
        "@type": "dcat:Dataset",
        "dct:identifier": ds.code,
        "dct:title": [_text(ds.title), _text(ds.title_en, EN)],
        "dct:description": _text(ds.summary),
        "dct:publisher": _ref(vocab.department(ds.publisher)),
        "dcat:contactPoint": _ref(vocab.contact(ds.publisher)),
        "dct:accrualPeriodicity": _ref(vocab.frequency(ds.update_cycle)),
        "dct:issued": _temporal(ds.issued),
        "dct:modified": _temporal(ds.modified),
        "dct:language": _ref(vocab.language()),
        "dcat:version": str(ds.version),
        "dcat:landingPage": {"@id": base + f"portal/datasets/{_segment(ds.name)}.html", "@type": "foaf:Document"},
        "dcat:distribution": [_ref(d["@id"]) for d in distributions],
        "cl:kind": ds.kind,
        "cl:sourceResource": ds.source,
        "来源部门": _text(ds.publisher.name),
        "开放属性": _text(ds.open_type),
        "更新频率": _text(ds.update_cycle_zh),
        "数据量": _count(ds.rows),
        "发布时间": _temporal(ds.issued),
        "更新时间": _temporal(ds.modified),
        "信息项": [_data_item(iri, pos, f) for pos, f in enumerate((*ds.fields, *ds.withheld_fields), start=1)],
    }
    if ds.theme:
        eu = vocab.eu_theme(ds.theme)
        node["dcat:theme"] = [_ref(vocab.theme(ds.theme))] + ([_ref(eu)] if eu else [])
    keywords = list(dict.fromkeys(k for k in ds.keywords if k))
    if keywords:
        node["dcat:keyword"] = [_text(k) for k in keywords]
    if ds.source != ds.name and ds.source in published:
        node["dct:source"] = _ref(base + "datasets/" + _segment(ds.source))
    return node, distributions


def _distribution(ds: OpenDataset, d: Distribution, base: str, vocab: _Vocabulary, licence: str) -> Node:
    """One downloadable file; its IRI is also its download URL (the versioned file never changes)."""
    if not _SHA256_RX.fullmatch(d.sha256.lower()):
        raise ValueError(f"{ds.name}: {d.path} has no valid sha256 checksum: {d.sha256!r}")
    url = base + _path(d.path)
    return {
        "@id": url,
        "@type": "dcat:Distribution",
        "dct:title": [_text(f"{ds.title}（{d.format}）"), _text(f"{ds.title_en} ({d.format})", EN)],
        "dct:description": [
            _text(f"{ds.title}第 {ds.version} 版的 {d.format} 文件，共 {d.rows} 行；字段说明见信息项。"),
            _text(f"Version {ds.version} of {ds.title_en} as {d.format}, {d.rows} rows; the data items describe "
                  "the fields.", EN)],
        "dcat:accessURL": _ref(url),
        "dcat:downloadURL": _ref(url),
        "dct:format": _ref(vocab.file_type(d.format)),
        "dcat:mediaType": _ref(vocab.media_type(d.media_type)),
        "dcat:byteSize": _count(d.size),
        "spdx:checksum": {
            "@type": "spdx:Checksum",
            "spdx:algorithm": _ref(vocab.checksum_algorithm()),
            "spdx:checksumValue": {"@value": d.sha256.lower(), "@type": "xsd:hexBinary"},
        },
        "dct:license": _ref(licence),
        "dct:issued": _temporal(ds.modified),
        "cl:latestURL": _ref(base + _path(d.latest_path)),
        "数据量": _count(d.rows),
    }


def _data_item(dataset_iri: str, position: int, f: FieldInfo) -> Node:
    """One row of the 信息项 table, with the de-identification technique applied to the field."""
    item: Node = {
        "@id": f"{dataset_iri}#item-{_segment(f.name)}",
        "@type": "cl:DataItem",
        "序号": _count(position),
        "英文信息项名": f.name,
        "中文信息项名": _text(f.title),
        "数据类型": f.type,
        "脱敏方式": f.deidentification,
    }
    if f.description:
        item["中文描述"] = _text(f.description)
    return item


def _base(base_url: str) -> str:
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ValueError(f"base_url must be an absolute http(s) URL without query or fragment, got {base_url!r}")
    return base_url if base_url.endswith("/") else base_url + "/"


def _check_unique(datasets: Sequence[OpenDataset]) -> None:
    """Two records with one name or code would silently merge into one DCAT dataset."""
    for attr in ("name", "code"):
        values = [getattr(d, attr) for d in datasets]
        dupes = sorted({v for v in values if values.count(v) > 1})
        if dupes:
            raise ValueError(f"datasets share a {attr}: {', '.join(dupes)}")


def _dataset_iri(base: str, ds: OpenDataset) -> str:
    return base + "datasets/" + _segment(ds.name)


def _segment(text: str) -> str:
    """One path segment of an IRI ('/' and non-ASCII percent-encoded), so every IRI is a valid URI."""
    return quote(text, safe="")


def _path(path: str) -> str:
    return quote(path.lstrip("/"), safe="/")


def _ref(iri: str) -> Node:
    return {"@id": iri}


def _text(value: str, lang: str = ZH) -> Node:
    return {"@value": value, "@language": lang}


def _count(value: int) -> Node:
    if value < 0:
        raise ValueError(f"a count or size cannot be negative: {value}")
    return {"@value": value, "@type": "xsd:nonNegativeInteger"}


def _temporal(text: str) -> Node:
    """An ISO date as xsd:date, an ISO datetime as xsd:dateTime (naive times are UTC, as records store them)."""
    when = _parse(text)
    if isinstance(when, datetime):
        return {"@value": when.isoformat().replace("+00:00", "Z"), "@type": "xsd:dateTime"}
    return {"@value": when.isoformat(), "@type": "xsd:date"}


def _instant(text: str) -> datetime:
    """For ordering dates and datetimes together (a date counts as its midnight UTC)."""
    when = _parse(text)
    return when if isinstance(when, datetime) else datetime(when.year, when.month, when.day, tzinfo=UTC)


def _parse(text: str) -> date | datetime:
    value = text.strip()
    try:
        if len(value) == 10:
            return date.fromisoformat(value)
        when = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"not an ISO date or datetime: {text!r}") from exc
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
