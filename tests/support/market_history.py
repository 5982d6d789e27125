"""Market entities (`history: scd2`) over three days on a real lake, built once per test session.

Day 1, then a backlog of days 2 and 3 ingested by one call. Day 2 re-delivers some entities with a changed
registration status, some unchanged, and some new ones, so its MERGE closes versions and inserts new ones
and new records; day 3 re-delivers day 2 in another order with one entity changed again (迁出), so only that
entity gets a version, after day 2's.

A person is planted for the erasure tests: the legal representative of the entity that changes twice (three
silver versions), and of one more entity in day 1 whose credit code is malformed, so that row is quarantined
(its ID written with stray spaces and a lower-case x). The history tests read the lake; the erasure tests
erase from a copy of it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from jobs.sample.generator import make_rows
from jobs.sample.values import resident_id
from jobs.sample.writers import write_csv
from jobs.settings import Settings
from jobs.steps import conform, ingest, validate

RESOURCE = "market_entities"
DAYS = (date(2026, 11, 26), date(2026, 11, 27), date(2026, 11, 28))
CHANGED, UNCHANGED, NEW = 5, 3, 4
PERSON_ID = resident_id(random.Random(4711))
PERSON_NAME = "欧阳测甲"
BAD_CREDIT_CODE = "91510100-NOT-A-CODE"


@dataclass(frozen=True)
class HistoryLake:
    settings: Settings
    batches: tuple[str, str, str]
    #: credit codes of the entities day 2 changes
    changed: frozenset[str]
    #: day 1's valid rows (silver's first write); day 1's file also holds the quarantined row
    first_rows: int
    #: the entity that changes twice, whose legal representative is the planted person
    moved: str
    #: an entity delivered unchanged on all three days
    unchanged: str
    unchanged_name: str


def deliver(res, settings: Settings, day: date, rows: list[dict]) -> Path:  # noqa: ANN001
    folder = settings.landing / res.provider / res.name
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{res.name}_{day:%Y%m%d}.csv"
    write_csv(res, rows, path, day=day, seed=1)
    path.with_name(path.name + res.source.marker_suffix).touch()
    return path


def promote(settings: Settings, day: date) -> list[str]:
    """ingest -> conform -> validate of what landing holds, the morning after `day`; returns the batch ids."""
    now = datetime.combine(day + timedelta(days=1), datetime.min.time()).replace(hour=1)
    batches = [o["batch_id"] for o in ingest(RESOURCE, settings=settings, now=now)]
    conform(RESOURCE, settings=settings, now=now)
    validate(RESOURCE, settings=settings, now=now)
    return batches


def exports(res) -> tuple[list[dict], list[dict], list[dict], dict]:  # noqa: ANN001
    """Day 1's valid rows; day 2's: CHANGED of day 1's 存续 entities now 在业, UNCHANGED others as they were,
    NEW entities; day 3's: day 2's reversed, the first changed entity now 迁出; and day 1's quarantined row."""
    first, _ = make_rows(res, day=DAYS[0], rows=30, defect_rate=0)
    person = {"legal_rep_id_no": PERSON_ID, "legal_rep_name": PERSON_NAME}
    at = next(i for i, r in enumerate(first) if r["status"] == "存续")
    first[at] = {**first[at], **person}
    existing = [r for r in first if r["status"] == "存续"]
    assert len(existing) >= CHANGED + UNCHANGED
    changed = [{**r, "status": "在业"} for r in existing[:CHANGED]]
    fresh, _ = make_rows(res, day=DAYS[1], rows=NEW, seed=777, defect_rate=0)
    second = [*changed, *existing[CHANGED:CHANGED + UNCHANGED], *fresh]
    third = [{**r, "status": "迁出"} if r is changed[0] else r for r in reversed(second)]
    quarantined = {**first[-1], **person, "credit_code": BAD_CREDIT_CODE, "legal_rep_id_no": f" {PERSON_ID.lower()} "}
    return first, second, third, quarantined


def build(res, settings: Settings) -> HistoryLake:  # noqa: ANN001
    first, second, third, quarantined = exports(res)
    deliver(res, settings, DAYS[0], [*first[:1], quarantined, *first[1:]])
    (day1,) = promote(settings, DAYS[0])
    deliver(res, settings, DAYS[1], second)
    deliver(res, settings, DAYS[2], third)
    day2, day3 = promote(settings, DAYS[2])  # a backlog: both in one ingest call, stamped with one instant
    kept = second[CHANGED]
    return HistoryLake(settings, (day1, day2, day3), frozenset(r["credit_code"] for r in second[:CHANGED]),
                       len(first), second[0]["credit_code"], kept["credit_code"], kept["entity_name"])
