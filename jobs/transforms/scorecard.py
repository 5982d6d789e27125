"""Department scorecard: how well a provider delivers each resource, from the ops tables' facts.

Pure Python over small per-batch facts (the ops tables are tiny next to the data), so the scoring rules
are tested without Spark:
- on-time rate: the share of update-cycle periods (days for a daily resource, ...) from the first
  delivery up to now in which at least one export arrived;
- quarantine rate: quarantined rows / rows read over all batches, and per batch for the trend;
- drift count: files whose columns differed from the catalog;
- expectation pass rate: passed / evaluated expectations over all validations;
- trend: the latest batch's quarantine rate against the mean of the batches before it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

#: A change in quarantine rate smaller than this (absolute) is "steady".
TREND_TOLERANCE = 0.005
TREND_WINDOW = 5
MAX_PERIODS = 100_000


@dataclass(frozen=True)
class BatchFacts:
    batch_id: str
    delivered_at: datetime
    rows_read: int
    rows_quarantined: int

    @property
    def quarantine_rate(self) -> float:
        return self.rows_quarantined / self.rows_read if self.rows_read else 0.0


@dataclass(frozen=True)
class Scorecard:
    department: str
    resource: str
    update_cycle: str
    batches: int
    periods: int
    periods_delivered: int
    rows_read: int
    rows_quarantined: int
    drift_files: int
    expectations_evaluated: int
    expectations_passed: int
    recent_quarantine_rates: tuple[float, ...]
    trend: str

    @property
    def on_time_rate(self) -> float | None:
        return self.periods_delivered / self.periods if self.periods else None

    @property
    def quarantine_rate(self) -> float | None:
        return self.rows_quarantined / self.rows_read if self.rows_read else None

    @property
    def expectation_pass_rate(self) -> float | None:
        return self.expectations_passed / self.expectations_evaluated if self.expectations_evaluated else None

    def as_json(self) -> dict:
        """The card as `citylake scorecard --json` prints it: the counts, the rates (None: nothing to rate)."""
        return {**asdict(self), "recent_quarantine_rates": list(self.recent_quarantine_rates),
                "on_time_rate": self.on_time_rate, "quarantine_rate": self.quarantine_rate,
                "expectation_pass_rate": self.expectation_pass_rate}

    def describe(self) -> str:
        """One line for the run summary."""
        return self.describe_json(self.as_json())

    @staticmethod
    def describe_json(card: dict) -> str:
        """The line of a card in its `as_json` form (the summary renders its JSON report)."""
        def pct(value: float | None) -> str:
            return "n/a" if value is None else f"{value:.1%}"

        recent = ", ".join(f"{r:.1%}" for r in card["recent_quarantine_rates"]) or "none"
        return (f"{card['department']}/{card['resource']}: on time {pct(card['on_time_rate'])} "
                f"({card['periods_delivered']}/{card['periods']} {card['update_cycle']} periods), "
                f"quarantine {pct(card['quarantine_rate'])} ({card['rows_quarantined']}/{card['rows_read']} rows), "
                f"drift {card['drift_files']} file(s), expectations passed {pct(card['expectation_pass_rate'])} "
                f"({card['expectations_passed']}/{card['expectations_evaluated']}), trend {card['trend']} "
                f"(last batches: {recent})")


def period_key(moment: datetime, cycle: str) -> tuple[int, ...]:
    """The update-cycle period a moment falls in, as a sortable key."""
    if cycle == "realtime":
        return (moment.year, moment.month, moment.day, moment.hour, moment.minute // 15)
    if cycle == "hourly":
        return (moment.year, moment.month, moment.day, moment.hour)
    if cycle == "daily":
        return (moment.year, moment.month, moment.day)
    if cycle == "weekly":
        iso = moment.isocalendar()
        return (iso.year, iso.week)
    if cycle == "monthly":
        return (moment.year, moment.month)
    if cycle == "quarterly":
        return (moment.year, (moment.month - 1) // 3)
    if cycle == "yearly":
        return (moment.year,)
    raise ValueError(f"unknown update cycle {cycle!r}")


_STEP = {"realtime": timedelta(minutes=15), "hourly": timedelta(hours=1), "daily": timedelta(days=1),
         "weekly": timedelta(days=7), "monthly": timedelta(days=28), "quarterly": timedelta(days=89),
         "yearly": timedelta(days=365)}


def periods_between(start: datetime, end: datetime, cycle: str) -> list[tuple[int, ...]]:
    """Every period from the one holding `start` to the one holding `end`, in order."""
    keys: list[tuple[int, ...]] = []
    moment, last = start, period_key(end, cycle)
    while len(keys) < MAX_PERIODS:
        key = period_key(moment, cycle)
        if not keys or keys[-1] != key:
            keys.append(key)
        if key >= last:
            break
        moment += _STEP[cycle]
    return keys


def trend(rates: Sequence[float]) -> str:
    """`better`, `worse` or `steady`: the last rate against the mean of the ones before it."""
    if len(rates) < 2:
        return "steady"
    before = sum(rates[:-1]) / (len(rates) - 1)
    if rates[-1] < before - TREND_TOLERANCE:
        return "better"
    if rates[-1] > before + TREND_TOLERANCE:
        return "worse"
    return "steady"


def score(department: str, resource: str, cycle: str, batches: Sequence[BatchFacts], *, drift_files: int,
          expectations_evaluated: int, expectations_passed: int, as_of: datetime) -> Scorecard:
    """The scorecard of one resource as of `as_of`."""
    ordered = sorted(batches, key=lambda b: (b.delivered_at, b.batch_id))
    if ordered:
        periods = periods_between(ordered[0].delivered_at, max(as_of, ordered[-1].delivered_at), cycle)
        delivered = {period_key(b.delivered_at, cycle) for b in ordered}
    else:
        periods, delivered = [], set()
    recent = tuple(b.quarantine_rate for b in ordered[-TREND_WINDOW:])
    return Scorecard(
        department=department, resource=resource, update_cycle=cycle, batches=len(ordered),
        periods=len(periods), periods_delivered=len(delivered & set(periods)),
        rows_read=sum(b.rows_read for b in ordered), rows_quarantined=sum(b.rows_quarantined for b in ordered),
        drift_files=drift_files, expectations_evaluated=expectations_evaluated,
        expectations_passed=expectations_passed, recent_quarantine_rates=recent, trend=trend(recent),
    )
