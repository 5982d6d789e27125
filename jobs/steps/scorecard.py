"""The department scorecard step: facts from the ops tables -> `ops.scorecard` and the run summary.

The facts are read by delta-rs and aggregated in Arrow: the ops tables are small next to the data, and an
operator's `citylake scorecard` (or the demo's summary) answers in a second without starting a JVM.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime

import pyarrow.compute as pc

from jobs.io import ops
from jobs.settings import Settings
from jobs.steps.runtime import runtime
from jobs.transforms.scorecard import BatchFacts, Scorecard, score


def scorecard(resources: list[str] | None = None, *, department: str | None = None,
              settings: Settings | None = None, now: datetime | None = None, record: bool = True) -> list[Scorecard]:
    """Score every chosen resource (default: all) and append the result to `ops.scorecard`."""
    rt = runtime(settings, now)
    settings = rt.settings
    chosen = [rt.resource(n) for n in resources] if resources else [
        r for _, r in sorted(rt.catalog.resources.items()) if department in (None, r.provider)]
    delivered = {m["batch_id"]: m["recorded_at"]
                 for m in ops.rows(settings, "manifest", ["batch_id", "recorded_at"], status="ingested")}
    conformed = ops.rows(settings, "ledger", ["resource", "batch_id", "rows_read", "rows_quarantined"],
                         step="conform")
    drift_rows = ops.arrow(settings, "drift", ["resource"]).group_by("resource").aggregate([("resource", "count")])
    drift = dict(zip(drift_rows["resource"].to_pylist(), drift_rows["resource_count"].to_pylist(), strict=True))
    results = ops.arrow(settings, "validations", ["resource", "success"])
    totals = results.append_column("passed", pc.cast(pc.fill_null(results["success"], False), "int64")) \
        .group_by("resource").aggregate([("resource", "count"), ("passed", "sum")])
    checks = {r["resource"]: (r["resource_count"], r["passed_sum"] or 0) for r in totals.to_pylist()}
    cards = []
    for res in chosen:
        facts = [BatchFacts(c["batch_id"], delivered.get(c["batch_id"], rt.now), c["rows_read"], c["rows_quarantined"])
                 for c in conformed if c["resource"] == res.name]
        evaluated, passed = checks.get(res.name, (0, 0))
        cards.append(score(res.provider, res.name, res.update_cycle, facts, drift_files=drift.get(res.name, 0),
                           expectations_evaluated=evaluated, expectations_passed=passed, as_of=rt.now))
    if record and cards:
        ops.record(rt.metastore_spark, settings, "scorecard", [_entry(c, rt.now) for c in cards],
                   once=f"{rt.now.isoformat()}:{len(cards)}")
    return cards


def _entry(card: Scorecard, computed_at: datetime) -> ops.ScorecardEntry:
    """The scorecard as an `ops.scorecard` row: its facts, its rates, the recent rates as JSON."""
    facts = {k: v for k, v in asdict(card).items() if k != "recent_quarantine_rates"}
    return ops.ScorecardEntry(
        **facts, on_time_rate=card.on_time_rate, quarantine_rate=card.quarantine_rate,
        expectation_pass_rate=card.expectation_pass_rate,
        recent_quarantine_rates=json.dumps([round(r, 6) for r in card.recent_quarantine_rates]),
        computed_at=computed_at)
