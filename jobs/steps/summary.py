"""The run summary: what came in, what was accepted, quarantined, validated and published, and where
everything is. Read from the ops tables, so it describes what happened, not what was intended.

Everything is read by delta-rs and counted in Arrow or Python (a few rows per batch; the quarantine's
reasons are counted column-wise), so `citylake summary` answers in a second or two without a JVM.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

import pyarrow.compute as pc

from jobs.io import ops
from jobs.io.deltars import read_table
from jobs.io.quality import site_root
from jobs.settings import Settings
from jobs.steps.runtime import runtime
from jobs.steps.scorecard import scorecard
from jobs.transforms.scorecard import Scorecard
from jobs.transforms.validation_history import HISTORY_FOLDER

_MANIFEST = ["resource", "file", "status", "batch_id", "rows_read", "detail", "recorded_at"]
_LEDGER = ["resource", "step", "status", "batch_id", "rows_read", "rows_accepted", "rows_quarantined",
           "rows_warned", "rows_published", "detail", "recorded_at"]
_DRIFT = ["resource", "file", "policy", "action", "added", "missing", "renamed", "retyped", "recorded_at"]
_VALIDATIONS = ["resource", "batch_id", "success"]


def _by_resource(settings: Settings, table: str, columns: list[str]) -> dict[str, list[dict]]:
    """Every entry of an ops table, read once (one delta-rs log replay whatever the number of resources),
    grouped by resource in the order the table holds them."""
    grouped: dict[str, list[dict]] = defaultdict(list)
    for entry in ops.rows(settings, table, columns):
        grouped[entry["resource"]].append(entry)
    return grouped


def quarantine_reasons(settings: Settings, resource: str) -> list[tuple[str, str, int]]:
    """(rule, field, rows) of every reason in the resource's quarantine table, most frequent first."""
    table = read_table(settings.table_path("quarantine", resource), settings, columns=["reasons"])
    if table is None or table.num_rows == 0:
        return []
    reasons = pc.list_flatten(table["reasons"].combine_chunks())
    counted = Counter(zip(pc.struct_field(reasons, "rule").to_pylist(), pc.struct_field(reasons, "field").to_pylist(),
                          strict=True))
    return sorted(((rule, field, n) for (rule, field), n in counted.items()), key=lambda r: (-r[2], r[0], r[1]))


def summary_report(resources: list[str] | None = None, *, settings: Settings | None = None) -> dict[str, Any]:
    """What the lake holds per resource, as data (`citylake summary --json` prints it as is):
    ``{"lake", "resources": [{"name", "title", "code", "files", "rows", "failed_batches", "drift",
    "quarantine_reasons", "expectations", "published"}], "scorecard", "where"}``."""
    rt = runtime(settings)
    settings = rt.settings
    names = resources or sorted(rt.catalog.resources)
    manifests, ledgers = _by_resource(settings, "manifest", _MANIFEST), _by_resource(settings, "ledger", _LEDGER)
    drifts, validations = _by_resource(settings, "drift", _DRIFT), _by_resource(settings, "validations", _VALIDATIONS)
    out = []
    for name in names:
        res = rt.resource(name)
        ledger = ledgers[name]
        conform = [e for e in ledger if e["step"] == "conform"]
        read, acc, q, warned = (sum(e[k] or 0 for e in conform)
                                for k in ("rows_read", "rows_accepted", "rows_quarantined", "rows_warned"))
        checks = validations[name]
        published = [e for e in ledger if e["step"] == "publish"]
        last = max((e["recorded_at"] for e in published if e["recorded_at"] is not None), default=None)
        out.append({
            "name": res.name, "title": res.title, "code": res.code,
            "files": [{k: m[k] for k in ("status", "file", "batch_id", "rows_read", "detail")}
                      for m in sorted(manifests[name], key=lambda m: m["recorded_at"])],
            "rows": {"read": read, "accepted": acc, "quarantined": q, "warned": warned, "balanced": read == acc + q},
            "failed_batches": [{"batch_id": e["batch_id"], "detail": e["detail"]}
                               for e in conform if e["status"] == "failed"],
            "drift": [{k: d[k] for k in ("file", "policy", "action", "added", "missing", "renamed", "retyped")}
                      for d in sorted(drifts[name], key=lambda d: d["recorded_at"])],
            "quarantine_reasons": [{"rule": rule, "field": field, "rows": n}
                                   for rule, field, n in quarantine_reasons(settings, name)],
            "expectations": {"evaluated": len(checks),
                             "batches": len({v["batch_id"] for v in checks if v["batch_id"] is not None}),
                             "failed": sum(1 for v in checks if v["success"] is False)} if checks else None,
            "published": [{"rows": e["rows_published"], "detail": e["detail"]}
                          for e in sorted((e for e in published if e["recorded_at"] == last),
                                          key=lambda e: e["detail"] or "")],
        })
    cards = [card.as_json() for card in scorecard(names, settings=settings, now=rt.now, record=False)]
    return {"lake": settings.lake_uri, "resources": out, "scorecard": cards, "where": _where(settings)}


