"""Progress of long work for a person at a terminal, and nothing at all anywhere else.

A publish of a million rows or a demo of fourteen DAG runs is minutes of silence otherwise. The bars go to
stderr and only when it is a terminal, so Airflow task logs, step-server logs, pipes and the JSON a command
prints on stdout stay exactly as they were; `CITYLAKE_PROGRESS=off` silences a terminal too.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

Advance = Callable[[int], None]


def wanted(stream: TextIO | None = None) -> bool:
    """Whether progress would be shown on `stream` (stderr by default)."""
    from jobs.settings import progress_allowed

    stream = stream if stream is not None else sys.stderr
    return progress_allowed() and bool(getattr(stream, "isatty", None)) and stream.isatty()


def _nothing(_: int = 1) -> None:
    return None


@contextmanager
def progress(description: str, total: int | None = None, *, unit: str = "", stream: TextIO | None = None,
             transient: bool = False) -> Iterator[Advance]:
    """A bar (or, without `total`, a spinner) with the elapsed time; yields `advance(n)`. Does nothing when
    `stream` (stderr) is not a terminal."""
    stream = stream if stream is not None else sys.stderr
    if not wanted(stream):
        yield _nothing
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    columns = [SpinnerColumn(), TextColumn("{task.description}")]
    if total is not None:
        columns += [BarColumn(), MofNCompleteColumn(), TextColumn(unit)]
    elif unit:
        columns.append(TextColumn(f"{{task.completed:,.0f}} {unit}"))
    columns.append(TimeElapsedColumn())
    with Progress(*columns, console=Console(file=stream), transient=transient) as bar:
        task = bar.add_task(description, total=total)

        def advance(n: int = 1) -> None:
            bar.advance(task, n)

        yield advance
