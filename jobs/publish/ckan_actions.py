"""The catalog actions of the CKAN Action API, as pure functions of a `Catalog` and the parameters.

`Catalog` is built once per version of ``catalog.json``: package dicts, lookups by id/name/code and a
search document per dataset are computed there, so a request only filters and slices. Search stands in
for CKAN's Solr with a small, predictable subset: ``q`` matches every term as a case-insensitive
substring (so Chinese needs no tokenizer: 公交 finds 公交线路客流), ``fq`` takes ``field:value`` terms
(``-`` negates, ``field:(a OR b)``, quoted values, ``*`` and trailing-``*`` prefixes), ``sort`` takes
``field asc|desc`` pairs. Anything outside that subset is refused as a Search Query Error rather than
silently answered wrong.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from jobs.publish import ckan_packages as pk
from jobs.publish.ckan_params import (
    NotFound,
    SearchQueryError,
    boolean,
    integer,
    invalid,
    json_value,
    require,
    string_list,
    text,
)
from jobs.publish.ckan_query import DATE_FIELDS, Clause, Term, field_matches, parse
from jobs.publish.records import OpenDataset

SEARCH_ROWS_DEFAULT = 10
SEARCH_ROWS_MAX = 1000  # CKAN's ckan.search.rows_max
FACET_LIMIT_DEFAULT = 50
DEFAULT_SORT = "score desc, metadata_modified desc"

#: full-text weights: a hit in the title ranks above one in the summary or a column title
_TEXT_WEIGHTS = (("title", 4), ("title_en", 3), ("keywords", 3), ("name", 2), ("summary", 1), ("fields", 1),
                 ("organization", 1), ("theme", 1), ("code", 1))
_SORTABLE: Mapping[str, Callable[[Mapping[str, Any]], Any]] = {
    "metadata_modified": lambda p: p["metadata_modified"],
    "metadata_created": lambda p: p["metadata_created"],
    "name": lambda p: p["name"],
    "title": lambda p: p["title"].casefold(),
    "title_string": lambda p: p["title"].casefold(),
    "num_resources": lambda p: p["num_resources"],
    "num_tags": lambda p: p["num_tags"],
}


@dataclass(frozen=True)
class SearchDoc:
    """What package_search matches one dataset on."""

    fields: Mapping[str, tuple[str, ...]]
    texts: tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class Catalog:
    """One version of ``catalog.json`` with everything the actions look up, computed once."""

    datasets: Mapping[str, OpenDataset]
    packages: Mapping[str, dict[str, Any]]
    lookup: Mapping[str, str]
    resources: Mapping[str, tuple[str, dict[str, Any]]]
    organizations: Mapping[str, dict[str, Any]]
    org_lookup: Mapping[str, str]
    docs: Mapping[str, SearchDoc]
    digest: str = ""

    def dataset(self, id_or_name: str) -> OpenDataset:
        if (name := self.lookup.get(id_or_name)) is None:
            raise NotFound(f"Dataset {id_or_name!r} does not exist")
        return self.datasets[name]

    def datastore_dataset(self, resource_id: str) -> OpenDataset:
        """The dataset whose Delta table is resource `resource_id` (file resources have no datastore)."""
        found = self.resources.get(resource_id)
        if found is None or not found[1]["datastore_active"]:
            raise NotFound(f'Resource "{resource_id}" was not found.')
        return self.datasets[found[0]]


def build_catalog(records: Iterable[OpenDataset], *, base_url: str, digest: str = "") -> Catalog:
    datasets = {d.name: d for d in sorted(records, key=lambda d: d.name)}
    created = pk.organizations_created(datasets.values())
    packages = {n: pk.package_dict(d, base_url, org_created=created[d.publisher.key]) for n, d in datasets.items()}
    lookup: dict[str, str] = {}
    resources: dict[str, tuple[str, dict[str, Any]]] = {}
    organizations: dict[str, dict[str, Any]] = {}
    org_lookup: dict[str, str] = {}
    for name, d in datasets.items():
        for key in (name, d.code, packages[name]["id"]):
            lookup.setdefault(key, name)
        for res in packages[name]["resources"]:
            resources[res["id"]] = (name, res)
        org = {**packages[name]["organization"], "extras": pk.organization_extras(d.publisher)}
        organizations.setdefault(d.publisher.key, org)
        for key in (d.publisher.key, d.publisher.code, org["id"]):
            org_lookup.setdefault(key, d.publisher.key)
    docs = {n: _search_doc(d, packages[n]) for n, d in datasets.items()}
    return Catalog(datasets, packages, lookup, resources, organizations, org_lookup, docs, digest)


def _search_doc(d: OpenDataset, package: Mapping[str, Any]) -> SearchDoc:
    fields: dict[str, tuple[str, ...]] = {
        "id": (package["id"],), "name": (d.name,), "title": (d.title,), "organization": (d.publisher.key,),
        "owner_org": (package["owner_org"],), "tags": tuple(d.keywords), "groups": (d.theme,) if d.theme else (),
        "res_format": tuple(dict.fromkeys(r["format"] for r in package["resources"])),
        "license_id": (package["license_id"],), "type": ("dataset",), "dataset_type": ("dataset",),
        "state": ("active",), "capacity": ("public",), "private": ("false",),
        "metadata_modified": (package["metadata_modified"],), "metadata_created": (package["metadata_created"],),
    }
    for extra in package["extras"]:
        fields.setdefault(extra["key"], (extra["value"],))
        fields[f"extras_{extra['key']}"] = (extra["value"],)
    values = {"title": d.title, "title_en": d.title_en, "keywords": " ".join(d.keywords), "name": d.name,
              "summary": d.summary, "fields": " ".join(f"{f.title} {f.name}" for f in d.fields),
              "organization": f"{d.publisher.name} {d.publisher.name_en}", "theme": d.theme, "code": d.code}
    texts = tuple((values[k].casefold(), w) for k, w in _TEXT_WEIGHTS if values[k])
    return SearchDoc(fields, texts)


# ---------------------------------------------------------------------------------------------- queries


def _matcher(q: str, fq: list[str], catalog: Catalog) -> Callable[[SearchDoc], float | None]:
    """A function giving a document's score, or None when it does not match."""
    known = set().union(*(doc.fields for doc in catalog.docs.values())) if catalog.docs else set()
    known |= DATE_FIELDS
    clauses: list[Clause] = []
    for clause in parse(q, what="q"):
        terms: list[Term] = []
        for term in clause:
            if term.field == "*" and term.values == ("*",):
                terms.append(Term("*", ("*",), term.negated))  # *:* matches everything
            elif term.field is not None and term.field in known:
                terms.append(replace(term, substring=term.range is None))
            else:
                raw = f"{term.field}:{term.values[0]}" if term.field else " ".join(term.values)
                terms.append(Term(None, (raw.casefold(),), term.negated))
        clauses.append(tuple(terms))
    for text_ in fq:
        for clause in parse(text_, what="fq"):
            for term in clause:
                if term.field is None:
                    raise SearchQueryError(f"fq: {term.values[0]!r} names no field (write field:value)")
                if term.field not in known and term.field != "*" and catalog.docs:
                    raise SearchQueryError(f"fq: undefined field {term.field}")
            clauses.append(clause)
    now = datetime.now(UTC)

    def hit(doc: SearchDoc, term: Term) -> float | None:
        """The term's score in `doc`, or None when the term (negation applied) does not hold."""
        if term.field == "*":
            return None if term.negated else 0.0
        if term.field is None:
            hits = sum(w for text_, w in doc.texts if term.values[0] in text_)
            if bool(hits) == term.negated:
                return None
            return float(hits)
        if field_matches(doc.fields.get(term.field, ()), term, now=now) == term.negated:
            return None
        return 0.0

    def score(doc: SearchDoc) -> float | None:
        total = 0.0
        for clause in clauses:
            hits = [h for term in clause if (h := hit(doc, term)) is not None]
            if not hits:
                return None
            total += sum(hits)
        return total

    return score


