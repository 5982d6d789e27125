"""The baseline expectation suite of a resource, derived from its catalog entry.

Pure Python and deterministic (sorted keys, no ids, no timestamps), so the checked-in
`expectations/<resource>.json` is a reviewable diff whenever the catalog changes. Hand-written
expectations live in the same file without the `generated` marker and survive regeneration.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from jobs.catalog.derive import SILVER_LINEAGE
from jobs.catalog.model import Resource

GENERATED = "generated"
GX_SEVERITY = {"error": "critical", "warn": "warning"}


def _exp(type_: str, severity: str = "error", **kwargs: Any) -> dict[str, Any]:
    return {
        "type": type_,
        "kwargs": kwargs,
        "severity": GX_SEVERITY[severity],
        "meta": {"citylake": GENERATED},
    }


def baseline_expectations(resource: Resource) -> list[dict[str, Any]]:
    """Expectations that state what the catalog says about accepted (silver) rows."""
    columns = list(resource.item_names) + [f.name for f in SILVER_LINEAGE.fields]
    out = [
        _exp("expect_table_columns_to_match_set", column_set=columns, exact_match=True),
        _exp("expect_table_row_count_to_be_between", "warn", min_value=1),
    ]
    if len(resource.primary_key) == 1:
        out.append(_exp("expect_column_values_to_be_unique", column=resource.primary_key[0]))
    elif resource.primary_key:
        out.append(_exp("expect_compound_columns_to_be_unique", column_list=list(resource.primary_key)))
    for item in resource.items:
        if item.required or item.name in resource.primary_key:
            out.append(_exp("expect_column_values_to_not_be_null", column=item.name))
        if item.length is not None and item.type == "string":
            out.append(_exp("expect_column_value_lengths_to_be_between", column=item.name, max_value=item.length))
        for ref in item.rules:
            p = ref.params
            if ref.rule == "in_set":
                out.append(_exp("expect_column_values_to_be_in_set", ref.severity, column=item.name,
                                value_set=[str(v) for v in p["values"]]))  # type: ignore[attr-defined]
            elif ref.rule == "range":
                out.append(_exp("expect_column_values_to_be_between", ref.severity, column=item.name,
                                min_value=p.get("min"), max_value=p.get("max")))
            elif ref.rule == "regex":
                out.append(_exp("expect_column_values_to_match_regex", ref.severity, column=item.name,
                                regex=p["pattern"]))
    return out


def suite_document(resource: Resource, existing: dict[str, Any] | None = None) -> dict[str, Any]:
    """The suite file's content: generated expectations plus the hand-written ones of `existing`."""
    hand_written = [
        e for e in (existing or {}).get("expectations", []) if (e.get("meta") or {}).get("citylake") != GENERATED
    ]
    return {
        "name": resource.name,
        "meta": {"citylake": {"resource_code": resource.code, "title": resource.title}},
        "expectations": baseline_expectations(resource) + hand_written,
    }


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


def suite_folder(expectations_dir: Path, resource: Resource) -> Path:
    """Where a resource's suite lives: the built-in catalog's entries in `expectations_dir` (the checkout's
    `expectations/`), an extra catalog folder's beside its entries in `<folder>/expectations/`, so an entry
    onboarded from its own folder needs no change to the checkout."""
    from jobs.settings import BUILTIN_CATALOG

    if not resource.file:
        return expectations_dir
    folder = Path(resource.file).resolve().parent.parent  # entries are <folder>/<department>/<name>.yaml
    return expectations_dir if folder == BUILTIN_CATALOG.resolve() else folder / "expectations"


def suite_path(expectations_dir: Path, resource: Resource) -> Path:
    return suite_folder(expectations_dir, resource) / f"{resource.name}.json"


def write_suite(expectations_dir: Path, resource: Resource, *, path: Path | None = None) -> Path:
    """(Re)generate the resource's suite (`suite_path`, or `path`), keeping hand-written expectations."""
    path = path or suite_path(expectations_dir, resource)
    existing = json.loads(path.read_text(encoding="utf-8")) if path.exists() else None
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(suite_document(resource, existing)), encoding="utf-8")
    return path


#: Meta key of a hand-written `expect_table_row_count_to_be_between` whose bounds come from history:
#: `{"relative_to_recent": {"batches": 7, "tolerance": 0.5}}` = within ±50 % of the mean of the last 7.
RELATIVE_TO_RECENT = "relative_to_recent"


def with_history(document: dict[str, Any], recent_counts: list[int]) -> dict[str, Any]:
    """The suite with the bounds of history-relative row-count expectations filled in.

    `recent_counts` are the accepted row counts of earlier validated batches, newest first. Without
    history the bounds stay open (the first batch of a resource has nothing to compare with).
    """
    out = json.loads(json.dumps(document))
    for spec in out["expectations"]:
        rule = (spec.get("meta") or {}).get(RELATIVE_TO_RECENT)
        if not rule or spec["type"] != "expect_table_row_count_to_be_between":
            continue
        window = [c for c in recent_counts[: int(rule.get("batches", 7))] if c > 0]
        tolerance = float(rule.get("tolerance", 0.5))
        if window:
            mean = sum(window) / len(window)
            spec["kwargs"] = {"min_value": math.floor(mean * (1 - tolerance)),
                              "max_value": math.ceil(mean * (1 + tolerance))}
        else:
            spec["kwargs"] = {"min_value": 0, "max_value": None}
        spec["meta"] = {**spec["meta"], "history": {"batches": len(window), "counts": window}}
    return out
