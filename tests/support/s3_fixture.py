"""The ``s3_server`` session fixture: one real S3-compatible server (SeaweedFS) for the whole test session.

Registered for every test by ``tests/conftest.py`` (``pytest_plugins``); the server only starts when a
test asks for ``s3_server``, so a run without S3 tests never builds or starts it.

The ``weed`` binary is built once per machine into the user's cache (``$XDG_CACHE_HOME/citylake/tools``,
default ``~/.cache/citylake/tools``), named by its pinned version, so every clone and every session reuse it
as pip and Maven reuse their caches (the first build takes minutes); ``CITYLAKE_TOOLS`` names another
folder. The server's data and log live in a pytest temporary folder, so a failed run can be inspected there.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from .s3server import S3Server, ensure_weed

TOOLS_DIR = Path(os.environ.get("CITYLAKE_TOOLS") or
                 Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "citylake" / "tools")


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """A started ``S3Server`` on loopback with a per-session access key; stopped when the session ends.

    A graceful SeaweedFS stop takes from 0.5 s to over 10 s (its volume server waits up to 30 s for
    connections it still counts as active), and the data is thrown away anyway, so the session ends it
    with SIGKILL after 3 s rather than the class default of 10 s.
    """
    binary = ensure_weed(TOOLS_DIR)
    with S3Server(binary, tmp_path_factory.mktemp("s3-server"), stop_timeout=3.0) as server:
        yield server