def sort_spec(sort: str, allowed: Iterable[str], *, lenient: bool = False) -> list[tuple[str, bool]]:
    """``field asc|desc`` pairs; Solr (package_search) needs the direction, group lists default to asc."""
    spec: list[tuple[str, bool]] = []
    allowed = set(allowed)
    for part in (p.strip() for p in sort.split(",")):
        if not part:
            continue
        words = part.split()
        if lenient and len(words) == 1:
            words.append("asc")
        if len(words) != 2 or words[1].lower() not in ("asc", "desc"):
            raise SearchQueryError(f"sort: {part!r} is not '<field> asc|desc'")
        if words[0] not in allowed:
            raise SearchQueryError(f"sort: cannot sort on {words[0]!r} (use one of {', '.join(sorted(allowed))})")
        spec.append((words[0], words[1].lower() == "desc"))
    return spec


def _facets(names: list[str], catalog: Catalog, fields: list[str], limit: int, mincount: int
            ) -> tuple[dict[str, dict[str, int]], dict[str, dict[str, Any]]]:
    facets: dict[str, dict[str, int]] = {}
    search_facets: dict[str, dict[str, Any]] = {}
    for field in fields:
        counts = Counter(v for n in names for v in catalog.docs[n].fields.get(field, ()))
        ranked = sorted(((v, c) for v, c in counts.items() if c >= mincount), key=lambda vc: (-vc[1], vc[0]))
        if limit >= 0:
            ranked = ranked[:limit]
        facets[field] = dict(ranked)
        search_facets[field] = {"title": field, "items": [
            {"name": v, "display_name": _facet_label(catalog, field, v), "count": c} for v, c in ranked]}
    return facets, search_facets


