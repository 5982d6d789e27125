"""Progress shows at a terminal only: logs, pipes and the JSON a command prints stay as they were."""

from __future__ import annotations

import io

import pytest

from jobs.progress import progress, wanted


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_nothing_is_written_when_the_stream_is_not_a_terminal():
    plain = io.StringIO()
    with progress("publish x", total=10, unit="rows", stream=plain) as advance:
        advance(10)
    assert plain.getvalue() == "" and not wanted(plain)


def test_a_terminal_gets_a_bar_with_counts_and_elapsed_time(monkeypatch):
    monkeypatch.delenv("CITYLAKE_PROGRESS", raising=False)
    screen = Terminal()
    with progress("ingest citizen_appeals", total=3, unit="files", stream=screen) as advance:
        for _ in range(3):
            advance(1)
    shown = screen.getvalue()
    assert "ingest citizen_appeals" in shown and "3/3" in shown and "files" in shown and "0:00:0" in shown
    counted = Terminal()
    with progress("x.csv", unit="rows", stream=counted) as advance:  # no total: a running count
        advance(1_500)
    assert "1,500 rows" in counted.getvalue()


def test_citylake_progress_off_silences_a_terminal(monkeypatch):
    monkeypatch.setenv("CITYLAKE_PROGRESS", "off")
    screen = Terminal()
    with progress("demo", stream=screen) as advance:
        advance(1)
    assert screen.getvalue() == "" and not wanted(screen)


def test_help_is_rendered_by_rich_argparse(capsys):
    from jobs.cli import main

    with pytest.raises(SystemExit) as done:
        main(["summary", "--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert "--json" in out and "quarantine_reasons" in out and "Usage:" in out  # rich-argparse's heading
