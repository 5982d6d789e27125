"""The catalog's open-publishing declarations: generalisation, pseudonyms, k-anonymity and aggregate
tables load into the model, and every mistake is refused naming file, resource and field."""

from __future__ import annotations

import textwrap

import pytest

from jobs.catalog import load_catalog
from jobs.errors import CatalogError
from tests.unit.test_catalog_loader import RESOURCE, write_catalog

OPEN = RESOURCE + textwrap.dedent("""\
      - {name: district, title: 区县代码}
      - {name: seen_at, title: 时间, type: timestamp, formats: ["yyyy-MM-dd HH:mm:ss"],
         publish: generalize, generalize: {to: hour}}
      - {name: age, title: 年龄, type: integer, publish: generalize, generalize: {to: band, width: 10}}
      - {name: token, title: 假名, pii: pseudonym, publish: pseudonymize}
      - {name: done, title: 已办结, type: boolean}
      - {name: hotline, title: 服务热线, allow_identifiers: [mobile]}
    open:
      k: 3
      quasi_identifiers: [district, age]
      aggregates:
        - name: things_by_district
          code: "T-1-A1"
          title: 分区县统计
          title_en: Things by district
          summary: 测试
          dimensions:
            - {name: district, title: 区县, from: district}
            - {name: hour, title: 小时, from: seen_at, generalize: {to: hour}}
          measures:
            - {name: things, title: 件数, agg: count}
            - {name: done_rate, title: 办结率, agg: rate, of: done, digits: 4}
            - {name: people, title: 人数, agg: count_distinct, of: token}
          chart: {dimension: district, measure: things}
""")


def test_open_block_loads(tmp_path):
    res = load_catalog([write_catalog(tmp_path, OPEN)]).resource("things")
    assert res.zone == "open" and res.open.k == 3 and res.open.quasi_identifiers == ("district", "age")
    assert res.item("age").generalize == {"to": "band", "width": 10}
    assert res.item("token").publish == "pseudonymize" and res.item("hotline").allow_identifiers == ("mobile",)
    agg = res.open.aggregates[0]
    assert agg.columns == ("district", "hour", "things", "done_rate", "people") and agg.chart == ("district", "things")


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ("generalize: {to: hour}}", "generalize: {to: band, width: 2}}", "seen_at.generalize"),
        ("generalize: {to: band, width: 10}}", "generalize: {to: band}}", "age.generalize"),
        ("publish: generalize, generalize: {to: band, width: 10}}", "publish: generalize}", "age"),
        ("pii: pseudonym, publish: pseudonymize", "pii: pseudonym, publish: keep", "token"),
        ("pii: pseudonym, publish: pseudonymize", "pii: pseudonym, publish: mask", "token"),
        ("allow_identifiers: [mobile]", "allow_identifiers: [fax]", "hotline.allow_identifiers"),
        ("k: 3", "k: 1", "open.k"),
        ("quasi_identifiers: [district, age]", "quasi_identifiers: [district, nope]", "open.quasi_identifiers"),
        ("from: district}\n", "from: token}\n", "open.aggregates[0].dimensions[0].from"),
        ("agg: rate, of: done", "agg: rate, of: district", "open.aggregates[0].measures[1].values"),
        ("agg: count_distinct, of: token", "agg: sum, of: district", "open.aggregates[0].measures[2].of"),
        ("agg: count}", "agg: median}", "open.aggregates[0].measures[0]"),
        ("chart: {dimension: district, measure: things}", "chart: {dimension: hour, measure: nope}",
         "open.aggregates[0].chart"),
        ("name: things_by_district", "name: by_district", "open.aggregates[0].name"),
    ],
)
def test_open_mistakes_name_the_field(tmp_path, old, new, field):
    assert old in OPEN
    with pytest.raises(CatalogError) as exc:
        load_catalog([write_catalog(tmp_path, OPEN.replace(old, new))])
    message = str(exc.value)
    assert "things.yaml" in message and "resource things" in message and f"field {field}" in message, message


def test_aggregate_codes_must_be_unique(tmp_path):
    with pytest.raises(CatalogError, match="resource code T-1 also used by things's own aggregates"):
        load_catalog([write_catalog(tmp_path, OPEN.replace('code: "T-1-A1"', 'code: "T-1"'))])


def test_every_builtin_open_resource_publishes_no_raw_personal_field(catalog):
    for res in catalog.resources.values():
        for item in res.items:
            if item.is_personal:
                assert item.publish != "keep", (res.name, item.name)
        for agg in res.open.aggregates:
            assert agg.name.startswith(res.name) and res.zone is not None
