"""YAML catalog files -> frozen `Catalog`.

Reads `departments.yaml` and every `<department>/<resource>.yaml` under each catalog folder. Every
problem raises `CatalogError` naming the file, the resource and the field, because a broken entry
must stop the onboarding, never be skipped silently.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from jobs.catalog.model import (
    CATALOG_KINDS,
    DRIFT_POLICIES,
    HISTORY_MODES,
    ITEM_TYPES,
    OPEN_TYPES,
    PII_CLASSES,
    PUBLISH_MODES,
    READY_RULES,
    RESOURCE_FORMATS,
    SEVERITIES,
    SHARE_TYPES,
    SOURCE_FORMATS,
    UPDATE_CYCLES,
    WRITE_MODES,
    Catalog,
    Classification,
    DataItem,
    Department,
    ErrorLimit,
    Resource,
    RuleRef,
    ShareAttribute,
    SourceSpec,
)
from jobs.catalog.open_loader import allowed_identifiers, generalization, open_codes, open_spec
from jobs.errors import CatalogError, UnknownRuleError
from jobs.rules.divisions import LEVEL_OF_ZH
from jobs.rules.divisions import LEVELS as DIVISION_LEVELS
from jobs.rules.identifiers import is_valid_uscc
from jobs.rules.specs import RULE_SPECS

DEPARTMENTS_FILE = "departments.yaml"
#: `formats` entries that are numbers conform reads itself rather than Spark datetime patterns: an Excel
#: serial day, and Unix epoch seconds or milliseconds (`jobs.transforms.conform.excel_serial` / `epoch`,
#: which keep the same names; staging and the sample generator must not import Spark to learn them).
EXCEL_SERIAL, EPOCH_SECONDS, EPOCH_MILLIS = "excel_serial", "epoch_seconds", "epoch_millis"
SPECIAL_FORMATS = (EXCEL_SERIAL, EPOCH_SECONDS, EPOCH_MILLIS)
#: What a misspelt special entry looks like (`epoch_second`): no Spark pattern is a lower-case snake_case word.
_SPECIAL_LIKE = re.compile(r"^[a-z]+(_[a-z]+)+$")


class _Ctx:
    """Remembers where we are so every error names file, resource and field."""

    def __init__(self, file: Path, resource: str | None = None, field: str | None = None):
        self.file, self.resource, self.field = file, resource, field

    def at(self, field: str) -> _Ctx:
        """The same place, one field deeper."""
        return _Ctx(self.file, self.resource, f"{self.field}.{field}" if self.field else field)

    def error(self, message: str, *, field: str | None = None, cls: type[CatalogError] = CatalogError) -> CatalogError:
        return cls(message, file=str(self.file), resource=self.resource, field=field or self.field)

    def req(self, data: Mapping[str, Any], key: str, typ: type = str) -> Any:
        if key not in data or data[key] in (None, ""):
            raise self.error(f"'{key}' is required", field=self.field or key)
        return self.typed(data[key], key, typ)

    def opt(self, data: Mapping[str, Any], key: str, default: Any, typ: type = str) -> Any:
        if data.get(key) is None:
            return default
        return self.typed(data[key], key, typ)

    def typed(self, value: Any, key: str, typ: type) -> Any:
        if typ is str and isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, typ) or (typ is int and isinstance(value, bool)):
            raise self.error(f"'{key}' must be a {typ.__name__}, got {value!r}", field=self.field or key)
        return value

    def choice(self, data: Mapping[str, Any], key: str, allowed: Iterable[str], default: str | None = None) -> str:
        value = self.req(data, key) if default is None else self.opt(data, key, default)
        allowed = tuple(allowed)
        if value not in allowed:
            raise self.error(f"'{key}' is {value!r}; allowed: {', '.join(allowed)}", field=self.field or key)
        return value


#: libyaml's safe loader where PyYAML was built with it (6x faster than the pure-Python one), else that one
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_SAFE_LOADER)
    except yaml.YAMLError as exc:
        raise CatalogError(f"not valid YAML: {exc}", file=str(path)) from exc
    if not isinstance(data, dict):
        raise CatalogError("top level must be a mapping", file=str(path))
    return data


def _rule_refs(raw: Any, ctx: _Ctx, kind: str) -> tuple[RuleRef, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ctx.error("'rules' must be a list")
    refs = []
    for entry in raw:
        if isinstance(entry, str):
            entry = {"rule": entry}
        if not isinstance(entry, dict) or "rule" not in entry:
            raise ctx.error(f"a rule must be a name or a mapping with 'rule', got {entry!r}")
        name = entry["rule"]
        spec = RULE_SPECS.get(name)
        if spec is None or spec.kind != kind:
            known = ", ".join(sorted(n for n, s in RULE_SPECS.items() if s.kind == kind))
            raise ctx.error(f"unknown {kind} rule {name!r} (known: {known})", cls=UnknownRuleError)
        severity = ctx.choice(entry, "severity", SEVERITIES, default="error")
        when = _when(entry.get("when"), ctx, name)
        params = {k: v for k, v in entry.items() if k not in ("rule", "severity", "when")}
        missing = [p for p in spec.required_params if p not in params]
        unknown = [p for p in params if p not in spec.required_params + spec.optional_params]
        if missing:
            raise ctx.error(f"rule {name!r} needs parameter(s) {', '.join(missing)}")
        if unknown:
            raise ctx.error(f"rule {name!r} takes no parameter(s) {', '.join(unknown)}")
        if name == "unique" and params.get("scope", "batch") not in ("batch", "silver"):
            raise ctx.error(f"rule 'unique' takes scope batch or silver, got {params['scope']!r}")
        if name == "cn_division" and params.get("level") not in DIVISION_LEVELS:
            raise ctx.error(f"rule 'cn_division' takes level {', '.join(DIVISION_LEVELS)}, got {params.get('level')!r}")
        refs.append(RuleRef(rule=name, severity=severity, params=params, when=when))  # type: ignore[arg-type]
    return tuple(refs)


def _when(raw: Any, ctx: _Ctx, rule: str) -> dict[str, tuple[str, ...]]:
    """`when: {item: [values]}` of a rule (items are checked against the resource later)."""
    if raw is None:
        return {}
    if not isinstance(raw, dict) or not raw or not all(
            isinstance(v, list) and v and all(isinstance(x, str | int | bool) for x in v) for v in raw.values()):
        raise ctx.error(f"rule {rule!r}: 'when' must map item names to non-empty lists of values, got {raw!r}")
    return {str(k): tuple(str(x) for x in v) for k, v in raw.items()}


def _item(raw: Any, ctx: _Ctx) -> DataItem:
    if not isinstance(raw, dict):
        raise ctx.error(f"a data item must be a mapping, got {raw!r}")
    name = ctx.req(raw, "name")
    ictx = _Ctx(ctx.file, ctx.resource, name)
    if not name.isidentifier() or not name.isascii() or name.lower() != name:
        raise ictx.error("item names are lower-case ASCII identifiers (snake_case)")
    typ = ictx.choice(raw, "type", ITEM_TYPES, default="string")
    pii = ictx.choice(raw, "pii", PII_CLASSES, default="none")
    publish = ictx.choice(raw, "publish", PUBLISH_MODES, default="keep" if pii == "none" else "drop")
    if pii != "none" and publish == "keep":
        raise ictx.error(f"personal data (pii: {pii}) cannot be published as is; "
                         "use publish: mask, generalize, pseudonymize or drop")
    if publish == "mask" and pii in ("none", "free_text", "pseudonym"):
        raise ictx.error(f"no masking technique for pii: {pii}; use publish: drop or pseudonymize")
    if publish == "pseudonymize" and pii == "free_text":
        raise ictx.error("free text cannot be pseudonymised; use publish: drop")
    generalize = generalization(raw.get("generalize"), typ, ictx.at("generalize"))
    if (publish == "generalize") != bool(generalize):
        raise ictx.error("publish: generalize and a 'generalize' mapping go together")
    formats = _formats(raw.get("formats"), ictx.at("formats"))
    if typ in ("date", "timestamp") and not formats:
        raise ictx.error(f"a {typ} item needs 'formats' (Spark datetime patterns)")
    if typ == "decimal" and (raw.get("precision") is None or raw.get("scale") is None):
        raise ictx.error("a decimal item needs 'precision' and 'scale'")
    return DataItem(
        name=name,
        title=ictx.req(raw, "title"),
        type=typ,  # type: ignore[arg-type]
        length=ictx.opt(raw, "length", None, int),
        required=ictx.opt(raw, "required", False, bool),
        formats=formats,
        precision=ictx.opt(raw, "precision", None, int),
        scale=ictx.opt(raw, "scale", None, int),
        rules=_rule_refs(raw.get("rules"), ictx, "item"),
        pii=pii,  # type: ignore[arg-type]
        publish=publish,  # type: ignore[arg-type]
        description=ictx.opt(raw, "description", ""),
        examples=tuple(str(e) for e in raw.get("examples") or ()),
        sample=ictx.opt(raw, "sample", {}, dict),
        generalize=generalize,
        allow_identifiers=allowed_identifiers(raw.get("allow_identifiers"), ictx.at("allow_identifiers")),
    )


def _formats(raw: Any, ctx: _Ctx) -> tuple[str, ...]:
    """An item's `formats`: Spark datetime patterns and the special entries of `SPECIAL_FORMATS`.

    A misspelt special entry (`epoch_second`) is refused here: taken for a Spark pattern it makes Spark
    raise (its letters are week-based or unknown pattern fields), so every batch would fail at conform
    time instead of onboarding stopping with the file, resource and item named.
    A bare string is refused too, so that `formats: yyyy-MM-dd` is not read as ten one-letter patterns.
    """
    if raw is None or raw == []:
        return ()
    if not isinstance(raw, list) or not all(isinstance(f, str) and f.strip() for f in raw):
        raise ctx.error(f"'formats' must be a list of Spark datetime patterns or {', '.join(SPECIAL_FORMATS)}, "
                        f"got {raw!r}")
    unknown = [f for f in raw if _SPECIAL_LIKE.match(f) and f not in SPECIAL_FORMATS]
    if unknown:
        raise ctx.error(f"unknown special format(s) {', '.join(unknown)}; known: {', '.join(SPECIAL_FORMATS)}")
    return tuple(raw)


def _resource(path: Path, departments: Mapping[str, Department]) -> Resource:
    data = _read_yaml(path)
    ctx = _Ctx(path)
    name = ctx.req(data, "name")
    ctx = _Ctx(path, name)
    provider = ctx.req(data, "provider")
    if provider not in departments:
        raise ctx.error(f"provider {provider!r} is not in {DEPARTMENTS_FILE}", field="provider")
    items_raw = data.get("items")
    if not isinstance(items_raw, list) or not items_raw:
        raise ctx.error("'items' must be a non-empty list", field="items")
    items = tuple(_item(i, ctx) for i in items_raw)
    names = [i.name for i in items]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ctx.error("duplicate data item", field=", ".join(dupes))
    titles = [i.title for i in items]
    dupes = sorted({t for t in titles if titles.count(t) > 1})
    if dupes:
        raise ctx.error("duplicate data item title", field=", ".join(dupes))
    pk = tuple(data.get("primary_key") or ())
    for key in pk:
        if key not in names:
            raise ctx.error("primary key names no data item", field=key)
    checks = _rule_refs(data.get("checks"), ctx, "check")
    for check in checks:
        for key in ("field", "other"):
            if check.params.get(key) not in names:
                raise ctx.error(f"check {check.rule} names no data item", field=str(check.params.get(key)))
    for item in items:
        for ref in item.rules:
            for key in ("parent",):
                if key in ref.params and ref.params[key] not in names:
                    raise ctx.error(f"rule {ref.rule} names no data item {ref.params[key]!r}", field=item.name)
            for other in ref.when:
                if other not in names or other == item.name:
                    raise ctx.error(f"rule {ref.rule}: 'when' names no other data item {other!r}", field=item.name)
    for check in checks:
        for other in check.when:
            if other not in names:
                raise ctx.error(f"check {check.rule}: 'when' names no data item {other!r}", field=other)
    partition_by = _strings(data.get("partition_by"), _Ctx(path, name, "partition_by"))
    for col in partition_by:
        if col not in names:
            raise ctx.error("partition column names no data item", field=f"partition_by.{col}")
    cluster_by = _strings(data.get("cluster_by"), _Ctx(path, name, "cluster_by"))
    for col in cluster_by:
        if col not in names:
            raise ctx.error("cluster column names no data item", field=f"cluster_by.{col}")
        if col in partition_by:
            raise ctx.error("a partition column needs no clustering: each partition holds one value of it",
                            field=f"cluster_by.{col}")
    write_mode = ctx.choice(data, "write_mode", WRITE_MODES, default="merge" if pk else "append")
    if write_mode == "merge" and not pk:
        raise ctx.error("write_mode merge needs a primary_key", field="write_mode")
    history = ctx.choice(data, "history", HISTORY_MODES, default="latest")
    if history == "scd2" and write_mode != "merge":
        raise ctx.error(f"history scd2 keeps the versions of keyed records and needs write_mode merge (and a "
                        f"primary_key), not {write_mode}", field="history")
    provides = _provides(data.get("provides"), items, _Ctx(path, name, "provides"))
    share_raw = data.get("share") or {}
    source_raw = data.get("source") or {}
    if not isinstance(share_raw, dict) or not isinstance(source_raw, dict):
        raise ctx.error("'share' and 'source' must be mappings")
    code = ctx.req(data, "code")
    opened = open_spec(data.get("open"), items, _Ctx(path, name, "open"))
    if opened.history and history != "scd2":
        raise ctx.error("open.history publishes the versions silver keeps, and this entry keeps none: set "
                        "history: scd2", field="open.history")
    agg_codes = [a.code for a in opened.aggregates]
    if code in agg_codes or len(set(agg_codes)) != len(agg_codes):
        raise ctx.error(f"resource code {code} also used by {name}'s own aggregates; each table needs its own code",
                        field="open.aggregates")
    return Resource(
        name=name,
        code=code,
        title=ctx.req(data, "title"),
        title_en=ctx.req(data, "title_en"),
        provider=provider,
        summary=ctx.req(data, "summary"),
        theme=ctx.req(data, "theme"),
        update_cycle=ctx.choice(data, "update_cycle", UPDATE_CYCLES),
        share=ShareAttribute(
            type=_Ctx(path, name, "share.type").choice(share_raw, "type", SHARE_TYPES),
            condition=ctx.opt(share_raw, "condition", ""),
            method=ctx.opt(share_raw, "method", ""),
        ),
        open_type=ctx.choice(data, "open_type", OPEN_TYPES),
        source=_source(source_raw, path, name),
        items=items,
        primary_key=pk,
        checks=checks,
        error_limit=_error_limit(data.get("error_limit"), _Ctx(path, name, "error_limit")),
        classification=_classification(data.get("classification"), _Ctx(path, name, "classification")),
        resource_format=ctx.choice(data, "resource_format", RESOURCE_FORMATS, default="数据库"),
        open_condition=ctx.opt(data, "open_condition", ""),
        published=_iso_date(data.get("published"), _Ctx(path, name, "published")),
        related=_strings(data.get("related"), _Ctx(path, name, "related")),
        partition_by=partition_by,
        cluster_by=cluster_by,
        write_mode=write_mode,  # type: ignore[arg-type]
        history=history,  # type: ignore[arg-type]
        sample=_Ctx(path, name, "sample").opt(data, "sample", {}, dict),
        open=opened,
        provides=provides,
        file=str(path),
    )


#: reference data a resource may provide -> the items its silver table must have
REFERENCE_ITEMS: dict[str, tuple[str, ...]] = {"divisions": ("code", "level", "parent_code")}


def _provides(raw: Any, items: tuple[DataItem, ...], ctx: _Ctx) -> str | None:
    """`provides: divisions`: the resource is the city's division list the `cn_division` rule reads."""
    if raw is None:
        return None
    if raw not in REFERENCE_ITEMS:
        raise ctx.error(f"unknown reference data {raw!r}; known: {', '.join(REFERENCE_ITEMS)}")
    names = {i.name for i in items}
    missing = [n for n in REFERENCE_ITEMS[raw] if n not in names]
    if missing:
        raise ctx.error(f"a resource that provides {raw} needs the data items {', '.join(REFERENCE_ITEMS[raw])}; "
                        f"missing: {', '.join(missing)}")
    if raw == "divisions":
        level = next(i for i in items if i.name == "level")
        allowed: Any = next((r.params.get("values") for r in level.rules if r.rule == "in_set"), None)
        unknown = [v for v in allowed or () if v not in LEVEL_OF_ZH]
        if allowed is None or unknown:
            raise ctx.error(f"the level item needs an in_set rule with values among {', '.join(LEVEL_OF_ZH)}"
                            + (f"; unknown: {', '.join(map(str, unknown))}" if unknown else ""), field="level")
    return str(raw)


