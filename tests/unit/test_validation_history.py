"""The per-resource validation history page: newest first, re-runs replace, failures and links shown."""

from jobs.transforms.validation_history import HistoryEntry, add_entry, render_resource_page, render_resources_index


def entry(run_name: str, run_time: str, *, errors: int = 0, warnings: int = 0, page: str = "") -> HistoryEntry:
    return HistoryEntry(run_name=run_name, run_time=run_time, batch=f"b-{run_name}", success=not errors,
                        evaluated=20, failed_errors=errors, failed_warnings=warnings, page=page,
                        failures=("expect_column_values_to_not_be_null(appeal_id) → 3",) if errors else ())


def test_entries_are_kept_newest_first_and_a_rerun_replaces_its_entry():
    history: list[HistoryEntry] = []
    history = add_entry(history, entry("r1", "2026-11-25T01:00:00+00:00"))
    history = add_entry(history, entry("r3", "2026-11-27T01:00:00+00:00"))
    history = add_entry(history, entry("r2", "2026-11-26T01:00:00+00:00"))
    assert [e.run_name for e in history] == ["r3", "r2", "r1"]
    history = add_entry(history, entry("r2", "2026-11-26T01:00:00+00:00", errors=1))
    assert [e.run_name for e in history] == ["r3", "r2", "r1"]
    assert history[1].failed_errors == 1


def test_json_round_trip_keeps_failures():
    e = entry("r1", "2026-11-25T01:00:00+00:00", errors=2)
    assert HistoryEntry.from_json(e.to_json()) == e


def test_page_shows_every_run_with_status_link_and_failed_expectations():
    history = [
        entry("citizen_appeals-b2", "2026-11-27T01:00:00+00:00", errors=1, page="validations/x/b2.html"),
        entry("citizen_appeals-b1", "2026-11-26T01:00:00+00:00", warnings=2),
    ]
    page = render_resource_page("citizen_appeals", "市民诉求工单", history)
    assert "市民诉求工单" in page and "batches validated: 2" in page and "pass rate: 50.0%" in page
    assert '<a href="../validations/x/b2.html">citizen_appeals-b2</a>' in page
    assert page.index("citizen_appeals-b2") < page.index("citizen_appeals-b1")
    assert "未通过 failed" in page and "有警告 warnings" in page
    assert "expect_column_values_to_not_be_null(appeal_id) → 3" in page


def test_values_are_escaped():
    page = render_resource_page("<s>", "<b>标题</b>", [entry("<run>", "2026-11-26T01:00:00+00:00")])
    assert "<b>标题</b>" not in page and "&lt;b&gt;标题&lt;/b&gt;" in page and "&lt;run&gt;" in page


def test_index_links_each_resource_with_its_latest_result():
    page = render_resources_index({
        "market_entities": ("市场主体", entry("m1", "2026-11-26T01:00:00+00:00", errors=1)),
        "citizen_appeals": ("市民诉求工单", None),
    })
    assert page.index("citizen_appeals.html") < page.index("market_entities.html")
    assert "未通过 failed" in page and "市场主体" in page
