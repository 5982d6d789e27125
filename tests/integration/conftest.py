"""Lakes more than one integration module reads, built once per test session."""

from __future__ import annotations

import pytest

from tests.support import market_history


@pytest.fixture(scope="session")
def market_lake(tmp_path_factory, spark, catalog, settings_for) -> market_history.HistoryLake:
    """Market entities over three days (`tests.support.market_history`). Read it; copy it to change it."""
    settings = settings_for(tmp_path_factory.mktemp("history") / "home")
    return market_history.build(catalog.resource(market_history.RESOURCE), settings)
