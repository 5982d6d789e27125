"""Which landing files are complete: markers, quiet periods, gzip names (local folder, no Spark)."""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from jobs.io.landing import LocalLanding


def test_marker_and_quiet_rules(tmp_path, appeals):
    landing = LocalLanding(tmp_path)
    folder = tmp_path / appeals.provider / appeals.name
    folder.mkdir(parents=True)
    for name in ("citizen_appeals_1.csv", "citizen_appeals_2.csv.gz", "other.csv", "citizen_appeals_3.csv"):
        (folder / name).write_text("x", encoding="utf-8")
    (folder / "citizen_appeals_1.csv.ok").touch()
    (folder / "citizen_appeals_2.csv.gz.ok").touch()
    assert [f.name for f in landing.pending(appeals)] == ["citizen_appeals_1.csv", "citizen_appeals_2.csv.gz"]
    assert [f.name for f in landing.incomplete(appeals)] == ["citizen_appeals_3.csv"]

    quiet = replace(appeals, source=replace(appeals.source, ready="quiet", quiet_seconds=300))
    now = datetime.now(UTC)
    old = (now - timedelta(seconds=600)).timestamp()
    os.utime(folder / "citizen_appeals_3.csv", (old, old))
    assert [f.name for f in landing.pending(quiet, now)] == ["citizen_appeals_3.csv"]
    assert sorted(f.name for f in landing.incomplete(quiet, now)) == ["citizen_appeals_1.csv",
                                                                     "citizen_appeals_2.csv.gz"]
