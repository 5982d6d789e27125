"""What an Airflow step task calls: run a step on the worker's step server, starting one if allowed.

`CITYLAKE_STEP_SERVER` decides (`Settings.step_server`):

- `auto` (default): use the server that answers for these settings' SparkSession; if none does, start
  one (a detached `citylake step-server` that stops after `CITYLAKE_STEP_SERVER_IDLE` idle seconds) and
  use it. Two tasks that find none at the same moment start one between them (a file lock).
- `required`: use the running server or fail with `ServiceUnavailable` (a worker whose service manager
  runs `citylake step-server`, where a task must never start a driver of its own).
- `off`: run the step in the task's own process (a JVM per task, as a plain PythonOperator would).

The task process imports neither Spark nor GX; it re-logs what the step logs and raises what the step
raised (the same `jobs.errors` class, so bad data still fails the task at once), or `StepFailed` for any
other failure (retried by Airflow). A server that dies mid-step ends the stream early: `ServiceUnavailable`,
and the retry starts a fresh server.
"""

from __future__ import annotations

import fcntl
import importlib
import json
import logging
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from jobs.errors import CitylakeError, ServiceUnavailable
from jobs.service.protocol import (
    ServerAddress,
    address_path,
    decode,
    line,
    run_folder,
    session_fingerprint,
    settings_to_wire,
)
from jobs.settings import Settings, step_server_environment

log = logging.getLogger("citylake")

#: a server answers a ping from its accept loop; more than this means it is wedged or not there
PING_SECONDS = 10.0
#: a first start may resolve the Delta / S3 jars with Maven before Spark starts
START_SECONDS = 600.0


class StepFailed(RuntimeError):
    """A step failed on the step server with an error that is not one of citylake's own (a Spark or S3
    failure, a bug): retried like any infrastructure failure. The message holds the server's traceback."""


def run_step(step: str, resource: str, settings: Settings) -> Any:
    """Run `jobs.steps.<step>(resource, settings=settings)` where `settings.step_server` says."""
    if settings.step_server == "off":
        from jobs import steps

        return getattr(steps, step)(resource, settings=settings)
    address = ensure_server(settings)
    return _request_step(address, step, resource, settings)


def ensure_server(settings: Settings) -> ServerAddress:
    """The address of the live server for these settings, started first if `auto` allows it."""
    path = address_path(settings)
    found = _alive(path)
    if found is not None:
        return found
    if settings.step_server == "required":
        raise ServiceUnavailable(f"no step server answers for this lake (address file {path}); run "
                                 "`citylake step-server` on this worker with the tasks' settings, or set "
                                 "CITYLAKE_STEP_SERVER=auto to start one on demand")
    with _locked(path.with_suffix(".lock")):
        found = _alive(path)
        if found is not None:
            return found
        return _start(settings, path)


def ping(address: ServerAddress, timeout: float = PING_SECONDS) -> dict[str, Any]:
    """The server's pid, fingerprint and Spark application id."""
    with socket.create_connection(("127.0.0.1", address.port), timeout=timeout) as conn:
        conn.sendall(line({"kind": "ping", "token": address.token}))
        answer = json.loads(conn.makefile("rb").readline() or b"{}")
    if "pong" not in answer:
        raise ServiceUnavailable(f"the step server (pid {address.pid}) did not answer a ping: {answer}")
    return answer["pong"]


def stop_servers(home: Path, *, wait_seconds: float = 60.0) -> list[int]:
    """Stop every step server of a home (the demo's end, tests' teardown); returns their pids."""
    stopped = []
    for path in sorted((home / "run").glob("steps-*.json")):
        try:
            address = ServerAddress.from_json(path.read_text(encoding="utf-8"))
            with socket.create_connection(("127.0.0.1", address.port), timeout=PING_SECONDS) as conn:
                conn.sendall(line({"kind": "stop", "token": address.token}))
                conn.makefile("rb").readline()
        except (OSError, ValueError, KeyError):
            path.unlink(missing_ok=True)
            continue
        stopped.append(address.pid)
    deadline = time.monotonic() + wait_seconds
    for pid in stopped:
        while pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
    return stopped


