"""When a run with no export yet waits for one: today's runs do, a backfill or a long-past catch-up looks once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from jobs.catalog.schedule import wait_policy, waits_for_exports

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
DAILY = wait_policy("daily")  # waits up to 12 hours


def test_todays_run_waits_for_the_department():
    assert waits_for_exports("scheduled", NOW - timedelta(hours=9), NOW, DAILY)
    assert waits_for_exports("manual", NOW, NOW, DAILY)
    assert waits_for_exports("manual", None, NOW, DAILY)  # a run without a data interval


def test_a_backfill_never_waits():
    assert not waits_for_exports("backfill", NOW - timedelta(days=3), NOW, DAILY)
    assert not waits_for_exports("backfill", NOW, NOW, DAILY)


def test_a_catch_up_of_a_long_past_interval_looks_once():
    assert not waits_for_exports("scheduled", NOW - timedelta(hours=13), NOW, DAILY)
    assert waits_for_exports("scheduled", NOW - timedelta(hours=12), NOW, DAILY)
