"""Erasure on request on a real lake: a person (a resident ID and a name) planted in market entities
(`history: scd2`, `tests.support.market_history`) is erased from every zone; once maintenance vacuums, an
independent scan of every file under the lake's home (landing archive, Delta data, change-feed and log
files, published downloads, ops) and of every table version still readable finds none of their values.

The person is the legal representative of entity P, which has three silver versions (days 1-3), and of a day 1
row whose credit code is malformed, so it is quarantined (the ID written with stray spaces and a lower-case x).
A second, `--key` erasure removes entity E, delivered unchanged on all three days. The tests erase from a copy
of the session's market lake, published once, so the lake the history tests read stays as built.
"""

from __future__ import annotations

import gzip
import json
import shutil
import zipfile
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable

from jobs.cli import EXIT_USAGE, main
from jobs.errors import ConfigurationError, ErasureRefused
from jobs.io import delta, ops
from jobs.io.deltars import table_uri
from jobs.publish import layout, site
from jobs.steps import publish
from jobs.steps.erase import erase
from jobs.steps.maintain import maintain
from jobs.steps.publish import zone_store
from tests.support.market_history import DAYS, PERSON_ID, PERSON_NAME, RESOURCE

pytestmark = pytest.mark.spark

ERASED_AT = datetime(2026, 12, 1, 9, 0)


@pytest.fixture(scope="module")
def lake(tmp_path_factory, market_lake):
    """A copy of the market lake (Delta tables, ops tables, landing archive), with its open zone published."""
    home = tmp_path_factory.mktemp("erasure") / "home"
    shutil.copytree(market_lake.settings.home, home)
    settings = replace(market_lake.settings, home=home, pseudonym_key="erasure-test-key")
    store = zone_store(settings, "open")
    if not [d for d in site.load_records(store) if d.name == RESOURCE]:
        publish(RESOURCE, settings=settings, now=datetime(2026, 11, 29, 1, 0))
    return {"settings": settings, "p": market_lake.moved, "e": market_lake.unchanged,
            "e_name": market_lake.unchanged_name, "batches": market_lake.batches}


def silver_keys(spark, settings) -> list[str]:
    return [r.credit_code for r in delta.read(spark, settings.table_path("silver", RESOURCE)).collect()]


def test_requests_that_name_nothing_erasable_are_refused_and_change_nothing(lake, spark, capsys, monkeypatch):
    settings = lake["settings"]
    silver = settings.table_path("silver", RESOURCE)
    before = delta.version(spark, silver)
    with pytest.raises(ErasureRefused, match="no row of market_entities holds the key given"):
        erase(resource=RESOURCE, key="91510100MA0000000X", settings=settings, now=ERASED_AT)
    with pytest.raises(ErasureRefused, match="service_items holds no personal items"):
        erase(resource="service_items", key="A-1", settings=settings, now=ERASED_AT)
    with pytest.raises(ErasureRefused, match="18-character resident ID"):
        erase(resident_id="12345", settings=settings, now=ERASED_AT)
    with pytest.raises(ErasureRefused, match=r"key is \(credit_code\)"):
        erase(resource=RESOURCE, key="a|b", settings=settings, now=ERASED_AT)
    with pytest.raises(ConfigurationError, match="CITYLAKE_PSEUDONYM_KEY"):
        erase(resident_id=PERSON_ID, settings=replace(settings, pseudonym_key=None), now=ERASED_AT)
    monkeypatch.setenv("CITYLAKE_HOME", str(settings.home))
    monkeypatch.setenv("CITYLAKE_PSEUDONYM_KEY", "erasure-test-key")
    assert main(["erase", "--resource", RESOURCE, "--key", "91510100MA0000000X"]) == EXIT_USAGE
    assert "nothing was changed" in capsys.readouterr().err
    assert delta.version(spark, silver) == before
    assert ops.rows(settings, "erasures", ("erasure_id",)) == []
    assert PERSON_ID not in repr(ops.rows(settings, "erasures", ("subject_hash",)))


@pytest.fixture(scope="module")
def erased(lake, spark):
    settings = lake["settings"]
    archive = {p: p.read_bytes() for p in (settings.landing).rglob("archive/*/*.csv")}
    silver = settings.table_path("silver", RESOURCE)
    version_before = delta.version(spark, silver)
    by_id = erase(resident_id=f" {PERSON_ID.lower()}", settings=settings, now=ERASED_AT)
    by_key = erase(resource=RESOURCE, key=lake["e"], settings=settings, now=ERASED_AT + timedelta(minutes=5))
    return {**lake, "archive": archive, "by_id": by_id, "by_key": by_key, "version_before": version_before}


def test_the_person_leaves_every_zone_and_the_open_zone_keeps_no_earlier_version(erased, spark):
    settings, report = erased["settings"], erased["by_id"]
    (done,) = report["resources"]  # the other resources with resident IDs hold no table yet
    rows = done["rows"]
    # bronze: P on each of the three days and Q; silver: P's three versions; quarantine: Q
    assert (rows[f"bronze.{RESOURCE}"], rows[f"silver.{RESOURCE}"], rows[f"quarantine.{RESOURCE}"]) == (4, 3, 1)
    assert erased["p"] not in silver_keys(spark, settings) and erased["e"] not in silver_keys(spark, settings)
    for zone in ("bronze", "quarantine"):
        left = delta.read(spark, settings.table_path(zone, RESOURCE))
        assert left.where(f"upper(trim(legal_rep_id_no)) = '{PERSON_ID}'").count() == 0
    store = zone_store(settings, "open")
    (record,) = [d for d in site.load_records(store) if d.name == RESOURCE]
    assert layout.versions_in(store.list(layout.dataset_prefix(RESOURCE)), RESOURCE) == [record.version]
    assert done["republished"] == "published" and f"open.{RESOURCE} v{record.version - 2}" in done["withdrawn"]
    assert erased["by_key"]["resources"][0]["withdrawn"] == [f"open.{RESOURCE} v{record.version - 1}"]
    latest = store.path(layout.latest_file(RESOURCE, record.code, "CSV")).read_bytes().decode("utf-8-sig")
    assert erased["p"] not in latest and erased["e"] not in latest and erased["e_name"] not in latest
    # the ledger says how many rows of each batch left bronze, each batch still balancing
    erased_rows = ops.erased_rows(settings, RESOURCE)
    assert sum(erased_rows.values()) == 4 + 3 and set(erased_rows) == set(erased["batches"])
    batches = {b.batch_id: b.rows_read for b in ops.ingested_batches(settings, RESOURCE)}
    bronze = delta.read(spark, settings.table_path("bronze", RESOURCE))
    assert {b: bronze.where(f"_batch_id = '{b}'").count() for b in batches} == batches


