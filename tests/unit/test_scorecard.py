"""Department scorecard rules: periods of an update cycle, on-time rate, quarantine rate and trend."""

from __future__ import annotations

from datetime import datetime

import pytest

from jobs.transforms.scorecard import BatchFacts, period_key, periods_between, score, trend


def batch(day: int, read: int, quarantined: int, hour: int = 2) -> BatchFacts:
    return BatchFacts(f"b{day}-{hour}", datetime(2026, 11, day, hour), read, quarantined)


@pytest.mark.parametrize(("cycle", "start", "end", "count"), [
    ("daily", datetime(2026, 11, 1, 23), datetime(2026, 11, 10, 0, 5), 10),
    ("hourly", datetime(2026, 11, 1, 0, 59), datetime(2026, 11, 1, 5, 0), 6),
    ("realtime", datetime(2026, 11, 1, 0, 0), datetime(2026, 11, 1, 1, 0), 5),
    ("weekly", datetime(2026, 11, 2), datetime(2026, 11, 29), 4),
    ("monthly", datetime(2026, 1, 31), datetime(2026, 12, 1), 12),
    ("quarterly", datetime(2025, 12, 31), datetime(2026, 12, 31), 5),
    ("yearly", datetime(2024, 1, 1), datetime(2026, 12, 31), 3),
])
def test_periods_between_counts_each_period_once(cycle, start, end, count):
    keys = periods_between(start, end, cycle)
    assert len(keys) == count and len(set(keys)) == count and keys == sorted(keys)
    assert keys[0] == period_key(start, cycle) and keys[-1] == period_key(end, cycle)


def test_on_time_rate_counts_days_with_a_delivery():
    card = score("network_governance", "citizen_appeals", "daily",
                 [batch(20, 100, 1), batch(20, 50, 0, hour=9), batch(22, 100, 2), batch(26, 100, 1)],
                 drift_files=1, expectations_evaluated=40, expectations_passed=39, as_of=datetime(2026, 11, 26, 12))
    assert (card.periods, card.periods_delivered) == (7, 3)  # the 20th..26th, deliveries on 3 days
    assert card.on_time_rate == pytest.approx(3 / 7)
    assert card.quarantine_rate == pytest.approx(4 / 350)
    assert card.expectation_pass_rate == pytest.approx(39 / 40)
    assert card.batches == 4 and card.drift_files == 1
    assert "on time 42.9% (3/7 daily periods)" in card.describe()


def test_no_batches_scores_nothing_instead_of_dividing_by_zero():
    card = score("d", "r", "daily", [], drift_files=0, expectations_evaluated=0, expectations_passed=0,
                 as_of=datetime(2026, 11, 26))
    assert (card.on_time_rate, card.quarantine_rate, card.expectation_pass_rate) == (None, None, None)
    assert "on time n/a" in card.describe() and card.trend == "steady"


@pytest.mark.parametrize(("rates", "expected"), [
    ([0.02, 0.02, 0.001], "better"), ([0.01, 0.012, 0.05], "worse"), ([0.01, 0.011, 0.012], "steady"),
    ([0.3], "steady"), ([], "steady"),
])
def test_trend_compares_the_last_batch_with_the_ones_before(rates, expected):
    assert trend(rates) == expected


def test_department_dags_run_at_least_daily():
    from jobs.catalog.schedule import dag_cycle

    assert dag_cycle(["yearly"]) == "daily" and dag_cycle(["weekly", "monthly"]) == "daily"
    assert dag_cycle(["daily", "hourly"]) == "hourly" and dag_cycle(["realtime", "yearly"]) == "realtime"
