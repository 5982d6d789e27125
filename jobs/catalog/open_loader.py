"""Parsing of what a catalog entry says about opening it: per-field generalisation and allowed
identifiers, and the resource's `open:` block (k-anonymity, aggregate tables).

Every mistake names the file, resource and field, like the rest of the loader; a declaration that
would publish personal data (a name as a dimension, a phone as a quasi-identifier kept as is) is refused
here, before any data moves.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from jobs.catalog.model import IDENTIFIER_KINDS, DataItem, Resource
from jobs.catalog.opendata import AGG_FUNCTIONS, DEFAULT_K, Aggregate, Dimension, Measure, OpenSpec

if TYPE_CHECKING:
    from jobs.catalog.loader import _Ctx

#: generalisation targets per item type
GENERALIZATIONS: Mapping[str, tuple[str, ...]] = {
    "timestamp": ("hour", "date", "month", "year"),
    "date": ("month", "year"),
    "integer": ("band", "round"),
    "decimal": ("band", "round"),
    "string": ("prefix",),
}
NUMERIC = ("integer", "decimal")


def generalization(raw: Any, typ: str, ctx: _Ctx) -> dict[str, object]:
    """The `generalize` mapping of an item (or a dimension), checked against the item's type."""
    if raw is None:
        return {}
    if not isinstance(raw, dict) or "to" not in raw:
        raise ctx.error("'generalize' must be a mapping with 'to'")
    allowed = GENERALIZATIONS.get(typ, ())
    to = raw["to"]
    if to not in allowed:
        raise ctx.error(f"a {typ} item generalises to {', '.join(allowed) or 'nothing'}, not {to!r}")
    needs = {"band": "width", "round": "digits", "prefix": "length"}.get(to)
    extra = set(raw) - {"to", *([needs] if needs else [])}
    if extra:
        raise ctx.error(f"generalize to {to} takes no {', '.join(sorted(extra))}")
    if needs:
        value = raw.get(needs)
        if isinstance(value, bool) or not isinstance(value, int) or value < (0 if needs == "digits" else 1):
            kind = "non-negative" if needs == "digits" else "positive"
            raise ctx.error(f"generalize to {to} needs '{needs}' as a {kind} integer, got {value!r}")
    return dict(raw)