def _strings(raw: Any, ctx: _Ctx) -> tuple[str, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(v, str | int) for v in raw):
        raise ctx.error("must be a list of strings")
    return tuple(str(v) for v in raw)


def _iso_date(raw: Any, ctx: _Ctx) -> str:
    import datetime as dt

    if raw is None or raw == "":
        return ""
    if isinstance(raw, dt.date):
        return raw.isoformat()
    try:
        return dt.date.fromisoformat(str(raw)).isoformat()
    except ValueError:
        raise ctx.error(f"must be a date like 2019-06-01, got {raw!r}") from None


def _classification(raw: Any, ctx: _Ctx) -> Classification | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise ctx.error("must be a mapping with catalog, category (类), item (项), entry (目), detail (细目)")
    unknown = set(raw) - {"catalog", "category", "item", "entry", "detail"}
    if unknown:
        raise ctx.error(f"unknown key(s) {', '.join(sorted(unknown))}")
    return Classification(
        catalog=_Ctx(ctx.file, ctx.resource, "classification.catalog").choice(raw, "catalog", CATALOG_KINDS),
        category=_Ctx(ctx.file, ctx.resource, "classification.category").req(raw, "category"),
        item=ctx.opt(raw, "item", ""), entry=ctx.opt(raw, "entry", ""), detail=ctx.opt(raw, "detail", ""),
    )


