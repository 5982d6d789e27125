"""Look for secret values in everything a run leaves behind (task logs, daemon logs, Spark work dirs)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path


def find_secrets(folders: Iterable[Path], secrets: Mapping[str, str], *, skip: Iterable[Path] = ()) -> list[str]:
    """`<file>: <secret name>` for every file under `folders` that contains a secret's value verbatim.

    Binary files are read too (a secret in a jar or a Delta checkpoint is as leaked as in a log);
    `skip` lists files that hold secrets by design (e.g. the test's own password file).
    """
    wanted = {name: value.encode("utf-8") for name, value in secrets.items() if value}
    skipped = {p.resolve() for p in skip}
    hits = []
    for folder in folders:
        for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.resolve() not in skipped):
            data = path.read_bytes()
            hits += [f"{path}: {name}" for name, value in wanted.items() if value in data]
    return hits