def allowed_identifiers(raw: Any, ctx: _Ctx) -> tuple[str, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or any(k not in IDENTIFIER_KINDS for k in raw):
        raise ctx.error(f"must be a list of {', '.join(IDENTIFIER_KINDS)}")
    return tuple(raw)


def open_codes(res: Resource) -> tuple[str, ...]:
    """The resource's code and its aggregate tables' codes (all must be unique in the catalog)."""
    return (res.code, *(a.code for a in res.open.aggregates))


def open_spec(raw: Any, items: Sequence[DataItem], ctx: _Ctx) -> OpenSpec:
    if raw is None:
        return OpenSpec()
    if not isinstance(raw, dict):
        raise ctx.error("'open' must be a mapping with detail, k, quasi_identifiers, aggregates, history")
    unknown = set(raw) - {"detail", "k", "quasi_identifiers", "aggregates", "history"}
    if unknown:
        raise ctx.error(f"unknown key(s) {', '.join(sorted(unknown))}")
    by_name = {i.name: i for i in items}
    k = ctx.opt(raw, "k", DEFAULT_K, int)
    if k < 2:
        raise ctx.at("k").error(f"k-anonymity needs k of 2 or more, got {k}")
    qis = raw.get("quasi_identifiers") or []
    if not isinstance(qis, list):
        raise ctx.at("quasi_identifiers").error("must be a list of data items")
    for qi in qis:
        item = by_name.get(qi)
        if item is None:
            raise ctx.at("quasi_identifiers").error(f"{qi!r} is no data item")
        if item.publish == "drop":
            raise ctx.at("quasi_identifiers").error(
                f"{qi!r} is not published (publish: drop), so it is no quasi-identifier")
    aggs_raw = raw.get("aggregates") or []
    if not isinstance(aggs_raw, list):
        raise ctx.at("aggregates").error("must be a list")
    aggregates = tuple(_aggregate(a, by_name, ctx.at(f"aggregates[{n}]"), k) for n, a in enumerate(aggs_raw))
    names = [a.name for a in aggregates]
    if len(set(names)) != len(names):
        raise ctx.at("aggregates").error("aggregate names repeat")
    detail = ctx.opt(raw, "detail", True, bool)
    if not detail and not aggregates:
        raise ctx.at("detail").error("detail: false publishes nothing without aggregates")
    history = ctx.opt(raw, "history", False, bool)
    if history and not detail:
        raise ctx.at("history").error("history: true opens the versions of the detail table, and detail is false")
    return OpenSpec(detail=detail, k=k, quasi_identifiers=tuple(qis), aggregates=aggregates, history=history)


def _aggregate(raw: Any, items: Mapping[str, DataItem], ctx: _Ctx, k: int) -> Aggregate:
    if not isinstance(raw, dict):
        raise ctx.error("an aggregate must be a mapping")
    name = ctx.req(raw, "name")
    if not str(name).startswith(f"{ctx.resource}_"):
        raise ctx.at("name").error(f"aggregate names start with the resource name: {ctx.resource}_...")
    dims_raw, meas_raw = raw.get("dimensions"), raw.get("measures")
    if not isinstance(dims_raw, list) or not dims_raw or not isinstance(meas_raw, list) or not meas_raw:
        raise ctx.error("'dimensions' and 'measures' must be non-empty lists")
    dims = tuple(_dimension(d, items, ctx.at(f"dimensions[{n}]")) for n, d in enumerate(dims_raw))
    measures = tuple(_measure(m, items, ctx.at(f"measures[{n}]")) for n, m in enumerate(meas_raw))
    columns = [d.name for d in dims] + [m.name for m in measures]
    if len(set(columns)) != len(columns):
        raise ctx.error("dimension and measure names repeat")
    chart = None
    if raw.get("chart") is not None:
        c = raw["chart"]
        if not isinstance(c, dict) or c.get("dimension") not in {d.name for d in dims} \
                or c.get("measure") not in {m.name for m in measures}:
            raise ctx.at("chart").error("chart needs 'dimension' and 'measure' naming this aggregate's columns")
        chart = (c["dimension"], c["measure"])
    return Aggregate(
        name=name, code=ctx.req(raw, "code"), title=ctx.req(raw, "title"), title_en=ctx.req(raw, "title_en"),
        summary=ctx.req(raw, "summary"), dimensions=dims, measures=measures, chart=chart,
        min_count=ctx.opt(raw, "min_count", 1, int),
    )


def _dimension(raw: Any, items: Mapping[str, DataItem], ctx: _Ctx) -> Dimension:
    if not isinstance(raw, dict):
        raise ctx.error("a dimension must be a mapping with name, title, from")
    source = ctx.req(raw, "from")
    item = items.get(source)
    if item is None:
        raise ctx.at("from").error(f"{source!r} is no data item")
    if item.is_personal:
        raise ctx.at("from").error(f"{source!r} is personal data (pii: {item.pii}) and cannot be a dimension")
    return Dimension(name=ctx.req(raw, "name"), title=ctx.req(raw, "title"), source=source,
                     generalize=generalization(raw.get("generalize"), item.type, ctx.at("generalize")))


def _measure(raw: Any, items: Mapping[str, DataItem], ctx: _Ctx) -> Measure:
    if not isinstance(raw, dict):
        raise ctx.error("a measure must be a mapping with name, title, agg")
    agg = ctx.choice(raw, "agg", AGG_FUNCTIONS)
    of = raw.get("of")
    values = tuple(str(v) for v in raw.get("values") or ())
    if of is None and agg != "count":
        raise ctx.at("of").error(f"agg {agg} needs 'of'")
    if of is not None:
        item = items.get(of)
        if item is None:
            raise ctx.at("of").error(f"{of!r} is no data item")
        if item.is_personal and agg != "count_distinct":
            raise ctx.at("of").error(f"{of!r} is personal data; only count_distinct may use it")
        if agg in ("sum", "avg") and item.type not in NUMERIC:
            raise ctx.at("of").error(f"agg {agg} needs a number, {of!r} is {item.type}")
        if agg == "rate" and item.type != "boolean" and not values:
            raise ctx.at("values").error(f"rate of the {item.type} item {of!r} needs 'values' (which count as yes)")
    digits = raw.get("digits")
    if digits is not None and (isinstance(digits, bool) or not isinstance(digits, int) or digits < 0):
        raise ctx.at("digits").error(f"must be a non-negative integer, got {digits!r}")
    return Measure(name=ctx.req(raw, "name"), title=ctx.req(raw, "title"), agg=agg,  # type: ignore[arg-type]
                   of=of, values=values, digits=digits)