def _where(settings: Settings) -> dict[str, str]:
    return {
        "lake tables (Delta)": f"{settings.lake_uri}/{{bronze,silver,quarantine,open,ops}}/<table>",
        "quarantine": "citylake sql \"select * from quarantine.<resource>\"",
        "ledger": "citylake sql \"select * from ops.ledger\"",
        "correction files": "citylake quarantine <resource> --export DIR  (or --department D)",
        "drift reports": f"{settings.ops / 'drift'}/<department>/<resource>/<batch>.json",
        "Data Docs": str(site_root(settings.ops) / "index.html"),
        "validation history": f"{site_root(settings.ops) / HISTORY_FOLDER / 'index.html'} (a page per resource)",
        "lineage (OpenLineage)": f"{settings.home / 'lineage'}/event-*.json, one per task event",
        "open data portal": f"{settings.open_uri}/portal/index.html",
        "open catalog": f"{settings.open_uri}/catalog.json, catalog.jsonld (DCAT-AP 3.0), "
                        "citylake sql \"select * from open.catalog\"",
        "downloads": f"{settings.open_uri}/datasets/<dataset>/latest/ (CSV, JSON, Parquet, XLSX, fields)",
        "restricted zone": f"{settings.restricted_uri} (有条件开放; never public)",
        "CKAN-compatible API": "citylake serve  ->  /api/3/action/package_list",
    }


def summary(resources: list[str] | None = None, *, settings: Settings | None = None) -> str:
    """The summary as text, for people (the report of `summary_report`)."""
    return render_summary(summary_report(resources, settings=settings))


def render_summary(report: dict[str, Any]) -> str:
    lines = [f"citylake summary — lake at {report['lake']}", ""]
    for r in report["resources"]:
        lines.append(f"== {r['name']} ({r['title']}, {r['code']}) ==")
        lines.append(f"files: {len(r['files'])}")
        for m in r["files"]:
            extra = f" — {m['detail']}" if m["detail"] else ""
            lines.append(f"  {m['status']:9} {m['file']} batch {m['batch_id']} rows {m['rows_read']}{extra}")
        rows = r["rows"]
        balanced = "balanced" if rows["balanced"] else "NOT BALANCED"
        lines.append(f"rows read {rows['read']} = accepted {rows['accepted']} + quarantined {rows['quarantined']} "
                     f"({balanced}); warned {rows['warned']}")
        for bad in r["failed_batches"]:
            lines.append(f"  batch {bad['batch_id']} NOT merged into silver: {bad['detail']}")
        for d in r["drift"]:
            lines.append(f"  column drift in {d['file']} (policy {d['policy']}, {d['action']}): added {d['added']}, "
                         f"missing {d['missing']}, renamed {d['renamed']}, retyped {d['retyped']}")
        for reason in r["quarantine_reasons"]:
            lines.append(f"  quarantine reason {reason['rule']} on {reason['field']}: {reason['rows']}")
        if (checks := r["expectations"]) is not None:
            lines.append(f"expectations: {checks['evaluated']} evaluated over {checks['batches']} batch(es), "
                         f"{checks['failed']} failed")
        for entry in r["published"]:
            lines.append(f"published: {entry['rows']} rows, {entry['detail']}")
        lines.append("")
    lines.append("department scorecard (`citylake scorecard` records it in ops.scorecard):")
    lines += [f"  {Scorecard.describe_json(card)}" for card in report["scorecard"]]
    lines.append("")
    lines.append("where to look:")
    lines += [f"  {what:20} {where}" for what, where in report["where"].items()]
    return "\n".join(lines)
