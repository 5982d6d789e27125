"""A department's export of changes to records the lake already holds, for history (`history: scd2`).

A registration system's daily export carries the day's changed records in full, not a diff: the records
as they now are. `changed_records` takes the current rows of silver (read by delta-rs) and returns such an
export: `count` of the records whose `item` holds `where`, with `item` set to `to` and, when the entry has
one, the approval date moved to the day of the change. Pure: rows in, rows out, in the order given.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from jobs.catalog.model import Resource

CITY_ZONE = ZoneInfo("Asia/Shanghai")


def as_export_value(value: Any) -> Any:
    """A value read from a lake table as the sample writers take it: zoned times as the city's wall clock."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(CITY_ZONE).replace(tzinfo=None)
    return value


def changed_records(res: Resource, current: Sequence[dict[str, Any]], *, item: str, where: str, to: str,
                    count: int, day: date, approved_item: str | None = None) -> list[dict[str, Any]]:
    """`count` current records with `item == where`, changed to `to` (and `approved_item` set to `day`),
    with the entry's items only."""
    names = res.item_names
    picked = [r for r in current if r.get(item) == where][:count]
    out = []
    for row in picked:
        changed = {n: as_export_value(row.get(n)) for n in names}
        changed[item] = to
        if approved_item is not None:
            changed[approved_item] = day
        out.append(changed)
    return out