def test_the_archived_export_keeps_every_other_record_byte_for_byte(erased):
    (before_path, before), = [(p, b) for p, b in erased["archive"].items() if DAYS[0].strftime("%Y%m%d") in p.name]
    after = before_path.read_bytes()
    assert PERSON_ID.encode() not in after and PERSON_NAME.encode("gb18030") not in after
    old_lines, new_lines = before.split(b"\n"), after.split(b"\n")
    assert len(old_lines) == len(new_lines)  # emptied, not removed: bronze's line numbers still hold
    changed = [i for i, (a, b) in enumerate(zip(old_lines, new_lines, strict=True)) if a != b]
    assert len(changed) == 3 and all(new_lines[i] in (b"", b"\r") for i in changed)


def test_history_records_the_erasure_and_the_request_only_as_a_hash(erased, spark, capsys, monkeypatch):
    settings = erased["settings"]
    entries = ops.rows(settings, "erasures", ("erasure_id", "subject", "subject_hash", "status", "purge_after"))
    assert sorted((e["subject"], e["status"]) for e in entries) == [
        ("key", "done"), ("key", "started"), ("resident_id", "done"), ("resident_id", "started")]
    assert erased["by_id"]["subject_hash"] in {e["subject_hash"] for e in entries}
    table = DeltaTable(table_uri(settings.table_path("ops", "erasures"))).to_pyarrow_table()
    assert PERSON_ID not in json.dumps(table.to_pylist(), default=str)
    assert erased["by_id"]["purge_after"] == (ERASED_AT + timedelta(hours=settings.vacuum_retain_hours)).isoformat()
    monkeypatch.setenv("CITYLAKE_HOME", str(settings.home))
    assert main(["history", f"silver.{RESOURCE}", "--json"]) == 0
    deletes = [c for c in json.loads(capsys.readouterr().out) if c["step"] == "erase"]
    assert [c["operation"] for c in deletes] == ["DELETE", "DELETE"]
    assert deletes[1]["batch"] == erased["by_id"]["erasure_id"] and deletes[1]["rows_removed"] == 3
    # until the retention passes, time travel still reads the person: that is what purge_after says
    old = spark.read.format("delta").option("versionAsOf", erased["version_before"]).load(
        settings.table_path("silver", RESOURCE))
    assert old.where(f"credit_code = '{erased['p']}'").count() == 3
    # the same request again finds nothing: exactly once
    with pytest.raises(ErasureRefused, match="holds the resident ID given"):
        erase(resident_id=PERSON_ID, settings=settings, now=ERASED_AT + timedelta(hours=1))


def needles(erased) -> dict[str, str]:
    return {"resident ID": PERSON_ID, "name": PERSON_NAME, "P's credit code": erased["p"],
            "E's credit code": erased["e"], "E's name": erased["e_name"]}


def residue(root: Path, wanted: dict[str, str]) -> list[str]:
    """Every file under `root` that holds one of the values: Parquet read column by column, gzip opened,
    XLSX unzipped, text decoded as UTF-8 or GB18030."""
    found = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        data = path.read_bytes()
        if path.suffix == ".parquet":
            text = json.dumps(pq.read_table(path).to_pylist(), ensure_ascii=False, default=str)
        elif path.suffix == ".xlsx":
            with zipfile.ZipFile(path) as z:
                text = "".join(z.read(n).decode("utf-8", "replace") for n in z.namelist())
        else:
            if data[:2] == b"\x1f\x8b":
                data = gzip.decompress(data)
            text = data.decode("utf-8", "replace") + data.decode("gb18030", "replace")
        found += [f"{path.relative_to(root)}: {what}" for what, value in wanted.items() if value in text]
    return found


def test_after_the_vacuum_no_file_and_no_table_version_holds_them(erased, catalog):
    settings = erased["settings"]
    assert residue(settings.home, needles(erased)), "the scan must see the rows before the vacuum"
    purged = replace(settings, time_travel_days=0, vacuum_retain_hours=0)
    maintain(RESOURCE, settings=purged)
    maintain("ops", settings=purged)
    assert residue(settings.home, needles(erased)) == []
    for zone in ("bronze", "audit", "silver", "quarantine", "open"):
        location = Path(settings.table_path(zone, RESOURCE))
        if not location.exists():
            continue
        table = DeltaTable(table_uri(str(location)))
        for commit in table.history():
            try:
                table.load_as_version(commit["version"])
                rows = table.to_pyarrow_table().to_pylist()
            except Exception:  # noqa: BLE001 - a version whose log or files are gone returns nothing
                continue
            assert not [k for k, v in needles(erased).items() if v in json.dumps(rows, ensure_ascii=False,
                                                                               default=str)]
