"""The department scorecard step: facts from the ops tables -> `ops.scorecard` and the run summary."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime

from pyspark.sql import functions as F

from jobs.io import ops
from jobs.settings import Settings
from jobs.steps.runtime import runtime
from jobs.transforms.scorecard import BatchFacts, Scorecard, score


def scorecard(resources: list[str] | None = None, *, department: str | None = None,
              settings: Settings | None = None, now: datetime | None = None, record: bool = True) -> list[Scorecard]:
    """Score every chosen resource (default: all) and append the result to `ops.scorecard`."""
    rt = runtime(settings, now)
    spark, settings = rt.spark, rt.settings
    chosen = [rt.resource(n) for n in resources] if resources else [
        r for _, r in sorted(rt.catalog.resources.items()) if department in (None, r.provider)]
    delivered = {r.batch_id: r.recorded_at for r in ops.read(spark, settings, "manifest")
                 .where(F.col("status") == "ingested").select("batch_id", "recorded_at").collect()}
    conformed = ops.read(spark, settings, "ledger").where(F.col("step") == "conform").select(
        "resource", "batch_id", "rows_read", "rows_quarantined").collect()
    drift = {r.resource: r["count"] for r in ops.read(spark, settings, "drift").groupBy("resource").count().collect()}
    checks = {r.resource: (r.evaluated, r.passed) for r in ops.read(spark, settings, "validations")
              .groupBy("resource").agg(F.count(F.lit(1)).alias("evaluated"),
                                       F.count_if("success").alias("passed")).collect()}
    cards = []
    for res in chosen:
        facts = [BatchFacts(c.batch_id, delivered.get(c.batch_id, rt.now), c.rows_read, c.rows_quarantined)
                 for c in conformed if c.resource == res.name]
        evaluated, passed = checks.get(res.name, (0, 0))
        cards.append(score(res.provider, res.name, res.update_cycle, facts, drift_files=drift.get(res.name, 0),
                           expectations_evaluated=evaluated, expectations_passed=passed, as_of=rt.now))
    if record and cards:
        ops.record(spark, settings, "scorecard", [_entry(c, rt.now) for c in cards],
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
