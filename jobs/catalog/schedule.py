"""When a department's DAG runs and how long it waits for exports, derived from the update cycle.

Pure and import-light: the DAG factory calls it at parse time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

#: Cron schedule of a department's DAG, by the shortest update cycle among its resources.
SCHEDULES = {
    "realtime": "*/15 * * * *",
    "hourly": "@hourly",
    "daily": "@daily",
    "weekly": "@weekly",
    "monthly": "@monthly",
    "quarterly": "0 0 1 */3 *",
    "yearly": "@yearly",
}
CYCLE_ORDER = tuple(SCHEDULES)
#: the maintenance DAG: nightly, after the daily exports' runs and before the working day's queries
MAINTENANCE_SCHEDULE = "30 2 * * *"


@dataclass(frozen=True)
class WaitPolicy:
    """How the export sensor polls: in reschedule mode it frees its worker slot between pokes, and
    after `timeout_seconds` without a complete export it skips the resource's run (not a failure:
    a department that sends nothing on a day is not an incident for the lake)."""

    poke_seconds: int
    timeout_seconds: int


_WAITS = {
    "realtime": WaitPolicy(60, 10 * 60),
    "hourly": WaitPolicy(120, 50 * 60),
    "daily": WaitPolicy(300, 12 * 3600),
    "weekly": WaitPolicy(900, 3 * 86400),
    "monthly": WaitPolicy(1800, 7 * 86400),
    "quarterly": WaitPolicy(3600, 14 * 86400),
    "yearly": WaitPolicy(3600, 30 * 86400),
}


def shortest_cycle(cycles: list[str] | tuple[str, ...]) -> str:
    return min(cycles, key=CYCLE_ORDER.index)


def dag_cycle(cycles: list[str] | tuple[str, ...]) -> str:
    """How often a department's DAG runs: its most frequent resource's cycle, but at least daily, so a
    weekly or yearly export is picked up the day it arrives rather than at the next period's start."""
    fastest = shortest_cycle(cycles)
    return fastest if CYCLE_ORDER.index(fastest) <= CYCLE_ORDER.index("daily") else "daily"


def wait_policy(update_cycle: str) -> WaitPolicy:
    return _WAITS[update_cycle]


def waits_for_exports(run_type: str, interval_end: datetime | None, now: datetime, policy: WaitPolicy) -> bool:
    """Whether a run with no complete export yet should keep waiting for one.

    A run for today waits (the department may still deliver). A backfill, or a run whose data interval
    ended longer ago than the wait would last (a catch-up after an outage), looks once: landing already
    holds everything that day will ever get, so waiting hours for it would only hold the backfill up; such a
    run finds nothing and skips, and the run that found the export ingests it (exactly once, by content).
    """
    if run_type == "backfill":
        return False
    return interval_end is None or now - interval_end <= timedelta(seconds=policy.timeout_seconds)