def _facet_label(catalog: Catalog, field: str, value: str) -> str:
    if field == "organization" and value in catalog.organizations:
        return str(catalog.organizations[value]["title"])
    return value


# ---------------------------------------------------------------------------------------------- actions


def package_list(catalog: Catalog, params: Mapping[str, Any]) -> list[str]:
    """Names of all datasets, by name. Parameters: limit, offset."""
    names = list(catalog.packages)
    offset = integer(params, "offset", 0)
    limit = integer(params, "limit", len(names))
    return names[offset:offset + limit]


def package_show(catalog: Catalog, params: Mapping[str, Any]) -> dict[str, Any]:
    """One dataset. Parameters: id (package id, name or resource code)."""
    key = text(params, "id").strip() or text(params, "name_or_id").strip()
    if not key:
        raise invalid("id", "Missing value")
    return catalog.packages[catalog.dataset(key).name]


def resource_show(catalog: Catalog, params: Mapping[str, Any]) -> dict[str, Any]:
    """One resource (a download file or the datastore table). Parameters: id."""
    rid = require(params, "id")
    if rid not in catalog.resources:
        raise NotFound(f"Resource {rid!r} does not exist")
    return catalog.resources[rid][1]


#: what package_search takes (CKAN's VALID_SOLR_PARAMETERS and the keys it removes before asking Solr); the
#: Solr tuning ones (wt, qf, bf, boost, tie, defType, mm, df) are accepted and change nothing here
SEARCH_PARAMETERS = frozenset({
    "q", "fl", "fq", "fq_list", "rows", "sort", "start", "wt", "qf", "bf", "boost", "facet", "facet.mincount",
    "facet.limit", "facet.field", "extras", "tie", "defType", "mm", "df", "include_private", "include_drafts",
    "include_deleted", "use_default_schema"})


def package_search(catalog: Catalog, params: Mapping[str, Any]) -> dict[str, Any]:
    """Search datasets. Parameters: q, fq, fq_list, sort, rows (at most 1000), start, fl, facet, facet.field,
    facet.limit, facet.mincount; fq takes Solr ranges on metadata_modified / metadata_created."""
    if unknown := sorted(k for k in params if k not in SEARCH_PARAMETERS and not k.startswith("ext_")):
        raise SearchQueryError(f"Invalid search parameters: {unknown}")
    q = text(params, "q").strip()
    fq = [text(params, "fq"), *_fq_list(params)]
    sort = text(params, "sort").strip() or DEFAULT_SORT
    rows = integer(params, "rows", SEARCH_ROWS_DEFAULT, maximum=SEARCH_ROWS_MAX)
    start = integer(params, "start", 0)
    spec = sort_spec(sort, ["score", *_SORTABLE])
    score_of = _matcher(q, [c for c in fq if c.strip()], catalog)
    scored = [(n, s) for n, doc in catalog.docs.items() if (s := score_of(doc)) is not None]
    scores = dict(scored)
    names = [n for n, _ in scored]
    for field, descending in reversed(spec):  # stable sorts, last key first
        names.sort(key=_package_key(field, scores, catalog), reverse=descending)
    facet_fields = string_list(params, "facet.field") or []
    facets: dict[str, dict[str, int]] = {}
    search_facets: dict[str, dict[str, Any]] = {}
    if facet_fields and boolean(params, "facet", True):
        limit = _facet_limit(params)
        facets, search_facets = _facets(names, catalog, facet_fields, limit, integer(params, "facet.mincount", 1))
    results = [catalog.packages[n] for n in names[start:start + rows]]
    if fl := [f for f in re.split(r"[\s,]+", text(params, "fl")) if f and f != "*"]:
        results = [{f: p[f] for f in fl if f in p} for p in results]
    return {"count": len(names), "sort": sort, "facets": facets, "search_facets": search_facets,
            "results": results}


