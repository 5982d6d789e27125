"""The run summary: what came in, what was accepted, quarantined, validated and published, and where
everything is. Read from the ops tables, so it describes what happened, not what was intended.

Everything is read by delta-rs and counted in Arrow or Python (a few rows per batch; the quarantine's
reasons are counted column-wise), so `citylake summary` answers in a second or two without a JVM.
"""

from __future__ import annotations

from collections import Counter, defaultdict

import pyarrow.compute as pc

from jobs.io import ops
from jobs.io.deltars import read_table
from jobs.io.quality import site_root
from jobs.settings import Settings
from jobs.steps.runtime import runtime
from jobs.steps.scorecard import scorecard
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


def summary(resources: list[str] | None = None, *, settings: Settings | None = None) -> str:
    rt = runtime(settings)
    settings = rt.settings
    names = resources or sorted(rt.catalog.resources)
    lines = [f"citylake summary — lake at {settings.lake_uri}", ""]
    manifests, ledgers = _by_resource(settings, "manifest", _MANIFEST), _by_resource(settings, "ledger", _LEDGER)
    drifts, validations = _by_resource(settings, "drift", _DRIFT), _by_resource(settings, "validations", _VALIDATIONS)
    for name in names:
        res = rt.resource(name)
        lines.append(f"== {res.name} ({res.title}, {res.code}) ==")
        manifest = sorted(manifests[name], key=lambda m: m["recorded_at"])
        lines.append(f"files: {len(manifest)}")
        for m in manifest:
            extra = f" — {m['detail']}" if m["detail"] else ""
            lines.append(f"  {m['status']:9} {m['file']} batch {m['batch_id']} rows {m['rows_read']}{extra}")
        ledger = ledgers[name]
        conform = [e for e in ledger if e["step"] == "conform"]
        read, acc, q, warned = (sum(e[k] or 0 for e in conform)
                                for k in ("rows_read", "rows_accepted", "rows_quarantined", "rows_warned"))
        balanced = "balanced" if read == acc + q else "NOT BALANCED"
        lines.append(f"rows read {read} = accepted {acc} + quarantined {q} ({balanced}); warned {warned}")
        for bad in (e for e in conform if e["status"] == "failed"):
            lines.append(f"  batch {bad['batch_id']} NOT merged into silver: {bad['detail']}")
        for d in sorted(drifts[name], key=lambda d: d["recorded_at"]):
            lines.append(f"  column drift in {d['file']} (policy {d['policy']}, {d['action']}): added {d['added']}, "
                         f"missing {d['missing']}, renamed {d['renamed']}, retyped {d['retyped']}")
        for rule, field, n in quarantine_reasons(settings, name):
            lines.append(f"  quarantine reason {rule} on {field}: {n}")
        checks = validations[name]
        if checks:
            failed = sum(1 for v in checks if v["success"] is False)
            batches = len({v["batch_id"] for v in checks if v["batch_id"] is not None})
            lines.append(f"expectations: {len(checks)} evaluated over {batches} batch(es), {failed} failed")
        published = [e for e in ledger if e["step"] == "publish"]
        last = max((e["recorded_at"] for e in published if e["recorded_at"] is not None), default=None)
        for entry in sorted((e for e in published if e["recorded_at"] == last), key=lambda e: e["detail"] or ""):
            lines.append(f"published: {entry['rows_published']} rows, {entry['detail']}")
        lines.append("")
    lines.append("department scorecard (`citylake scorecard` records it in ops.scorecard):")
    lines += [f"  {card.describe()}" for card in scorecard(names, settings=settings, now=rt.now, record=False)]
    lines.append("")
    lines += [
        "where to look:",
        f"  lake tables (Delta)  {settings.lake_uri}/{{bronze,silver,quarantine,open,ops}}/<table>",
        "  quarantine           citylake sql \"select * from quarantine.<resource>\"",
        "  ledger               citylake sql \"select * from ops.ledger\"",
        "  correction files     citylake quarantine <resource> --export DIR  (or --department D)",
        f"  drift reports        {settings.ops / 'drift'}/<department>/<resource>/<batch>.json",
        f"  Data Docs            {site_root(settings.ops) / 'index.html'}",
        f"  validation history   {site_root(settings.ops) / HISTORY_FOLDER / 'index.html'} (a page per resource)",
        f"  lineage (OpenLineage) {settings.home / 'lineage'}/event-*.json, one per task event",
        f"  open data portal     {settings.open_uri}/portal/index.html",
        f"  open catalog         {settings.open_uri}/catalog.json, catalog.jsonld (DCAT-AP 3.0), "
        "citylake sql \"select * from open.catalog\"",
        f"  downloads            {settings.open_uri}/datasets/<dataset>/latest/ (CSV, JSON, Parquet, XLSX, fields)",
        f"  restricted zone      {settings.restricted_uri} (有条件开放; never public)",
        "  CKAN-compatible API  citylake serve  ->  /api/3/action/package_list",
    ]
    return "\n".join(lines)
