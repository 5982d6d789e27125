"""Schema drift: the header compared with the catalog, the three policies and the report."""

from __future__ import annotations

from dataclasses import replace

import pyarrow.parquet as pq
import pytest

from jobs.catalog.drift import bronze_column_for, plan_columns
from jobs.errors import SchemaMismatch
from jobs.io.exports import stage_csv


def titles(res) -> list[str]:
    return [i.title for i in res.items]


def with_policy(res, policy: str):
    return replace(res, source=replace(res.source, drift=policy))


def test_matching_header_in_any_order_has_no_drift(appeals):
    header = list(reversed(titles(appeals)))
    plan = plan_columns(header, appeals, "a.csv")
    assert not plan.report.drifted and plan.extra == ()
    record = [f"v{k}" for k in range(len(header))]
    values, extras = plan.split(record)
    assert values[0] == record[len(header) - 1] and extras == {}


def test_freeze_rejects_added_and_missing_columns_naming_them(appeals):
    header = titles(appeals)[1:] + ["投诉人邮箱"]
    with pytest.raises(SchemaMismatch) as exc:
        plan_columns(header, appeals, "landing/x.csv")
    message = str(exc.value)
    assert message.startswith("file landing/x.csv, line 1: ")
    assert "added: 投诉人邮箱" in message and "missing: 工单编号" in message and "drift policy is freeze" in message
    assert exc.value.drift.added == ("投诉人邮箱",)


def test_rescue_keeps_unknown_columns_and_nulls_missing_ones(appeals):
    header = [t for t in titles(appeals) if t != "满意度"] + ["投诉人邮箱"]
    plan = plan_columns(header, with_policy(appeals, "rescue"), "x.csv")
    assert plan.report.added == ("投诉人邮箱",) and plan.report.missing == ("满意度",)
    values, extras = plan.split([f"v{k}" for k in range(len(header))])
    assert values[[i.name for i in appeals.items].index("satisfaction")] is None
    assert extras == {"投诉人邮箱": f"v{len(header) - 1}"}
    assert plan.evolved == ()


def test_evolve_names_the_new_bronze_columns(appeals):
    plan = plan_columns(titles(appeals) + ["备注 (内部)"], with_policy(appeals, "evolve"), "x.csv")
    assert plan.evolved == ("备注 (内部)",)
    assert bronze_column_for("备注 (内部)") == "备注__内部_"


def test_renamed_looking_columns_are_paired(appeals):
    header = ["工单号" if t == "工单编号" else t for t in titles(appeals)]
    report = plan_columns(header, with_policy(appeals, "rescue"), "x.csv").report
    assert report.renamed == (("工单编号", "工单号"),)


def test_repeated_column_is_rejected_under_every_policy(appeals):
    header = titles(appeals) + ["受理渠道"]
    with pytest.raises(SchemaMismatch, match="repeated columns: 受理渠道"):
        plan_columns(header, with_policy(appeals, "evolve"), "x.csv")


def test_retyped_column_is_reported(tmp_path, appeals):
    res = with_policy(appeals, "rescue")
    header = titles(res)
    rows = [",".join("很满意" if t == "满意度" else f"GD20261126{k:08d}" if t == "工单编号" else "x" for t in header)
            for k in range(30)]
    (tmp_path / "r.csv").write_text("\n".join([",".join(header), *rows]) + "\n", encoding="utf-8")
    staged = stage_csv(tmp_path / "r.csv", res, tmp_path / "r.parquet")
    assert ("满意度", "integer", 1.0) in staged.drift.retyped
    assert "满意度 (100% not integer)" in staged.drift.describe()
    assert pq.read_table(staged.path).num_rows == 30
