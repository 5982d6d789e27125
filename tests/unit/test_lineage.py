"""Dataset identities of the lineage events: the same table is the same dataset in every event."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobs.catalog.lineage import DatasetId, dataset_id, landing_file, published_tables, step_io
from jobs.settings import Settings


@pytest.mark.parametrize(("location", "expected"), [
    ("s3a://citylake-lake/lake/silver/citizen_appeals", DatasetId("s3://citylake-lake", "lake/silver/citizen_appeals")),
    ("s3://landing/departments/a/b.csv", DatasetId("s3://landing", "departments/a/b.csv")),
    ("/srv/lake/bronze/t", DatasetId("file", "/srv/lake/bronze/t")),
    ("file:///srv/lake/bronze/t", DatasetId("file", "/srv/lake/bronze/t")),
])
def test_dataset_id_follows_openlineage_naming(location, expected):
    assert dataset_id(location) == expected


def test_s3a_and_s3_name_the_same_object():
    assert dataset_id("s3a://b/k/t") == dataset_id("s3://b/k/t")


def test_landing_file_is_relative_to_the_landing_root(tmp_path):
    local = Settings(home=tmp_path)
    assert landing_file(local, "network_governance/citizen_appeals/x.csv") == DatasetId(
        "file", f"{tmp_path}/landing/network_governance/citizen_appeals/x.csv")
    s3 = Settings(home=tmp_path, landing_location="s3://landing/departments/")
    assert landing_file(s3, "a/b/x.csv") == DatasetId("s3://landing", "departments/a/b/x.csv")


def test_each_step_reads_what_the_previous_one_wrote(catalog, tmp_path):
    settings = Settings(home=tmp_path, lake_location="s3a://lake/lake")
    res = catalog.resource("citizen_appeals")
    io = {step: step_io(settings, res, step) for step in ("ingest", "conform", "validate", "publish")}
    assert io["ingest"][0] == []  # landing files are added by the task once it has read them
    for before, after in (("ingest", "conform"), ("conform", "validate"), ("validate", "publish")):
        assert set(io[after][0]) <= set(io[before][1]), (before, after)
    assert {d.name for d in io["publish"][1]} == {"lake/open/citizen_appeals", "lake/open/citizen_appeals_monthly"}


def test_publish_writes_by_open_type(catalog):
    assert published_tables(catalog.resource("leader_instructions")) == []  # 不予开放
    assert published_tables(catalog.resource("service_usage_log")) == ["restricted.service_usage_log",
                                                                      "restricted.service_usage_log_daily"]
    with pytest.raises(ValueError, match="unknown step"):
        step_io(Settings(home=Path("/x")), catalog.resource("citizen_appeals"), "load")
