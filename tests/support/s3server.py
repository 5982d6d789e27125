"""A real S3-compatible server (SeaweedFS) on loopback, built from source and run by the tests themselves.

Why SeaweedFS, built here: the storage layer must be tested against a real S3 implementation (signing,
multipart, pagination, copy), not a mock, and this machine can reach only the Go module proxy, PyPI,
Maven Central and Debian packages. SeaweedFS is Apache-2.0, is a Go module, and its ``weed`` binary is
built from the pinned module source with the local Go toolchain. ``go install module/weed@version`` is
refused because the module's go.mod has ``replace`` directives, so the source is copied out of the
(read-only) module cache and built there as the main module.

One ``weed mini`` process (SeaweedFS's single-process mode for development) holds master, volume server,
filer and S3 gateway, with WebDAV, the admin web UI, Iceberg/Lance catalogues and the IAM API switched off.
It idles at ~150 MB RSS (~115 MB of it the mapped binary, ~35 MB heap) and ~0 CPU. ``weed server -s3``
runs fewer components at the same memory and CPU, but accepts writes only ~10 s after start (allocation
hold, filer lock ring) and needs ~17 s to shut down, where mini takes ~4 s and usually ~1 s. Every run gets a
fresh data directory, free loopback ports and a newly generated access key, so runs never share state,
and requests must be SigV4-signed with that key.

Example::

    binary = ensure_weed(repo / ".tools")
    with S3Server(binary, tmp_dir) as server:
        server.client().create_bucket(Bucket="lake")
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import json
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

import boto3
from botocore import UNSIGNED
from botocore.client import BaseClient
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

log = logging.getLogger(__name__)

WEED_MODULE = "github.com/seaweedfs/seaweedfs"
WEED_VERSION = "v0.0.0-20261109003541-7506e5f91cd6"
# The commit part of the pseudo-version names the binary, so a version bump builds a new one.
WEED_SHORT_VERSION = WEED_VERSION.rsplit("-", 1)[-1]

# Measured on 2 cores with cold Go caches (module downloads included): about 4 minutes, ~4 GB in the
# Go module and build caches; with warm caches a rebuild takes ~10 s (mostly linking).
_FIRST_BUILD_MINUTES = 4
_BUILD_TIMEOUT_S = 45 * 60
# -trimpath keeps the compile cache keys independent of the temporary source path, so a rebuild from a
# fresh copy reuses the cache; -s -w drops debug info (the binary is still ~160 MB).
_GO_BUILD_ARGS = ["build", "-trimpath", "-ldflags=-s -w"]
_OUTPUT_TAIL_LINES = 40


class WeedBuildError(RuntimeError):
    """Raised when the SeaweedFS ``weed`` binary cannot be downloaded or built from the Go module proxy."""


class S3ServerError(RuntimeError):
    """Raised when the S3 server process exits early or does not answer signed requests in time."""


def ensure_weed(tools_dir: Path) -> Path:
    """Return the pinned ``weed`` binary under ``tools_dir``, building it once when it is missing.

    The build writes to a temporary name and renames it into place, so a half-written binary is never
    used; an ``fcntl`` lock makes a second process (e.g. a parallel test run) wait for the first build
    instead of starting its own.

    Args:
        tools_dir: folder for built tools (git-ignored), created when missing.

    Returns:
        ``tools_dir / f"weed-{WEED_SHORT_VERSION}"``, an executable file.

    Raises:
        WeedBuildError: ``go`` is missing, or downloading or building the module fails (the message
            names the module, the version and the tail of the go output).
    """
    binary = tools_dir.resolve() / f"weed-{WEED_SHORT_VERSION}"
    if _is_executable(binary):
        return binary
    tools_dir.mkdir(parents=True, exist_ok=True)
    with open(tools_dir / f".weed-{WEED_SHORT_VERSION}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not _is_executable(binary):  # another process may have built it while we waited
                _build_weed(binary)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return binary


def _is_executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def _build_weed(binary: Path) -> None:
    go = shutil.which("go")
    if go is None:
        raise WeedBuildError(f"cannot build {WEED_MODULE}/weed@{WEED_VERSION}: no `go` on PATH")
    log.warning(
        "building %s/weed@%s into %s; the first build takes about %d minutes "
        "(later ones ~10 s while the Go caches are warm)",
        WEED_MODULE, WEED_VERSION, binary, _FIRST_BUILD_MINUTES,
    )
    started = time.monotonic()
    env = _go_env()
    module_dir = _download_module(go, env)
    work = Path(tempfile.mkdtemp(prefix=".weed-build-", dir=binary.parent))
    try:
        source = work / "src"
        # The module cache is read-only; the copy must be writable for the go command.
        shutil.copytree(module_dir, source, copy_function=shutil.copyfile)
        for folder, _dirs, _files in os.walk(source):
            os.chmod(folder, 0o755)
        partial = work / binary.name
        _run_go(go, [*_GO_BUILD_ARGS, "-o", str(partial), "./weed"], cwd=source, env=env, what="build")
        os.replace(partial, binary)  # same filesystem: atomic
    finally:
        shutil.rmtree(work, ignore_errors=True)
    log.warning("built %s in %.0f s", binary, time.monotonic() - started)


def _go_env() -> dict[str, str]:
    env = dict(os.environ)
    # -mod=readonly: build exactly the pinned go.sum; -buildvcs=false: the copy lives inside this
    # repository's git work tree, whose status must not be stamped into the binary.
    env["GOFLAGS"] = "-mod=readonly -buildvcs=false"
    env["CGO_ENABLED"] = "0"  # a static binary, and no C compiler needed
    return env


def _download_module(go: str, env: dict[str, str]) -> Path:
    result = _run_go(go, ["mod", "download", "-json", f"{WEED_MODULE}@{WEED_VERSION}"], cwd=None, env=env,
                     what="download")
    info = json.loads(result)
    return Path(info["Dir"])


def _run_go(go: str, args: list[str], *, cwd: Path | None, env: dict[str, str], what: str) -> str:
    try:
        done = subprocess.run(
            [go, *args], cwd=cwd, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
            timeout=_BUILD_TIMEOUT_S, check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise WeedBuildError(
            f"go {what} of {WEED_MODULE}@{WEED_VERSION} timed out after {_BUILD_TIMEOUT_S} s"
        ) from exc
    if done.returncode != 0:
        output = done.stdout + done.stderr
        tail = "\n".join(output.splitlines()[-_OUTPUT_TAIL_LINES:])
        hint = " (the module needs a newer Go: export GOTOOLCHAIN=go1.27.3)" if "requires go" in output else ""
        raise WeedBuildError(
            f"go {what} of {WEED_MODULE}@{WEED_VERSION} failed (exit {done.returncode}){hint}; output tail:\n{tail}"
        )
    return done.stdout


class S3Server:
    """One ``weed mini`` process on 127.0.0.1 with a fresh data dir and a per-run access key.

    The process runs in its own session, so ``stop()`` can end it and anything it spawned as a group.
    Its log is ``data_dir / "weed.log"``; error messages quote its tail.

    Args:
        binary: the ``weed`` executable (see ``ensure_weed``).
        data_dir: an empty folder owned by this server (volumes, filer store, configs, log).
        startup_timeout: seconds to wait until a signed ``list_buckets`` succeeds.
        stop_timeout: seconds ``stop()`` waits after SIGTERM before it sends SIGKILL.
    """

    region = "us-east-1"

    def __init__(self, binary: Path, data_dir: Path, *, startup_timeout: float = 60.0,
                 stop_timeout: float = 10.0) -> None:
        self.binary = binary.resolve()  # the process runs with cwd=data_dir
        self.data_dir = data_dir.resolve()
        self.log_path = self.data_dir / "weed.log"
        self.startup_timeout = startup_timeout
        self.stop_timeout = stop_timeout
        self.access_key = "CL" + secrets.token_hex(9).upper()
        self.secret_key = secrets.token_urlsafe(30)
        self._ports: dict[str, int] = {}
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint_url(self) -> str:
        """``http://127.0.0.1:<port>`` of the S3 gateway (valid after ``start()``)."""
        return f"http://127.0.0.1:{self._ports['s3']}"

    @property
    def pid(self) -> int | None:
        """Process id of the running server, or None when it is not running."""
        return self._process.pid if self._process is not None else None

    def command(self) -> list[str]:
        """The command line that starts the server (ports are chosen on the first call)."""
        if not self._ports:
            self._ports = _free_ports(["master", "master_grpc", "volume", "volume_grpc", "filer", "filer_grpc",
                                       "s3", "s3_grpc", "admin", "admin_grpc"])
        p = self._ports
        return [
            str(self.binary),
            "-logtostderr",  # the whole log goes to weed.log; glog would otherwise write files into /tmp
            "mini",
            "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
            f"-dir={self.data_dir / 'data'}",
            # Every port is explicit: mini then fails on a taken port instead of silently moving to another,
            # and gRPC ports do not default to http port + 10000 (which overflows for high ephemeral ports).
            f"-master.port={p['master']}", f"-master.port.grpc={p['master_grpc']}",
            f"-volume.port={p['volume']}", f"-volume.port.grpc={p['volume_grpc']}",
            f"-filer.port={p['filer']}", f"-filer.port.grpc={p['filer_grpc']}",
            f"-s3.port={p['s3']}", f"-s3.port.grpc={p['s3_grpc']}",
            f"-admin.port={p['admin']}", f"-admin.port.grpc={p['admin_grpc']}", "-admin.port.legacy=0",
            f"-s3.config={self.data_dir / 's3.json'}",
            # Off: WebDAV, the admin web UI, the Iceberg and Lance catalogues, the embedded IAM API, telemetry.
            # (mini always runs its admin server and one maintenance worker; they idle at ~0 CPU.)
            "-webdav=false", "-admin.ui=false", "-s3.port.iceberg=0", "-s3.port.lance=0", "-s3.iam=false",
            "-master.telemetry=false",
            # Each bucket is a SeaweedFS collection with at least one (sparse, append-only) volume of its own,
            # so -volume.max bounds how many buckets can hold data: with 64 the 65th bucket's first write
            # fails with InternalError. Small volumes keep the files and their in-memory index small.
            "-master.volumeSizeLimitMB=64", "-volume.max=1000", "-volume.preStopSeconds=0",
        ]

    def start(self) -> S3Server:
        """Start the process and wait until a signed ``list_buckets`` works.

        Raises:
            S3ServerError: the process exits, or is not ready within ``startup_timeout`` seconds
                (the message quotes the log tail).
        """
        if self._process is not None:
            return self
        (self.data_dir / "data").mkdir(parents=True, exist_ok=True)
        self._write_identities()
        cmd = self.command()
        started = time.monotonic()
        with open(self.log_path, "ab") as log_file:
            self._process = subprocess.Popen(
                cmd, cwd=self.data_dir, env=self._server_env(), stdin=subprocess.DEVNULL,
                stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True,
            )
        atexit.register(self.stop)  # no orphan server if the caller forgets or crashes
        try:
            self._wait_ready(started)
        except BaseException:
            self.stop()
            raise
        log.info("S3 server ready at %s after %.1f s (pid %s)", self.endpoint_url, time.monotonic() - started,
                 self.pid)
        return self

    def _write_identities(self) -> None:
        # With a config file the gateway enforces auth: only this identity, requests must be signed.
        identities = {"identities": [{
            "name": "citylake-tests",
            "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
            "actions": ["Admin", "Read", "List", "Tagging", "Write"],
        }]}
        path = self.data_dir / "s3.json"
        path.write_text(json.dumps(identities, indent=2))
        path.chmod(0o600)

    def _server_env(self) -> dict[str, str]:
        # Drop a developer's AWS_*, WEED_* (config overrides) and S3_* (mini pre-creates S3_BUCKET) settings;
        # HOME=data_dir hides ~/.seaweedfs/*.toml. Mini itself grows one volume per bucket (collection) at a
        # time; `weed server` would grow 7 and exhaust -volume.max after a few buckets.
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "WEED_", "S3_"))}
        env["HOME"] = str(self.data_dir)
        # No soft heap limit (GOMEMLIMIT): at 128 MiB it sat so close to the live heap that the collector ran
        # all the time, 13 % of a core idle and 4x the CPU per request (measured: 600 small PUT + LIST/HEAD,
        # 14.6 s against 3.5 s); the RSS it saved (~90 MB after a multipart upload) is not worth that.
        return env

    def _wait_ready(self, started: float) -> None:
        process = self._process
        if process is None:
            raise S3ServerError("S3 server was stopped during startup")
        probe = self.client(config=Config(connect_timeout=1, read_timeout=2, retries={"max_attempts": 1}))
        deadline = started + self.startup_timeout
        last_error = "no attempt"
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise S3ServerError(f"weed exited with code {process.returncode} during startup; "
                                    f"log tail:\n{self.log_tail()}")
            try:
                probe.list_buckets()
                return
            except (BotoCoreError, ClientError) as exc:
                last_error = str(exc)
            time.sleep(0.2)
        raise S3ServerError(f"S3 server at {self.endpoint_url} not ready after {self.startup_timeout:.0f} s "
                            f"(last error: {last_error}); log tail:\n{self.log_tail()}")

    def client(self, *, secret_key: str | None = None, signed: bool = True, config: Config | None = None
               ) -> BaseClient:
        """A boto3 S3 client for this server: path-style addressing, SigV4, standard retries.

        Args:
            secret_key: sign with this secret instead of the real one (to prove bad signatures fail).
            signed: False sends unsigned (anonymous) requests.
            config: merged over the defaults.
        """
        base = Config(
            signature_version="s3v4" if signed else UNSIGNED,
            s3={"addressing_style": "path"},
            retries={"mode": "standard", "max_attempts": 4},
            connect_timeout=5,
            read_timeout=60,
        )
        if config is not None:
            base = base.merge(config)
        session = boto3.session.Session()  # own session: the default one is not thread-safe
        return session.client(
            "s3", endpoint_url=self.endpoint_url, region_name=self.region, config=base,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key if secret_key is None else secret_key,
        )

    def log_tail(self, lines: int = _OUTPUT_TAIL_LINES) -> str:
        """The last ``lines`` lines of the server log."""
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, timeout: float | None = None) -> None:
        """Send SIGTERM to the process group, wait, SIGKILL it after ``timeout`` (default ``stop_timeout``).

        Safe to call twice. A graceful ``weed mini`` shutdown usually takes ~1 s, but its volume server can
        wait up to 30 s for connections it still counts as active; callers with throwaway data can pass a
        short timeout.
        """
        process, self._process = self._process, None
        atexit.unregister(self.stop)
        if process is None:
            return
        grace = self.stop_timeout if timeout is None else timeout
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            self._remove_sockets()

    def _remove_sockets(self) -> None:
        # weed keeps unix sockets named after its ports in /tmp and removes them on a graceful stop only.
        for name, port in self._ports.items():
            socket_name = "seaweedfs-" + name.replace("_", "-") + f"-{port}.sock"  # e.g. seaweedfs-filer-grpc-N
            with contextlib.suppress(FileNotFoundError):
                (Path("/tmp") / socket_name).unlink()

    def __enter__(self) -> S3Server:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = self.endpoint_url if self._ports else "not started"
        return f"S3Server({where}, pid={self.pid}, data_dir={self.data_dir})"


def _free_ports(names: list[str]) -> dict[str, int]:
    """Distinct free loopback ports, one per name (all sockets stay open until every port is chosen)."""
    sockets: list[socket.socket] = []
    try:
        for _ in names:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return {name: sock.getsockname()[1] for name, sock in zip(names, sockets, strict=True)}
    finally:
        for sock in sockets:
            sock.close()



def main() -> int:
    """``python -m tests.support.s3server``: build the pinned ``weed`` into the tools cache if it is missing.

    `make test` starts this in the background before linting, so on a fresh machine the first build overlaps
    the install check, ruff, mypy and the tests that need no S3; the ``s3_server`` fixture then waits on the
    build lock instead of starting its own build. A failure here is only logged: the fixture tries again and
    reports it where a test needs the server.
    """
    from .s3_fixture import TOOLS_DIR

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        log.info("weed ready: %s", ensure_weed(TOOLS_DIR))
    except WeedBuildError as exc:
        log.error("%s", exc)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