# ---------------------------------------------------------------------------------------------- internals


def _alive(path: Path) -> ServerAddress | None:
    try:
        address = ServerAddress.from_json(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, KeyError):
        return None
    try:
        pong = ping(address)
    except (OSError, ValueError, ServiceUnavailable):
        log.info("step server of %s (pid %d) does not answer; a new one is needed", path.name, address.pid)
        return None
    return address if pong.get("fingerprint") == address.fingerprint else None


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _start(settings: Settings, path: Path) -> ServerAddress:
    """Start a detached server (its own session, so a task's end does not end it) and wait for it."""
    logfile = run_folder(settings) / f"steps-{session_fingerprint(settings)}.log"
    path.unlink(missing_ok=True)
    log.info("starting a step server for this lake (log: %s)", logfile)
    started = time.monotonic()
    with logfile.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "jobs.cli", "step-server", "--settings-from-stdin",
             "--idle", str(settings.step_server_idle)],
            stdin=subprocess.PIPE, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            env=step_server_environment())
    assert proc.stdin is not None
    proc.stdin.write(json.dumps(settings_to_wire(settings)).encode())  # secrets never in argv or env
    proc.stdin.close()
    while time.monotonic() - started < START_SECONDS:
        if proc.poll() is not None:
            tail = logfile.read_text(encoding="utf-8", errors="replace")[-3000:]
            raise ServiceUnavailable(f"the step server exited (code {proc.returncode}) before it was ready; "
                                     f"its log {logfile} ends:\n{tail}")
        found = _alive(path) if path.exists() else None
        if found is not None:
            log.info("step server pid %d ready in %.1f s", found.pid, time.monotonic() - started)
            return found
        time.sleep(0.25)
    proc.kill()
    raise ServiceUnavailable(f"the step server was not ready after {START_SECONDS:.0f} s; see {logfile}")


def _request_step(address: ServerAddress, step: str, resource: str, settings: Settings) -> Any:
    request = {"kind": "step", "token": address.token, "step": step, "resource": resource,
               "settings": settings_to_wire(settings)}
    try:
        conn = socket.create_connection(("127.0.0.1", address.port), timeout=PING_SECONDS)
    except OSError as exc:
        raise ServiceUnavailable(f"the step server (pid {address.pid}) refused the connection: {exc}") from exc
    with conn:
        conn.settimeout(None)  # a step takes as long as it takes; Airflow's execution_timeout bounds it
        conn.sendall(line(request))
        for raw in conn.makefile("rb"):
            message = json.loads(raw)
            if "log" in message:
                record = message["log"]
                logging.getLogger(record["name"]).log(record["level"], "%s", record["message"])
            elif "result" in message:
                return decode(message["result"])
            elif "error" in message:
                raise rebuild_error(message["error"])
    raise ServiceUnavailable(f"the step server (pid {address.pid}) closed the connection before {step} of "
                             f"{resource} ended (did it die? see {run_folder(settings)})")


def rebuild_error(raw: dict[str, Any]) -> Exception:
    """The step's exception on the client's side: citylake's own class with its message and attributes,
    or `StepFailed` naming the original type, with the server's traceback logged for the task log."""
    if raw.get("traceback"):
        log.info("step server traceback:\n%s", raw["traceback"].rstrip())
    module, name, message = str(raw.get("module", "")), str(raw.get("type", "")), str(raw.get("message", ""))
    cls = None
    if module == "jobs" or module.startswith("jobs."):
        try:
            cls = getattr(importlib.import_module(module), name, None)
        except ImportError:
            cls = None
    if isinstance(cls, type) and issubclass(cls, CitylakeError):
        exc = cls.__new__(cls)
        Exception.__init__(exc, message)
        for key, value in (raw.get("attrs") or {}).items():
            setattr(exc, key, decode(value))
        return exc
    return StepFailed(f"{module}.{name}: {message}")


def pid_alive(pid: int) -> bool:
    """True while `pid` runs (a zombie, dead but not yet reaped by its parent, does not)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False