def _source(raw: Mapping[str, Any], path: Path, name: str) -> SourceSpec:
    def ctx(key: str) -> _Ctx:
        return _Ctx(path, name, f"source.{key}")

    fmt = ctx("format").choice(raw, "format", SOURCE_FORMATS, default="csv")
    header_row = ctx("header_row").opt(raw, "header_row", 1, int)
    header_rows = ctx("header_rows").opt(raw, "header_rows", 1, int)
    quiet = ctx("quiet_seconds").opt(raw, "quiet_seconds", 300, int)
    for key, value in (("header_row", header_row), ("header_rows", header_rows)):
        if value < 1:
            raise ctx(key).error(f"'{key}' must be 1 or more, got {value}")
    if quiet < 0:
        raise ctx("quiet_seconds").error(f"'quiet_seconds' must not be negative, got {quiet}")
    prefixes = raw.get("footer_prefixes", SourceSpec.footer_prefixes)
    if not isinstance(prefixes, list | tuple) or not all(isinstance(p, str) for p in prefixes):
        raise ctx("footer_prefixes").error("'footer_prefixes' must be a list of strings")
    marker = ctx("marker_suffix").opt(raw, "marker_suffix", ".ok")
    if not marker.startswith("."):
        raise ctx("marker_suffix").error(f"'marker_suffix' must start with a dot, got {marker!r}")
    return SourceSpec(
        format=fmt,  # type: ignore[arg-type]
        encoding=ctx("encoding").opt(raw, "encoding", "gb18030"),
        delimiter=ctx("delimiter").opt(raw, "delimiter", ","),
        file_pattern=ctx("file_pattern").opt(raw, "file_pattern", f"{name}_*.{fmt}"),
        header=ctx("header").choice(raw, "header", ("title", "name"), default="title"),  # type: ignore[arg-type]
        drift=ctx("drift").choice(raw, "drift", DRIFT_POLICIES, default="freeze"),  # type: ignore[arg-type]
        ready=ctx("ready").choice(raw, "ready", READY_RULES, default="marker"),  # type: ignore[arg-type]
        marker_suffix=marker,
        quiet_seconds=quiet,
        sheet=ctx("sheet").opt(raw, "sheet", None),
        header_row=header_row,
        header_rows=header_rows,
        footer_prefixes=tuple(prefixes),
    )


