"""Replay on a real lake: after a rule fix, a bronze batch is judged again under the catalog as it is now,
as its own batch in the ledger, exactly once; the replay supersedes the original in silver and quarantine.

The appeals entry first refuses the channel APP; the fix accepts APP again and refuses status 已回访. The
replay brings the APP rows into silver, takes the 已回访 rows out, and re-judges the original's quarantine.
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from datetime import date, datetime

import pytest
from pyspark.sql import functions as F

from jobs.catalog import load_catalog
from jobs.errors import NotReady
from jobs.io import delta, ops
from jobs.sample.generator import write_export
from jobs.settings import BUILTIN_CATALOG
from jobs.steps import conform, ingest, validate
from jobs.steps.replay import replay

pytestmark = pytest.mark.spark

RESOURCE = "citizen_appeals"
DAY = date(2026, 11, 26)
NOW = datetime(2026, 11, 27, 1, 0)
ROWS = 60
CHANNELS = "[12345热线, 网站, 微信, APP, 市长信箱]"
STATUSES = "[已受理, 办理中, 已办结, 已回访]"


@pytest.fixture(scope="module")
def fixed(tmp_path_factory, spark, settings_for):
    """A batch judged under an entry refusing APP, then the entry fixed (APP accepted, 已回访 refused)."""
    root = tmp_path_factory.mktemp("replay")
    schemas = root / "schemas"
    shutil.copytree(BUILTIN_CATALOG, schemas)
    entry = schemas / "network_governance" / f"{RESOURCE}.yaml"
    text = entry.read_text(encoding="utf-8")
    assert CHANNELS in text and STATUSES in text
    entry.write_text(text.replace(f"in_set, values: {CHANNELS}", "in_set, values: [12345热线, 网站, 微信, 市长信箱]"),
                     encoding="utf-8")
    settings = replace(settings_for(root / "home"), catalog_dirs=(schemas,))
    res = load_catalog([schemas]).resource(RESOURCE)
    write_export(res, settings.landing, day=DAY, rows=ROWS, defect_rate=0)
    (batch,) = [o["batch_id"] for o in ingest(RESOURCE, settings=settings, now=NOW)]
    conform(RESOURCE, settings=settings, now=NOW)
    validate(RESOURCE, settings=settings, now=NOW)
    silver = settings.table_path("silver", RESOURCE)
    before = {r.appeal_id: (r.channel, r.status) for r in delta.read(spark, settings.table_path("bronze", RESOURCE))
              .select("appeal_id", "channel", "status").collect()}
    assert "APP" in {c for c, _ in before.values()}
    assert delta.read(spark, silver).where("channel = 'APP'").count() == 0
    entry.write_text(text.replace(f"in_set, values: {STATUSES}", "in_set, values: [已受理, 办理中, 已办结]"),
                     encoding="utf-8")
    outcome = replay(RESOURCE, settings=settings, now=datetime(2026, 12, 1, 9, 0))
    return settings, batch, before, outcome


def test_the_replay_is_its_own_balanced_batch_in_the_ledger(fixed, spark):
    settings, batch, before, outcome = fixed
    (done,) = outcome
    assert done["batch_id"] == batch and done["replay"].startswith(f"{batch}-r") and done["status"] == "replayed"
    refused = sum(1 for _, status in before.values() if status == "已回访")
    assert (done["rows_read"], done["rows_accepted"], done["rows_quarantined"]) == (ROWS, ROWS - refused, refused)
    steps = {r.step: r for r in ops.read(spark, settings, "ledger", RESOURCE).collect() if r.batch_id == done["replay"]}
    assert steps["conform"].rows_read == steps["conform"].rows_accepted + steps["conform"].rows_quarantined == ROWS
    assert f"a replay of batch {batch}" in steps["conform"].detail
    assert steps["validate"].status == "ok" and steps["validate"].rows_accepted == ROWS - refused
    assert f"replay of batch {batch}: {sum(1 for c, s in before.values() if s == '已回访' and c != 'APP')} of its " \
           "row(s) now rejected left silver" in steps["validate"].detail, steps["validate"].detail


def test_silver_holds_what_the_fixed_entry_accepts(fixed, spark):
    settings, _, before, outcome = fixed
    silver = {r.appeal_id: (r.channel, r.status, r._batch_id) for r in
              delta.read(spark, settings.table_path("silver", RESOURCE)).collect()}
    assert set(silver) == {k for k, (_, status) in before.items() if status != "已回访"}
    assert {c for c, _, _ in silver.values()} >= {"APP"}
    assert {b for _, _, b in silver.values()} == {outcome[0]["replay"]}


def test_the_original_quarantine_is_re_judged_and_the_replay_s_is_open(fixed, spark):
    settings, batch, before, outcome = fixed
    quarantine = delta.read(spark, settings.table_path("quarantine", RESOURCE))
    original = quarantine.where(F.col("_batch_id") == batch).collect()
    assert original and {r._corrected_by_batch for r in original} == {outcome[0]["replay"]}
    assert len(original) == sum(1 for c, _ in before.values() if c == "APP")
    replayed = quarantine.where(F.col("_batch_id") == outcome[0]["replay"]).collect()
    assert {r._corrected_by_batch for r in replayed} == {None}
    assert {r.status for r in replayed} == {"已回访"}


def test_replaying_again_under_the_same_catalog_changes_nothing(fixed, spark):
    settings, batch, _, outcome = fixed
    tables = {z: settings.table_path(z, RESOURCE) for z in ("silver", "quarantine", "audit")}
    versions = {z: delta.version(spark, p) for z, p in tables.items()}
    ledger = ops.read(spark, settings, "ledger", RESOURCE).count()
    again = replay(RESOURCE, settings=settings, now=datetime(2026, 12, 2, 9, 0))
    assert again == [{"batch_id": batch, "replay": outcome[0]["replay"], "status": "done before"}]
    assert {z: delta.version(spark, p) for z, p in tables.items()} == versions
    assert ops.read(spark, settings, "ledger", RESOURCE).count() == ledger
    with pytest.raises(NotReady, match=f"{RESOURCE}: no ingested batch since 2026-12-01"):
        replay(RESOURCE, since=date(2026, 12, 1), settings=settings)
