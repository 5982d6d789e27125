"""Object stores for the publishing zones (public open data, restricted open data).

The embedded default keeps a zone in a local folder; production points it at an S3 bucket/prefix.
Both behave the same for what publishing needs: write a file with its content type and checksum,
read, list, copy and delete under a prefix. Keys are always '/'-separated and relative to the root.
"""

from __future__ import annotations

import base64
import shutil
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

from jobs.errors import ConfigurationError
from jobs.settings import Settings


class ObjectStore(ABC):
    """A zone root: a local folder or s3://bucket/prefix."""

    uri: str

    @abstractmethod
    def put_file(self, local: Path, key: str, *, content_type: str | None = None, sha256: str | None = None) -> None:
        """Store `local` at `key` (replacing it); S3 stores the content type and verifies `sha256`."""

    def put_bytes(self, data: bytes, key: str, *, content_type: str | None = None) -> None:
        import hashlib
        import tempfile

        with tempfile.NamedTemporaryFile(delete=False) as tmp:
            tmp.write(data)
        try:
            self.put_file(Path(tmp.name), key, content_type=content_type, sha256=hashlib.sha256(data).hexdigest())
        finally:
            Path(tmp.name).unlink(missing_ok=True)

    @abstractmethod
    def read_bytes(self, key: str) -> bytes: ...

    @abstractmethod
    def exists(self, key: str) -> bool: ...

    @abstractmethod
    def list(self, prefix: str = "") -> list[str]:
        """Every key under `prefix` (recursive), sorted."""

    @abstractmethod
    def copy(self, source: str, target: str) -> None: ...

    @abstractmethod
    def delete_prefix(self, prefix: str) -> int:
        """Delete every key under `prefix`; returns how many."""

    def url(self, key: str) -> str:
        """Where `key` lives, for logs and summaries."""
        return f"{self.uri.rstrip('/')}/{key}"


class LocalStore(ObjectStore):
    def __init__(self, root: Path):
        self.root = root
        self.uri = str(root)

    def path(self, key: str) -> Path:
        return self.root / key

    def put_file(self, local: Path, key: str, *, content_type: str | None = None, sha256: str | None = None) -> None:
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        staged = target.with_name(f".{target.name}.part")
        shutil.copyfile(local, staged)
        staged.replace(target)  # readers never see half a file

    def read_bytes(self, key: str) -> bytes:
        return self.path(key).read_bytes()

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def list(self, prefix: str = "") -> list[str]:
        base = self.path(prefix) if prefix else self.root
        if base.is_file():
            return [prefix]
        if not base.is_dir():
            return []
        return sorted(p.relative_to(self.root).as_posix() for p in base.rglob("*")
                      if p.is_file() and not p.name.startswith("."))

    def copy(self, source: str, target: str) -> None:
        self.put_file(self.path(source), target)

    def delete_prefix(self, prefix: str) -> int:
        keys = self.list(prefix)
        base = self.path(prefix)
        if base.is_dir():
            shutil.rmtree(base)
        else:
            base.unlink(missing_ok=True)
        return len(keys)


class S3Store(ObjectStore):
    def __init__(self, uri: str, client: Any):
        bucket, _, prefix = uri.removeprefix("s3://").partition("/")
        self.uri, self.bucket, self.prefix, self.client = uri, bucket, prefix.strip("/"), client

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def put_file(self, local: Path, key: str, *, content_type: str | None = None, sha256: str | None = None) -> None:
        extra: dict[str, Any] = {}
        if content_type:
            extra["ContentType"] = content_type
        if sha256:
            # The server recomputes SHA-256 and refuses the upload when it differs from ours.
            extra["ChecksumSHA256"] = base64.b64encode(bytes.fromhex(sha256)).decode("ascii")
            extra["Metadata"] = {"sha256": sha256}
        with local.open("rb") as body:
            self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=body, **extra)

    def read_bytes(self, key: str) -> bytes:
        return self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"].read()

    def exists(self, key: str) -> bool:
        return s3_object_exists(self.client, self.bucket, self._key(key))

    def list(self, prefix: str = "") -> list[str]:
        full = self._key(prefix) if prefix else (f"{self.prefix}/" if self.prefix else "")
        strip = f"{self.prefix}/" if self.prefix else ""
        keys: list[str] = []
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=full):
            keys.extend(o["Key"].removeprefix(strip) for o in page.get("Contents", []))
        return sorted(keys)

    def copy(self, source: str, target: str) -> None:
        self.client.copy_object(Bucket=self.bucket, Key=self._key(target),
                                CopySource={"Bucket": self.bucket, "Key": self._key(source)},
                                MetadataDirective="COPY")

    def delete_prefix(self, prefix: str) -> int:
        keys = self.list(prefix)
        for start in range(0, len(keys), 1000):
            chunk = keys[start:start + 1000]
            self.client.delete_objects(Bucket=self.bucket,
                                       Delete={"Objects": [{"Key": self._key(k)} for k in chunk], "Quiet": True})
        return len(keys)


def s3_object_exists(client: Any, bucket: str, key: str) -> bool:
    """True when the object is there; any error other than "not found" is raised, not taken for absence."""
    from botocore.exceptions import ClientError

    try:
        client.head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return False
        raise
    return True


def store_for(uri: str, settings: Settings) -> ObjectStore:
    """The store at `uri`: a local folder or s3://bucket/prefix (S3 settings as for the landing zone)."""
    if uri.startswith("s3://"):
        from jobs.io.landing import s3_client

        return S3Store(uri, s3_client(settings))
    if "://" in uri:
        raise ConfigurationError(f"zone URI {uri!r}: only local paths and s3:// are supported")
    return LocalStore(Path(uri))