def _error_limit(raw: Any, ctx: _Ctx) -> ErrorLimit:
    if raw is None:
        return ErrorLimit()
    if not isinstance(raw, dict) or not raw or set(raw) - {"records", "ratio"}:
        raise ctx.error("'error_limit' must be a mapping with 'records' and/or 'ratio'")
    records = ctx.opt(raw, "records", None, int)
    ratio = raw.get("ratio")
    if ratio is not None and (isinstance(ratio, bool) or not isinstance(ratio, int | float) or not 0 <= ratio <= 1):
        raise ctx.error(f"'ratio' must be a number between 0 and 1, got {ratio!r}", field="error_limit.ratio")
    if records is not None and records < 0:
        raise ctx.error(f"'records' must not be negative, got {records}", field="error_limit.records")
    return ErrorLimit(records=records, ratio=None if ratio is None else float(ratio))


def _departments(path: Path) -> dict[str, Department]:
    data = _read_yaml(path)
    raw = data.get("departments")
    if not isinstance(raw, list):
        raise CatalogError("'departments' must be a list", file=str(path))
    result: dict[str, Department] = {}
    for entry in raw:
        ctx = _Ctx(path, None, str(entry.get("key")) if isinstance(entry, dict) else None)
        if not isinstance(entry, dict):
            raise ctx.error(f"a department must be a mapping, got {entry!r}")
        key = ctx.req(entry, "key")
        if key in result:
            raise ctx.error("duplicate department key")
        code = str(ctx.req(entry, "code")).strip()
        if not is_valid_uscc(code):
            raise _Ctx(path, None, "code").error(
                f"department {key}: {code!r} is not a unified social credit code (GB 32100: 18 characters, "
                "registration authority, type, 6-digit division, organization code, a verifying check "
                "character)")
        result[key] = Department(
            key=key,
            code=code,
            name=ctx.req(entry, "name"),
            name_en=ctx.req(entry, "name_en"),
            system=ctx.req(entry, "system"),
        )
    return result


