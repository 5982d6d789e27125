"""catalog.jsonld: DCAT-AP 3.0 JSON-LD that parses as RDF, meets the shapes and says what the records say."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path

import pytest
from pyshacl import validate
from rdflib import Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCTERMS, FOAF, RDF, SH
from rdflib.term import Node

from jobs.publish.dcat import build_catalog, dumps
from jobs.publish.records import MEDIA_TYPES, Distribution, FieldInfo, OpenDataset, Publisher

BASE = "https://data.example.gov.cn/open/"
# open namespaces: rdflib's closed DCAT/XSD ones warn when pytest probes module attributes
DCAT = Namespace("http://www.w3.org/ns/dcat#")
XSD = Namespace("http://www.w3.org/2001/XMLSchema#")
SPDX = Namespace("http://spdx.org/rdf/terms#")
CL = Namespace("https://citylake.example/ns#")
FREQ = "http://publications.europa.eu/resource/authority/frequency/"
SHAPES = Path(__file__).with_name("dcat_ap_shapes.ttl")

NETWORK = Publisher("network_governance", "11510100MB1Y00003Q", "成都市网络理政办公室",
                    "Chengdu Network Governance Office")
BIG_DATA = Publisher("big_data_center", "12510100MB1D07468Q", "成都市大数据中心", "Chengdu Big Data Center")


def distributions(name: str, code: str, rows: int, formats=("CSV", "JSON", "Parquet")) -> tuple[Distribution, ...]:
    stem = code.replace("/", "_")
    return tuple(
        Distribution(format=fmt, media_type=MEDIA_TYPES[fmt], file_name=f"{stem}_20240501.{fmt.lower()}",
                     path=f"datasets/{name}/v3/{stem}_20240501.{fmt.lower()}",
                     latest_path=f"datasets/{name}/latest/{stem}.{fmt.lower()}",
                     size=1000 * (k + 1) + rows, sha256=hashlib.sha256(f"{name}.{fmt}".encode()).hexdigest(),
                     rows=rows)
        for k, fmt in enumerate(formats))


APPEALS = OpenDataset(
    name="citizen_appeals", code="510100/1101-00001", title="市民诉求工单", title_en="Citizen appeals",
    summary="12345 热线受理的市民诉求工单，诉求人信息已脱敏。", publisher=NETWORK, theme="城市管理",
    open_type="无条件开放", update_cycle="daily", update_cycle_zh="每日", kind="detail", source="citizen_appeals",
    issued="2019-06-01", modified="2024-05-01T02:00:00Z", version=3, rows=1520,
    fields=(FieldInfo("appeal_id", "工单编号", "string", "工单唯一编号"),
            FieldInfo("caller_phone", "来电号码", "string", deidentification="mask"),
            FieldInfo("district_code", "区县代码", "string", deidentification="generalize")),
    distributions=distributions("citizen_appeals", "510100/1101-00001", 1520),
    keywords=("12345", "市民诉求"),
    withheld_fields=(FieldInfo("caller_id_no", "诉求人身份证号", "string", deidentification="suppression"),),
)
APPEALS_MONTHLY = OpenDataset(
    name="appeals_by_district_month", code="510100/1101-00001-A01", title="市民诉求月度分区统计",
    title_en="Citizen appeals by district and month", summary="按区县、月份、诉求类别汇总的工单数。",
    publisher=NETWORK, theme="城市管理", open_type="无条件开放", update_cycle="monthly", update_cycle_zh="每月",
    kind="aggregate", source="citizen_appeals", issued="2019-06-01", modified="2024-05-01T02:05:00+00:00",
    version=1, rows=240,
    fields=(FieldInfo("district", "区县", "string", deidentification="generalize"),
            FieldInfo("month", "月份", "string"), FieldInfo("appeals", "工单数", "long")),
    distributions=distributions("appeals_by_district_month", "510100/1101-00001-A01", 240, ("CSV", "XLSX")),
)
SERVICES = OpenDataset(
    name="service_items", code="510100/1103-00001", title="天府市民云服务事项清单",
    title_en="Tianfu Citizen Cloud service catalogue", summary="天府市民云平台接入的便民服务事项清单。",
    publisher=BIG_DATA, theme="", open_type="有条件开放", update_cycle="weekly", update_cycle_zh="每周",
    kind="detail", source="service_items", issued="2019-11-18", modified="2024-04-28T16:00:00", version=2,
    rows=192, fields=(FieldInfo("item_code", "服务事项编码", "string"),),
    distributions=distributions("service_items", "510100/1103-00001", 192, ("CSV",)), keywords=("便民服务",),
)
DATASETS = (SERVICES, APPEALS_MONTHLY, APPEALS)


def build(datasets=DATASETS, **kw) -> dict:
    return build_catalog(datasets, base_url=BASE, **kw)


def to_graph(doc: dict) -> Graph:
    return Graph().parse(data=dumps(doc), format="json-ld")


def shacl(graph: Graph) -> tuple[bool, str, set[Node]]:
    """Whether `graph` conforms, the report, and the paths of the properties that violate."""
    conforms, results, text = validate(graph, shacl_graph=Graph().parse(SHAPES, format="turtle"), inference="none")
    assert isinstance(results, Graph)
    return bool(conforms), str(text), set(results.objects(None, SH.resultPath))


@pytest.fixture(scope="module")
def graph() -> Graph:
    return to_graph(build(issued="2024-05-01"))


def one(g: Graph, s: Node, p: URIRef) -> Node:
    values = list(g.objects(s, p))
    assert len(values) == 1, (s, p, values)
    return values[0]


def dataset_iri(ds: OpenDataset) -> URIRef:
    return URIRef(BASE + "datasets/" + ds.name)


def test_document_is_self_contained_json_ld():
    doc = build()
    assert isinstance(doc["@context"], dict) and "@import" not in doc["@context"]  # inline, nothing to fetch
    assert {n["@type"] for n in doc["@graph"]} >= {"dcat:Catalog", "dcat:Dataset", "dcat:Distribution",
                                                   "foaf:Agent", "dct:LicenseDocument", "dct:Frequency"}


def test_node_types_and_absolute_iris(graph):
    assert len(set(graph.subjects(RDF.type, DCAT.Catalog))) == 1
    assert set(graph.subjects(RDF.type, DCAT.Dataset)) == {dataset_iri(d) for d in DATASETS}
    assert set(graph.subjects(RDF.type, DCAT.Distribution)) == {
        URIRef(BASE + d.path) for ds in DATASETS for d in ds.distributions}
    assert set(graph.subjects(RDF.type, DCTERMS.LicenseDocument)) == {
        URIRef("https://creativecommons.org/licenses/by/4.0/")}
    assert set(graph.subjects(RDF.type, SPDX.Checksum)) == set(graph.objects(None, SPDX.checksum))
    for subject in set(graph.subjects()):
        assert list(graph.objects(subject, RDF.type)), f"untyped node {subject}"
    for term in {t for triple in graph for t in triple if isinstance(t, URIRef)}:
        assert str(term).startswith(("http://", "https://")), term


def test_publishers_are_one_agent_per_department(graph):
    departments = {one(graph, a, DCTERMS.identifier): a for a in graph.subjects(RDF.type, FOAF.Agent)
                   if (a, DCTERMS.identifier, None) in graph}
    assert set(departments) == {Literal(NETWORK.code), Literal(BIG_DATA.code)}
    for p in (NETWORK, BIG_DATA):
        agent = departments[Literal(p.code)]
        assert set(graph.objects(agent, FOAF.name)) == {Literal(p.name, lang="zh"), Literal(p.name_en, lang="en")}
    for ds in DATASETS:
        assert one(graph, dataset_iri(ds), DCTERMS.publisher) == departments[Literal(ds.publisher.code)]
    catalog = next(graph.subjects(RDF.type, DCAT.Catalog))
    catalog_publisher = one(graph, catalog, DCTERMS.publisher)
    assert Literal("市大数据中心", lang="zh") in set(graph.objects(catalog_publisher, FOAF.name))


def test_catalog_publisher_reuses_the_department_of_the_same_name():
    g = to_graph(build(publisher_name=BIG_DATA.name, publisher_name_en=BIG_DATA.name_en))
    catalog = next(g.subjects(RDF.type, DCAT.Catalog))
    assert one(g, catalog, DCTERMS.publisher) == one(g, dataset_iri(SERVICES), DCTERMS.publisher)
    assert len(set(g.subjects(RDF.type, FOAF.Agent))) == 2


def test_conforms_to_the_shapes(graph):
    conforms, text, _ = shacl(graph)
    assert conforms, text


def test_shapes_bite_when_a_distribution_loses_its_access_url():
    doc = build(issued="2024-05-01")
    target = next(n for n in doc["@graph"] if n["@type"] == "dcat:Distribution")
    del target["dcat:accessURL"]
    conforms, _, paths = shacl(to_graph(doc))
    assert not conforms and paths == {DCAT.accessURL}


@pytest.mark.parametrize(("cls", "prop", "lang"), [
    (DCAT.Catalog, DCTERMS.publisher, None),
    (DCAT.Catalog, DCAT.dataset, None),
    (DCAT.Catalog, DCTERMS.title, None),
    (DCAT.Dataset, DCTERMS.title, "en"),
    (DCAT.Dataset, DCTERMS.description, None),
    (DCAT.Dataset, DCTERMS.identifier, None),
    (DCAT.Dataset, DCTERMS.accrualPeriodicity, None),
    (DCAT.Dataset, DCTERMS.modified, None),
    (DCAT.Dataset, DCAT.distribution, None),
    (DCAT.Dataset, DCAT.landingPage, None),
    (DCAT.Dataset, CL.sourceDepartment, None),
    (DCAT.Dataset, CL.recordCount, None),
    (DCAT.Distribution, DCAT.downloadURL, None),
    (DCAT.Distribution, SPDX.checksum, None),
    (DCAT.Distribution, DCAT.byteSize, None),
    (DCAT.Distribution, DCAT.mediaType, None),
    (DCAT.Distribution, DCTERMS.license, None),
    (SPDX.Checksum, SPDX.checksumValue, None),
    (FOAF.Agent, FOAF.name, "zh"),
    (CL.DataItem, CL.deidentification, None),
])
def test_shapes_bite_on_every_mandatory_property(graph, cls, prop, lang):
    g = Graph()
    for triple in graph:
        g.add(triple)
    subject = sorted(g.subjects(RDF.type, cls))[0]
    doomed = [o for o in g.objects(subject, prop) if lang is None or getattr(o, "language", None) == lang]
    assert doomed
    for o in doomed:
        g.remove((subject, prop, o))
    conforms, _, paths = shacl(g)
    assert not conforms and prop in paths, f"removing {prop} from {subject} went unnoticed"


def test_shapes_reject_a_frequency_outside_the_eu_vocabulary(graph):
    g = Graph()
    for triple in graph:
        g.add(triple)
    made_up = URIRef("https://data.example.gov.cn/frequency/sometimes")
    g.set((dataset_iri(APPEALS), DCTERMS.accrualPeriodicity, made_up))
    g.add((made_up, RDF.type, DCTERMS.Frequency))
    assert not shacl(g)[0]


def test_distributions_carry_the_records_checksum_size_and_types(graph):
    for ds in DATASETS:
        assert set(graph.objects(dataset_iri(ds), DCAT.distribution)) == {URIRef(BASE + d.path)
                                                                          for d in ds.distributions}
        for d in ds.distributions:
            dist = URIRef(BASE + d.path)
            checksum = one(graph, dist, SPDX.checksum)
            assert one(graph, checksum, SPDX.algorithm) == SPDX.checksumAlgorithm_sha256
            value = one(graph, checksum, SPDX.checksumValue)
            assert value.datatype == XSD.hexBinary and str(value).lower() == d.sha256
            size = one(graph, dist, DCAT.byteSize)
            assert size.datatype == XSD.nonNegativeInteger and size.toPython() == d.size
            assert one(graph, dist, DCAT.accessURL) == one(graph, dist, DCAT.downloadURL) == dist
            assert one(graph, dist, DCAT.mediaType) == URIRef("https://www.iana.org/assignments/media-types/"
                                                               + d.media_type)
            assert (one(graph, dist, DCAT.mediaType), RDF.type, DCTERMS.MediaType) in graph
            fmt = one(graph, dist, DCTERMS.format)
            assert fmt.startswith("http://publications.europa.eu/resource/authority/file-type/")
            assert (fmt, RDF.type, DCTERMS.MediaTypeOrExtent) in graph
            assert one(graph, dist, DCTERMS.license) == URIRef(ds.licence.url)
            assert one(graph, dist, CL.latestURL) == URIRef(BASE + d.latest_path)
            assert Literal(f"{ds.title}（{d.format}）", lang="zh") in set(graph.objects(dist, DCTERMS.title))
            assert {o.language for o in graph.objects(dist, DCTERMS.description)} == {"zh", "en"}


def test_recommended_contact_point_and_a_labelled_publisher_type(graph):
    """What harvesters score beyond the mandatory: a contact point per dataset, every concept labelled."""
    vcard = Namespace("http://www.w3.org/2006/vcard/ns#")
    skos = Namespace("http://www.w3.org/2004/02/skos/core#")
    for ds in DATASETS:
        contact = one(graph, dataset_iri(ds), DCAT.contactPoint)
        assert (contact, RDF.type, vcard.Organization) in graph
        assert Literal(ds.publisher.name, lang="zh") in set(graph.objects(contact, vcard.fn))
        assert one(graph, contact, vcard.hasURL) == URIRef(BASE + "portal/index.html")
        publisher = one(graph, dataset_iri(ds), DCTERMS.publisher)
        assert Literal(ds.publisher.name, lang="zh") in set(graph.objects(publisher, FOAF.name))
    concepts = set(graph.subjects(RDF.type, skos.Concept))
    assert concepts and all({o.language for o in graph.objects(c, skos.prefLabel)} >= {"zh"} for c in concepts)


def test_frequencies_use_the_eu_vocabulary(graph):
    expected = {APPEALS: "DAILY", APPEALS_MONTHLY: "MONTHLY", SERVICES: "WEEKLY"}
    for ds, code in expected.items():
        freq = one(graph, dataset_iri(ds), DCTERMS.accrualPeriodicity)
        assert freq == URIRef(FREQ + code) and (freq, RDF.type, DCTERMS.Frequency) in graph


@pytest.mark.parametrize(("cycle", "code"), [
    ("realtime", "UPDATE_CONT"), ("hourly", "HOURLY"), ("daily", "DAILY"), ("weekly", "WEEKLY"),
    ("monthly", "MONTHLY"), ("quarterly", "QUARTERLY"), ("yearly", "ANNUAL")])
def test_every_update_cycle_maps_to_its_eu_frequency(cycle, code):
    g = to_graph(build([replace(APPEALS, update_cycle=cycle)]))
    assert one(g, dataset_iri(APPEALS), DCTERMS.accrualPeriodicity) == URIRef(FREQ + code)


def test_an_unknown_update_cycle_is_refused():
    with pytest.raises(ValueError, match="sometimes"):
        build([replace(APPEALS, update_cycle="sometimes")])


def test_dataset_properties(graph):
    ds = dataset_iri(APPEALS)
    assert set(graph.objects(ds, DCTERMS.title)) == {Literal("市民诉求工单", lang="zh"),
                                                     Literal("Citizen appeals", lang="en")}
    assert one(graph, ds, DCTERMS.identifier) == Literal("510100/1101-00001")
    assert one(graph, ds, DCTERMS.description) == Literal(APPEALS.summary, lang="zh")
    assert one(graph, ds, DCAT.landingPage) == URIRef(BASE + "portal/datasets/citizen_appeals.html")
    assert set(graph.objects(ds, DCAT.keyword)) == {Literal("12345", lang="zh"), Literal("市民诉求", lang="zh")}
    skos = "http://www.w3.org/2004/02/skos/core#"
    local, eu = sorted(graph.objects(ds, DCAT.theme), key=lambda t: "publications.europa.eu" in str(t))
    assert one(graph, local, URIRef(skos + "prefLabel")) == Literal("城市管理", lang="zh")
    # and the EU Data Theme harvesters facet on (城市 -> Regions and cities), in the catalog's taxonomies
    assert eu == URIRef("http://publications.europa.eu/resource/authority/data-theme/REGI")
    assert Literal("Regions and cities", lang="en") in set(graph.objects(eu, URIRef(skos + "prefLabel")))
    taxonomies = set(graph.objects(URIRef(BASE + "catalog"), DCAT.themeTaxonomy))
    assert URIRef("http://publications.europa.eu/resource/authority/data-theme") in taxonomies
    assert not list(graph.objects(dataset_iri(SERVICES), DCAT.theme))  # no theme, no EU theme
    assert one(graph, ds, DCTERMS.issued) == Literal("2019-06-01", datatype=XSD.date)
    assert one(graph, ds, DCTERMS.modified) == Literal("2024-05-01T02:00:00Z", datatype=XSD.dateTime)
    # a naive record time is UTC, an offset is written as Z
    assert one(graph, dataset_iri(SERVICES), DCTERMS.modified) == Literal("2024-04-28T16:00:00Z", datatype=XSD.dateTime)
    text = dumps(build())
    assert '"2024-04-28T16:00:00Z"' in text and '"2024-05-01T02:05:00Z"' in text and "+00:00" not in text
    # the aggregate points at the detail table it is derived from
    assert one(graph, dataset_iri(APPEALS_MONTHLY), DCTERMS.source) == ds
    assert one(graph, dataset_iri(APPEALS_MONTHLY), CL.kind) == Literal("aggregate")


def test_catalog_properties(graph):
    catalog = next(graph.subjects(RDF.type, DCAT.Catalog))
    assert set(graph.objects(catalog, DCTERMS.title)) == {Literal("城市公共数据开放平台", lang="zh"),
                                                          Literal("City Open Data Portal", lang="en")}
    assert set(graph.objects(catalog, DCAT.dataset)) == {dataset_iri(d) for d in DATASETS}
    assert one(graph, catalog, DCTERMS.issued) == Literal("2024-05-01", datatype=XSD.date)
    assert one(graph, catalog, DCTERMS.modified) == Literal("2024-05-01T02:05:00Z", datatype=XSD.dateTime)
    assert one(graph, catalog, DCTERMS.language) == URIRef("http://publications.europa.eu/resource/authority/language/ZHO")
    assert one(graph, catalog, DCTERMS.license) == URIRef("https://creativecommons.org/licenses/by/4.0/")


def test_catalog_issued_defaults_to_the_earliest_dataset_not_the_clock():
    g = to_graph(build())
    catalog = next(g.subjects(RDF.type, DCAT.Catalog))
    assert one(g, catalog, DCTERMS.issued) == Literal("2019-06-01", datatype=XSD.date)


def test_chinese_portal_fields(graph):
    for ds in DATASETS:
        node = dataset_iri(ds)
        assert one(graph, node, CL.sourceDepartment) == Literal(ds.publisher.name, lang="zh")
        assert one(graph, node, CL.openType) == Literal(ds.open_type, lang="zh")
        assert one(graph, node, CL.updateFrequency) == Literal(ds.update_cycle_zh, lang="zh")
        rows = one(graph, node, CL.recordCount)
        assert isinstance(rows.toPython(), int) and rows.toPython() == ds.rows
        assert one(graph, node, CL.publishedAt) == Literal(ds.issued, datatype=XSD.date)
        assert one(graph, node, CL.updatedAt).datatype == XSD.dateTime
        items = sorted(graph.objects(node, CL.dataItem), key=lambda i: one(graph, i, CL.position).toPython())
        assert [(str(one(graph, i, CL.itemName)), one(graph, i, CL.itemTitle), str(one(graph, i, CL.dataType)),
                 str(one(graph, i, CL.deidentification))) for i in items] == [
            (f.name, Literal(f.title, lang="zh"), f.type, f.deidentification)
            for f in (*ds.fields, *ds.withheld_fields)]  # the entry's whole list: what was withheld, and how
        assert all((i, RDF.type, CL.DataItem) in graph for i in items)
    text = dumps(build())
    for label in ("来源部门", "开放属性", "更新频率", "数据量", "发布时间", "更新时间", "信息项", "脱敏方式"):
        assert f'"{label}"' in text


def test_output_is_deterministic():
    first = dumps(build(issued="2024-05-01"))
    assert dumps(build(issued="2024-05-01")) == first
    shuffled = [replace(d, distributions=tuple(reversed(d.distributions))) for d in reversed(DATASETS)]
    assert dumps(build(shuffled, issued="2024-05-01")) == first
    codes = [n["dct:identifier"] for n in json.loads(first)["@graph"] if n["@type"] == "dcat:Dataset"]
    assert codes == sorted(codes)


def test_chinese_text_is_not_escaped():
    text = dumps(build())
    assert "\\u" not in text
    assert "市民诉求工单" in text and "成都市网络理政办公室" in text
    assert json.loads(text) == json.loads(json.dumps(build()))


def test_base_url_is_normalised_and_checked():
    no_slash = build_catalog([APPEALS], base_url=BASE.rstrip("/"))
    assert dumps(no_slash) == dumps(build([APPEALS]))
    for bad in ("data.example.gov.cn/open/", "ftp://data.example.gov.cn/", "https://x.cn/?a=1"):
        with pytest.raises(ValueError, match="base_url"):
            build_catalog([APPEALS], base_url=bad)


def test_bad_records_are_refused():
    with pytest.raises(ValueError, match="share a code"):
        build([APPEALS, replace(SERVICES, code=APPEALS.code)])
    with pytest.raises(ValueError, match="sha256"):
        build([replace(APPEALS, distributions=(replace(APPEALS.distributions[0], sha256="abc"),))])
    with pytest.raises(ValueError, match="ISO date"):
        build([replace(APPEALS, issued="June 2019")])


def test_an_empty_zone_still_builds_a_catalog():
    g = to_graph(build([]))
    catalog = next(g.subjects(RDF.type, DCAT.Catalog))
    assert (catalog, DCAT.dataset, None) not in g
    assert (catalog, DCTERMS.publisher, None) in g
