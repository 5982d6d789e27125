"""The ``s3_server`` session fixture: one real S3-compatible server (SeaweedFS) for the whole test session.

Registered for every test by ``tests/conftest.py`` (``pytest_plugins``); the server only starts when a
test asks for ``s3_server``, so a run without S3 tests never builds or starts it.

The ``weed`` binary is built once into ``<repo>/.tools`` (git-ignored; the first build takes minutes, later
sessions reuse it); the server's data and log live in a pytest temporary folder, so a failed run can be
inspected there.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .s3server import S3Server, ensure_weed

REPO_ROOT = Path(__file__).resolve().parents[2]
TOOLS_DIR = REPO_ROOT / ".tools"


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
