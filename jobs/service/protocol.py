"""What client and step server say to each other: JSON lines over a loopback TCP connection.

Pure: no socket, no Spark. The client sends one request line and then only keeps the connection open
(closing it cancels the step's Spark jobs); the server answers with `log` lines and one final `result`
or `error` line. The server's address file (port, token, pid), readable by its owner only, is how a
client finds it and proves it may use it: the token travels in every request.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from jobs.settings import Settings

#: steps a client may ask for, by their `jobs.steps` names
STEPS = ("ingest", "conform", "validate", "publish")


@dataclass(frozen=True)
class ServerAddress:
    """Contents of a server's address file."""

    port: int
    token: str
    pid: int
    fingerprint: str

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> ServerAddress:
        raw = json.loads(text)
        return cls(port=int(raw["port"]), token=str(raw["token"]), pid=int(raw["pid"]),
                   fingerprint=str(raw["fingerprint"]))


def run_folder(settings: Settings) -> Path:
    """Where a worker's step servers keep their address files, lock files and logs."""
    return settings.home / "run"


def address_path(settings: Settings, fingerprint: str | None = None) -> Path:
    """The address file of the server for these settings' SparkSession."""
    return run_folder(settings) / f"steps-{fingerprint or session_fingerprint(settings)}.json"


def session_fingerprint(settings: Settings) -> str:
    """Digest of everything that shapes the SparkSession (master, jars, lake, S3, metastore and their
    credentials): tasks whose settings share it can share a server; any other difference travels with
    each request. Credentials are part of it so a server never serves a caller with other credentials."""
    from jobs.io.spark import hadoop_secrets, spark_conf

    shaping = {**spark_conf(settings, jars=[]), **hadoop_secrets(settings), "master": settings.spark_master,
               "jars_dir": str(settings.jars_dir)}
    return hashlib.sha256(json.dumps(shaping, sort_keys=True).encode()).hexdigest()[:16]


def settings_to_wire(settings: Settings) -> dict[str, Any]:
    """Settings as JSON values (paths as text); secrets included, so this goes only over the socket or
    the server's stdin, never into argv, a log line or a file."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(settings):
        value = getattr(settings, f.name)
        if isinstance(value, Path):
            value = str(value)
        elif isinstance(value, tuple):
            value = [str(v) for v in value]
        elif isinstance(value, Mapping):
            value = dict(value)
        out[f.name] = value
    return out


def settings_from_wire(raw: dict[str, Any]) -> Settings:
    """The inverse of `settings_to_wire`; unknown names are refused (client and server of two versions)."""
    hints = typing.get_type_hints(Settings)
    names = {f.name for f in dataclasses.fields(Settings)}
    unknown = set(raw) - names
    if unknown:
        raise ValueError(f"settings the server does not know: {', '.join(sorted(unknown))}")
    values: dict[str, Any] = {}
    for name, value in raw.items():
        hint = hints[name]
        if hint is Path:
            value = Path(value)
        elif typing.get_origin(hint) is tuple:
            value = tuple(Path(v) for v in value)
        values[name] = value
    return Settings(**values)


def encode(value: Any) -> Any:
    """A step's result as JSON, keeping the types JSON lacks (dates, times, decimals, bytes) tagged."""
    if isinstance(value, datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, date):
        return {"$date": value.isoformat()}
    if isinstance(value, Decimal):
        return {"$decimal": str(value)}
    if isinstance(value, bytes):
        return {"$bytes": base64.b64encode(value).decode()}
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, dict):
        return {str(k): encode(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [encode(v) for v in value]
    return value


_DECODERS: dict[str, typing.Callable[[str], Any]] = {
    "$datetime": datetime.fromisoformat, "$date": date.fromisoformat, "$decimal": Decimal, "$bytes": base64.b64decode}


def decode(value: Any) -> Any:
    """The inverse of `encode`."""
    if isinstance(value, dict):
        if len(value) == 1:
            (tag, text), = value.items()
            if tag in _DECODERS:
                return _DECODERS[tag](text)
        return {k: decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode(v) for v in value]
    return value


def encode_error(exc: BaseException, traceback_text: str) -> dict[str, Any]:
    """An exception as the client needs it: its class (so bad data stays bad data and the CLI's exit
    codes hold), message, JSON-able attributes and the server-side traceback for the task log."""
    attrs = {}
    for name, value in vars(exc).items():
        if name.startswith("_"):
            continue
        encoded = encode(value)
        try:
            json.dumps(encoded)
        except (TypeError, ValueError):
            continue
        attrs[name] = encoded
    return {"type": type(exc).__name__, "module": type(exc).__module__, "message": str(exc), "attrs": attrs,
            "traceback": traceback_text}


def line(message: dict[str, Any]) -> bytes:
    """One protocol line."""
    return (json.dumps(message, ensure_ascii=False) + "\n").encode("utf-8")
