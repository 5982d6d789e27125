"""The demo's export of changes: the chosen records, in full, with the change applied and nothing else."""

from __future__ import annotations

from datetime import UTC, date, datetime

from jobs.sample.changes import as_export_value, changed_records


def test_only_matching_records_change_and_only_the_named_items(catalog):
    res = catalog.resource("market_entities")
    base = {n: None for n in res.item_names}
    current = [{**base, "credit_code": f"C{n}", "status": "存续" if n % 2 else "注销",
                "approved_date": date(2026, 1, n + 1), "_batch_id": "b1", "_is_current": True} for n in range(6)]
    out = changed_records(res, current, item="status", where="存续", to="在业", count=2, day=date(2026, 11, 27),
                          approved_item="approved_date")
    assert [r["credit_code"] for r in out] == ["C1", "C3"]
    assert {r["status"] for r in out} == {"在业"} and {r["approved_date"] for r in out} == {date(2026, 11, 27)}
    assert all(set(r) == set(res.item_names) for r in out)  # lineage and version columns stay in the lake
    assert current[1]["status"] == "存续"  # the input is not modified


def test_zoned_times_become_the_city_s_wall_clock():
    assert as_export_value(datetime(2026, 11, 26, 1, 0, tzinfo=UTC)) == datetime(2026, 11, 26, 9, 0)
    assert as_export_value(date(2026, 11, 26)) == date(2026, 11, 26)
