"""The step server process: one SparkSession, many steps, each in a thread of its own.

Started on demand by the first task that needs it (`jobs.service.client`, settings on stdin) or by the
worker's service manager (`citylake step-server`, settings from the environment). It listens on a random
loopback port and announces itself in an address file readable by its owner only (port, token, pid);
every request must carry the token. It stops after `idle_seconds` without a request (0: never) or when
asked (`citylake step-server --stop`).

Per request: the step runs with the settings the task sent (the catalog, zones, keys of that task), its
Spark jobs carry a job tag of the request (a client that goes away, e.g. a task killed by Airflow,
cancels them), and every log record the step's thread emits is sent to the client as well as to the
server's own log. GX keeps one project per process, so `jobs.io.quality` serialises that part of validate.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import secrets
import socket
import threading
import time
import traceback
import uuid
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jobs.errors import ConfigurationError
from jobs.service.protocol import (
    STEPS,
    ServerAddress,
    address_path,
    encode,
    encode_error,
    line,
    session_fingerprint,
    settings_from_wire,
)
from jobs.settings import Settings

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

log = logging.getLogger("citylake.step_server")

#: longest request line accepted (settings and names; a step's data never travels over the socket)
MAX_REQUEST = 1 << 20


class _Reply:
    """The client end of one request; sends are serialised (log records come from any of its threads)."""

    def __init__(self, conn: socket.socket):
        self.conn = conn
        self.lock = threading.Lock()
        self.gone = False

    def send(self, message: dict[str, Any]) -> None:
        with self.lock:
            if self.gone:
                return
            try:
                self.conn.sendall(line(message))
            except OSError:
                self.gone = True


_reply: ContextVar[_Reply | None] = ContextVar("citylake_step_reply", default=None)


class _Forwarder(logging.Handler):
    """Copies the records of a request's thread to that request's client."""

    def emit(self, record: logging.LogRecord) -> None:
        reply = _reply.get()
        if reply is None or record.name.startswith("py4j"):
            return
        text = record.getMessage()
        if record.exc_info:
            text += "\n" + "".join(traceback.format_exception(*record.exc_info))
        reply.send({"log": {"name": record.name, "level": record.levelno, "message": text}})


class StepServer:
    """Accepts requests until stopped or idle; see the module docstring."""

    def __init__(self, settings: Settings, *, idle_seconds: float = 0, slots: int = 4):
        self.settings = settings
        self.fingerprint = session_fingerprint(settings)
        self.idle_seconds = idle_seconds
        self.slots = threading.BoundedSemaphore(slots)
        self.token = secrets.token_urlsafe(32)
        self.active = 0
        self.last_request = time.monotonic()
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.spark: SparkSession | None = None

    # ------------------------------------------------------------------------------------------ lifecycle

    def start_session(self) -> None:
        """The SparkSession and everything a first step would otherwise warm up."""
        from jobs import steps  # noqa: F401 - the step modules and what they import (GX, Arrow, the catalog)
        from jobs.io.spark import get_spark

        started = time.monotonic()
        self.spark = get_spark(self.settings, app_name="citylake-steps")
        self.spark.sql("SELECT 1").collect()  # the first job plans and schedules slowly
        import great_expectations  # noqa: F401

        log.info("step server: Spark application %s ready in %.1f s", self.application, time.monotonic() - started)

    @property
    def application(self) -> str:
        assert self.spark is not None
        return str(self.spark.sparkContext.applicationId)

    def serve_forever(self) -> None:
        """Listen, announce, handle requests, clean up."""
        logging.getLogger().addHandler(_Forwarder())
        if self.spark is None:
            self.start_session()
        listener = socket.create_server(("127.0.0.1", 0))
        listener.settimeout(1.0)
        path = address_path(self.settings, self.fingerprint)
        address = ServerAddress(port=listener.getsockname()[1], token=self.token, pid=os.getpid(),
                                fingerprint=self.fingerprint)
        _write_private(path, address.to_json())
        log.info("step server: listening on 127.0.0.1:%d (address file %s)", address.port, path)
        try:
            while not (self.stopping.is_set() and self.active == 0):
                try:
                    conn, _ = listener.accept()
                except TimeoutError:
                    if self._idle_too_long():
                        log.info("step server: idle for %.0f s, stopping", self.idle_seconds)
                        break
                    continue
                threading.Thread(target=self._handle, args=(conn,), daemon=True, name="citylake-request").start()
        finally:
            listener.close()
            _remove_if_ours(path, self.token)
            if self.spark is not None:
                self.spark.stop()
            log.info("step server: stopped")

    def _idle_too_long(self) -> bool:
        with self.lock:
            return (self.idle_seconds > 0 and self.active == 0
                    and time.monotonic() - self.last_request > self.idle_seconds)

    # ------------------------------------------------------------------------------------------- requests

    def _handle(self, conn: socket.socket) -> None:
        reply = _Reply(conn)
        with self.lock:
            self.active += 1
            self.last_request = time.monotonic()
        try:
            reader = conn.makefile("rb")
            raw = reader.readline(MAX_REQUEST)
            try:
                request = json.loads(raw)
            except ValueError:
                request = None
            if not isinstance(request, dict):
                _refuse(reply, "the step server got no valid request")
                return
            if not hmac.compare_digest(str(request.get("token", "")), self.token):
                _refuse(reply, "the step server refused a request without its token (read from its address file)")
                return
            kind = request.get("kind")
            if kind == "ping":
                reply.send({"pong": {"pid": os.getpid(), "fingerprint": self.fingerprint,
                                     "application": self.application}})
            elif kind == "stop":
                self.stopping.set()
                reply.send({"stopping": {"pid": os.getpid(), "active": self.active - 1}})
            elif kind == "step":
                self._run_step(request, reply, reader)
            else:
                _refuse(reply, f"unknown request kind {kind!r}")
        finally:
            with self.lock:
                self.active -= 1
                self.last_request = time.monotonic()
            try:
                conn.close()
            except OSError:
                pass

    def _run_step(self, request: dict[str, Any], reply: _Reply, reader: Any) -> None:
        step, resource = request.get("step"), str(request.get("resource"))
        try:
            if step not in STEPS:
                raise ConfigurationError(f"the step server runs {', '.join(STEPS)}, not {step!r}")
            settings = settings_from_wire(request["settings"])
            if session_fingerprint(settings) != self.fingerprint:
                raise ConfigurationError("these settings need another SparkSession (master, lake, S3 or metastore "
                                         "differ) than this step server's; their own server is at "
                                         f"{address_path(settings)}")
        except (ConfigurationError, ValueError, KeyError) as exc:
            reply.send({"error": encode_error(exc, traceback.format_exc())})
            return
        tag = f"citylake-{uuid.uuid4().hex}"
        done = threading.Event()
        threading.Thread(target=self._cancel_when_gone, args=(reader, tag, done, f"{step} {resource}"),
                         daemon=True, name="citylake-watch").start()
        received = time.time()
        with self.slots:
            context = _reply.set(reply)
            sc = self._bind_thread(tag)
            started = time.monotonic()
            first_job: dict[str, float] = {}
            threading.Thread(target=self._note_first_job, args=(tag, done, first_job), daemon=True,
                             name="citylake-first-job").start()
            try:
                from jobs import steps

                answer = {"result": encode(getattr(steps, step)(resource, settings=settings))}
                log.info("step server: %s %s done in %.1f s", step, resource, time.monotonic() - started)
            except Exception as exc:  # noqa: BLE001 - every failure goes back to the task, which decides
                log.info("step server: %s %s failed after %.1f s: %s: %s", step, resource,
                         time.monotonic() - started, type(exc).__name__, str(exc).splitlines()[0] if str(exc) else "")
                answer = {"error": encode_error(exc, traceback.format_exc())}
            finally:
                done.set()  # before the answer: the client closes the connection once it has it
                spark_jobs = len(sc._jsc.sc().statusTracker().getJobIdsForTag(tag))  # type: ignore[union-attr]
                sc.removeJobTag(tag)
                _reply.reset(context)
            # one JSON line per step, for `make bench-small`'s per-task overhead (task start -> first Spark job)
            log.info("step timing: %s", json.dumps({"step": step, "resource": resource, "received": received,
                                                     "first_job": first_job.get("at"), "done": time.time(),
                                                     "spark_jobs": spark_jobs}))
            reply.send(answer)

    def _bind_thread(self, tag: str) -> Any:
        """This thread's Spark jobs: the server's session as the active one, tagged with the request."""
        assert self.spark is not None
        spark = self.spark
        sc = spark.sparkContext
        jvm = sc._jvm
        assert jvm is not None
        jvm.org.apache.spark.sql.SparkSession.setActiveSession(spark._jsparkSession)
        sc.setInterruptOnCancel(True)
        sc.addJobTag(tag)
        return sc

    def _note_first_job(self, tag: str, done: threading.Event, seen: dict[str, float]) -> None:
        """When the request's first Spark job was submitted (polled: Python has no listener hook)."""
        assert self.spark is not None
        tracker = self.spark.sparkContext._jsc.sc().statusTracker()  # type: ignore[union-attr]
        while not done.is_set():
            if len(tracker.getJobIdsForTag(tag)) > 0:
                seen["at"] = time.time()
                return
            time.sleep(0.05)

    def _cancel_when_gone(self, reader: Any, tag: str, done: threading.Event, what: str) -> None:
        """The client sends nothing after its request: end of stream means it went away."""
        try:
            reader.read(1)
        except OSError:
            pass
        if not done.is_set():
            log.warning("step server: the client of %s went away; cancelling its Spark jobs", what)
            assert self.spark is not None
            self.spark.sparkContext.cancelJobsWithTag(tag)


def _refuse(reply: _Reply, message: str) -> None:
    reply.send({"error": encode_error(ConfigurationError(message), "")})


def _write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read, atomically (a client never reads half an address)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)


def _remove_if_ours(path: Path, token: str) -> None:
    try:
        if ServerAddress.from_json(path.read_text(encoding="utf-8")).token == token:
            path.unlink()
    except (OSError, ValueError, KeyError):
        pass