def _fq_list(params: Mapping[str, Any]) -> list[str]:
    value = json_value(params, "fq_list")
    if value is None or value == "":
        return []
    items = value if isinstance(value, list) else [value]
    if not all(isinstance(v, str) for v in items):
        raise invalid("fq_list", "Must be a list of strings")
    return items


def _package_key(field: str, scores: Mapping[str, float], catalog: Catalog) -> Callable[[str], Any]:
    if field == "score":
        return scores.__getitem__
    value_of = _SORTABLE[field]

    def key(name: str) -> Any:
        return value_of(catalog.packages[name])

    return key


def _facet_limit(params: Mapping[str, Any]) -> int:
    value = text(params, "facet.limit", str(FACET_LIMIT_DEFAULT)).strip()
    if value == "-1":
        return -1
    return integer({"facet.limit": value}, "facet.limit", FACET_LIMIT_DEFAULT)


def _org_with_counts(catalog: Catalog, key: str, *, counts: bool, extras: bool) -> dict[str, Any]:
    org = dict(catalog.organizations[key])
    if not extras:
        org.pop("extras", None)
    if counts:
        org["package_count"] = sum(1 for d in catalog.datasets.values() if d.publisher.key == key)
    return org


def organization_list(catalog: Catalog, params: Mapping[str, Any]) -> list[Any]:
    """Departments. Parameters: all_fields, sort (name|title|package_count asc|desc), limit, offset,
    organizations, q, include_dataset_count, include_extras."""
    all_fields = boolean(params, "all_fields", False)
    keys = list(catalog.organizations)
    if wanted := string_list(params, "organizations"):
        keys = [k for k in keys if k in wanted]
    if q := text(params, "q").strip().casefold():
        keys = [k for k in keys if q in k.casefold() or q in str(catalog.organizations[k]["title"]).casefold()]
    orgs = {k: _org_with_counts(catalog, k, counts=True, extras=True) for k in keys}
    spec = sort_spec(text(params, "sort").strip() or "title asc", ["name", "title", "package_count"],
                      lenient=True)
    for field, descending in reversed(spec):
        keys.sort(key=lambda k: orgs[k][field], reverse=descending)  # noqa: B023 (used at once)
    keys = keys[integer(params, "offset", 0):][:integer(params, "limit", len(keys))]
    if not all_fields:
        return keys
    counts, with_extras = boolean(params, "include_dataset_count", True), boolean(params, "include_extras", False)
    return [_org_with_counts(catalog, k, counts=counts, extras=with_extras) for k in keys]


def organization_show(catalog: Catalog, params: Mapping[str, Any]) -> dict[str, Any]:
    """One department. Parameters: id (key, code or id), include_datasets, include_dataset_count,
    include_extras."""
    wanted = require(params, "id")
    if (key := catalog.org_lookup.get(wanted)) is None:
        raise NotFound(f"Organization {wanted!r} does not exist")
    org = _org_with_counts(catalog, key, counts=boolean(params, "include_dataset_count", True),
                           extras=boolean(params, "include_extras", True))
    org.update({"users": [], "groups": [], "tags": [], "num_followers": 0})
    if boolean(params, "include_datasets", False):
        org["packages"] = [p for n, p in catalog.packages.items() if catalog.datasets[n].publisher.key == key]
    return org


def check_name(params: Mapping[str, Any], known: Iterable[str]) -> str:
    """help_show's ``name``: one of the actions this server answers."""
    name = require(params, "name")
    if name not in set(known):
        raise NotFound(f"Action {name!r} does not exist")
    return name