@dataclass(frozen=True)
class CatalogLoad:
    """A catalog loaded leniently: every entry that is fine, and an error for every file that is not."""

    catalog: Catalog
    errors: tuple[CatalogError, ...]


def load_catalog(dirs: Iterable[Path]) -> Catalog:
    """Load every catalog folder in order; later folders may add departments and resources.

    Raises:
        CatalogError: the first malformed file, repeated resource name or code, or unknown related code.
    """
    return _load(dirs, strict=True).catalog


def load_catalog_leniently(dirs: Iterable[Path]) -> CatalogLoad:
    """Like `load_catalog`, but a broken file is left out and reported instead of stopping the rest.

    The DAG factory uses it so that one bad entry costs its own DAG task group, not every department's DAG.
    """
    return _load(dirs, strict=False)


def _load(dirs: Iterable[Path], *, strict: bool) -> CatalogLoad:
    departments: dict[str, Department] = {}
    resources: dict[str, Resource] = {}
    codes: dict[str, str] = {}
    errors: list[CatalogError] = []

    def fail(error: CatalogError) -> None:
        if strict:
            raise error
        errors.append(error)

    dirs = [Path(d) for d in dirs]
    for d in dirs:
        if not d.is_dir():
            fail(CatalogError("catalog folder does not exist", file=str(d)))
            continue
        dep_file = d / DEPARTMENTS_FILE
        if dep_file.exists():
            try:
                found = _departments(dep_file)
            except CatalogError as exc:
                fail(exc)
                continue
            for key, dep in found.items():
                if key in departments:
                    fail(CatalogError("department defined twice", file=str(dep_file), field=key))
                    continue
                departments[key] = dep
    for d in dirs:
        for path in sorted(d.glob("*/*.yaml")) if d.is_dir() else []:
            try:
                res = _resource(path, departments)
            except CatalogError as exc:
                fail(exc)
                continue
            if res.name in resources:
                fail(CatalogError(f"resource name also defined in {resources[res.name].file}",
                                  file=str(path), resource=res.name, field="name"))
            elif clash := next(((c, codes[c]) for c in open_codes(res) if c in codes), None):
                fail(CatalogError(f"resource code {clash[0]} also used by {clash[1]}",
                                  file=str(path), resource=res.name, field="code"))
            else:
                resources[res.name] = res
                codes.update({c: res.name for c in open_codes(res)})
    providers: dict[str, str] = {}
    for res in list(resources.values()):
        if res.provides and res.provides in providers:
            fail(CatalogError(f"{res.provides} are already provided by {providers[res.provides]}; one resource "
                              "may provide each reference", file=res.file, resource=res.name, field="provides"))
            del resources[res.name]
            continue
        if res.provides:
            providers[res.provides] = res.name
        bad_reference = next(((i.name, r) for i in res.items for r in i.rules if r.rule == "references"
                              and str(r.params["item"]) not in getattr(resources.get(str(r.params["resource"])),
                                                                       "item_names", ())), None)
        if bad_reference:
            item, ref = bad_reference
            fail(CatalogError(f"rule references names {ref.params['resource']}.{ref.params['item']}, which is in no "
                              "catalog entry", file=res.file, resource=res.name, field=item))
            del resources[res.name]
            continue
        unknown = [c for c in res.related if c not in codes]
        if unknown:
            fail(CatalogError(f"related resource code(s) {', '.join(unknown)} are in no catalog entry",
                              file=res.file, resource=res.name, field="related"))
            del resources[res.name]
    return CatalogLoad(Catalog(departments=departments, resources=resources), tuple(errors))
