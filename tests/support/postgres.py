"""A private PostgreSQL server for the production tests: Debian's package, a fresh cluster in a temporary
folder, listening on a free loopback port, stopped at the end.

PostgreSQL refuses to run as root, so the cluster belongs to the `postgres` system user the package
creates; the tests talk to it over TCP with a per-run password. Nothing is assumed to be running: when
the binaries are missing and we are root, the Debian package is installed first.
"""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

APT_TIMEOUT = 900


class PostgresUnavailable(RuntimeError):
    """PostgreSQL is missing and cannot be installed, or the server did not start."""


def _bin_dir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


def ensure_postgres() -> Path:
    """The folder of initdb / pg_ctl, installing Debian's `postgresql` package as root when absent."""
    found = _bin_dir()
    if found:
        return found
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise PostgresUnavailable("PostgreSQL is not installed; install it with: apt-get install -y postgresql")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for args in (["update"], ["install", "-y", "postgresql"]):
        done = subprocess.run(["apt-get", *args], env=env, capture_output=True, text=True, timeout=APT_TIMEOUT,
                              check=False, stdin=subprocess.DEVNULL)
        if done.returncode != 0:
            raise PostgresUnavailable(f"apt-get {' '.join(args)} failed: {done.stderr[-2000:]}")
    found = _bin_dir()
    if not found:
        raise PostgresUnavailable("postgresql installed but initdb not found under /usr/lib/postgresql")
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PostgresServer:
    """One cluster: `start()`, `create_database(name)`, `url(name)`, `stop()`."""

    def __init__(self, folder: Path):
        self.bin = ensure_postgres()
        self.folder = folder
        self.data = folder / "data"
        self.port = free_port()
        self.password = secrets.token_urlsafe(16)
        self.user = "citylake"

    def _as_postgres(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        cmd = list(args)
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(cmd, capture_output=True, text=True, check=check, timeout=120)

    def start(self) -> PostgresServer:
        self.folder.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres", "postgres")
        pwfile = self.folder / "pw"
        pwfile.write_text(self.password + "\n", encoding="utf-8")
        if os.geteuid() == 0:
            shutil.chown(pwfile, "postgres", "postgres")
        self._as_postgres(str(self.bin / "initdb"), "-D", str(self.data), "-U", self.user, "--pwfile", str(pwfile),
                          "-A", "scram-sha-256", "-E", "UTF8", "--locale", "C.UTF-8")
        pwfile.unlink()
        done = self._as_postgres(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.folder / "log"),
                                 "-w", "-t", "60", "-o", f"-p {self.port} -h 127.0.0.1 -k {self.folder}", "start",
                                 check=False)
        if done.returncode != 0:
            log = (self.folder / "log").read_text(errors="replace")[-3000:] if (self.folder / "log").exists() else ""
            raise PostgresUnavailable(f"pg_ctl start failed: {done.stderr}\n{log}")
        return self

    def url(self, database: str, driver: str = "postgresql+psycopg2") -> str:
        return f"{driver}://{self.user}:{self.password}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        import psycopg2

        conn = psycopg2.connect(host="127.0.0.1", port=self.port, user=self.user, password=self.password,
                                dbname="postgres")
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"')
        conn.close()
        return self.url(name)

    def stop(self) -> None:
        self._as_postgres(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop", check=False)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A started server; its cluster lives in its own /tmp folder (pytest's tree is private to root, and
    the server runs as the `postgres` user), removed at the end."""
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="citylake-pg-"))
    os.chmod(folder, 0o755)
    server = PostgresServer(folder / "cluster").start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)
