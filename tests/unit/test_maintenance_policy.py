"""The retention rule of maintenance: VACUUM never deletes what the time-travel window promises."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobs.errors import ConfigurationError
from jobs.io.maintenance import check_retention
from jobs.settings import Settings, load_settings


def settings(days: int, hours: int) -> Settings:
    return Settings(home=Path("/nonexistent"), time_travel_days=days, vacuum_retain_hours=hours)


@pytest.mark.parametrize(("days", "hours"), [(7, 168), (0, 0), (1, 24), (30, 24 * 30), (7, 1000)])
def test_a_retention_at_least_the_window_is_used(days, hours):
    assert check_retention(settings(days, hours)) == hours


@pytest.mark.parametrize(("days", "hours", "message"), [
    (7, 167, "shorter than the time-travel window CITYLAKE_TIME_TRAVEL_DAYS=7 \\(168 h\\)"),
    (1, 0, "VACUUM would delete the files of versions analysts were promised"),
    (31, 24 * 31, "longer than the 30 days a table's log is kept"),
    (-1, 0, "must not be negative"),
])
def test_a_retention_below_the_window_is_refused(days, hours, message):
    with pytest.raises(ConfigurationError, match=message):
        check_retention(settings(days, hours))


def test_the_environment_sets_both():
    loaded = load_settings({"CITYLAKE_HOME": "/tmp/x", "CITYLAKE_TIME_TRAVEL_DAYS": "3",
                            "CITYLAKE_VACUUM_RETAIN_HOURS": "100"})
    assert (loaded.time_travel_days, loaded.vacuum_retain_hours) == (3, 100)
    assert (Settings(home=Path("/x")).time_travel_days, Settings(home=Path("/x")).vacuum_retain_hours) == (7, 168)
