"""Rules by name: each builds a Spark SQL expression (text, see `jobs.sql_text`) that is null when the
row passes and holds the failure's detail (`struct<en, zh>`, possibly empty strings) when it fails.

All rules of a resource are combined into one pass by `jobs.transforms.conform`; a rule never
triggers a Spark job of its own, and building one needs no Spark at all. Nulls pass every rule except
`not_null`: whether a value must be present is the `required` flag's business, not each rule's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date

from jobs.rules.divisions import DivisionIndex

#: (value expression, context, **params) -> failure-detail expression, all Spark SQL text
RuleBuilder = Callable[..., str]


@dataclass(frozen=True)
class RuleContext:
    """What a rule may look at besides its own value: the other typed fields, 'today', the item being
    checked, the row's primary key, (for `unique` against silver) the keys silver holds per value, the
    division codes `cn_division` checks against (None: the packaged reference), what `references`
    found in other tables, and the items' types."""

    columns: Mapping[str, str] = field(default_factory=dict)
    as_of: date = date(2100, 1, 1)
    item: str = ""
    row_key: str | None = None
    #: item -> (smallest, largest) primary key in silver holding the row's value of that item
    silver_keys: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    divisions: DivisionIndex | None = None
    #: item -> a column that is non-null when the row's value is in the referenced silver table (an item
    #: missing here has a `references` rule whose table does not exist yet: not judged)
    references: Mapping[str, str] = field(default_factory=dict)
    #: item -> its catalog type (string, integer, decimal, date, timestamp, boolean)
    types: Mapping[str, str] = field(default_factory=dict)

    def column(self, name: str) -> str:
        return self.columns[name]


RULES: dict[str, RuleBuilder] = {}


def register(name: str) -> Callable[[RuleBuilder], RuleBuilder]:
    """Register a rule builder under the name the catalog uses."""

    def wrap(fn: RuleBuilder) -> RuleBuilder:
        if name in RULES:
            raise ValueError(f"rule {name!r} registered twice")
        RULES[name] = fn
        return fn

    return wrap


def build(name: str, value: str, ctx: RuleContext, params: Mapping[str, object]) -> str:
    """The failure-detail expression of rule `name` applied to the expression `value` (the rules are those
    registered so far: import `jobs.rules.builtin` for the built-in ones)."""
    if name not in RULES:
        raise KeyError(f"rule {name!r} is not registered (known: {', '.join(sorted(RULES))}); "
                       "import jobs.rules.builtin for the built-in rules")
    return RULES[name](value, ctx, **params)
