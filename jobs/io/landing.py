"""The landing zone: export files exactly as departments delivered them, on a local folder or S3.

Files sit at `<root>/<department>/<resource>/`. Ingest never modifies one; afterwards it is moved to
`archive/<batch>/` (ingested or a duplicate) or `rejected/` (with a `.reason.txt` beside it). The two
implementations differ only in the root URI (`/path` or `s3://bucket/prefix`); everything above this
module sees the same `Landing` interface.

A file becomes eligible only when its department says it is complete: a marker file next to it
(`<name><marker_suffix>`, e.g. `appeals_20261126.csv.ok`, written after the export) or, for systems
that cannot write markers, when it has not changed for `quiet_seconds`. A file still being uploaded
is never read.
"""

from __future__ import annotations

import fnmatch
import hashlib
import logging
import shutil
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jobs.catalog.model import Resource
from jobs.errors import ConfigurationError

if TYPE_CHECKING:
    from jobs.settings import Settings

log = logging.getLogger("citylake")

ARCHIVE, REJECTED = "archive", "rejected"
REASON_SUFFIX = ".reason.txt"
HASH_BLOCK = 1 << 20


@dataclass(frozen=True)
class LandedFile:
    """One object in landing. `etag` names this content at this location (S3's ETag; locally the
    size and modification time), so a file re-sent under the same name is seen as a new version."""

    relative: str
    size: int
    etag: str
    modified: datetime

    @property
    def name(self) -> str:
        return self.relative.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class Fetched:
    """A landing file readable at a local path, with the sha256 of its bytes."""

    path: Path
    sha256: str


def is_ready(file: LandedFile, names: set[str], resource: Resource, now: datetime) -> bool:
    """Whether the department has finished delivering `file` (see the module docstring)."""
    spec = resource.source
    if spec.ready == "marker":
        return file.name + spec.marker_suffix in names
    return now - file.modified >= timedelta(seconds=spec.quiet_seconds)


def matches(name: str, pattern: str) -> bool:
    """Whether a file name fits the resource's pattern; a gzip-compressed export fits it too."""
    return fnmatch.fnmatch(name, pattern) or (name.endswith(".gz") and fnmatch.fnmatch(name[:-3], pattern))


def candidates(files: Iterable[LandedFile], resource: Resource) -> list[LandedFile]:
    """Files matching the resource's pattern (markers and reason notes are not exports), by name."""
    spec = resource.source
    return sorted(
        (f for f in files if matches(f.name, spec.file_pattern)
         and not f.name.endswith(spec.marker_suffix) and not f.name.endswith(REASON_SUFFIX)),
        key=lambda f: f.name,
    )


class Landing(ABC):
    """A landing zone; subclasses say how objects are listed, read, written and moved."""

    uri: str

    def folder(self, resource: Resource) -> str:
        """The key prefix of a resource's exports (relative to the root)."""
        return f"{resource.provider}/{resource.name}"

    @abstractmethod
    def _list(self, folder: str) -> list[LandedFile]:
        """Objects directly in `folder` (not in archive/ or rejected/)."""

    @abstractmethod
    def _move(self, source: str, target: str) -> None: ...

    @abstractmethod
    def _write_text(self, key: str, text: str) -> None: ...

    @abstractmethod
    def exists(self, key: str) -> bool:
        """Whether an object is at `key` (relative to the root)."""

    @abstractmethod
    def read_text(self, key: str) -> str:
        """A small text object (a rejection reason, a marker)."""

    @abstractmethod
    def put(self, local: Path, key: str) -> None:
        """Upload a local file to `key` (used by the sample generator and tests)."""

    @abstractmethod
    def read_bytes(self, key: str) -> bytes:
        """A whole object (an archived export an erasure rewrites)."""

    @abstractmethod
    def replace_bytes(self, key: str, data: bytes) -> None:
        """Overwrite an object in place (an erasure's rewrite of an archived export; nothing else modifies
        what a department delivered)."""

    @abstractmethod
    def remove(self, key: str) -> None:
        """Delete an object if it is there."""

    @abstractmethod
    def fetch(self, file: LandedFile, scratch: Path) -> Any:
        """Context manager yielding a `Fetched` copy (or the file itself) readable at a local path."""

    def deliver(self, local: Path, resource: Resource, name: str | None = None, *, ready: bool = True) -> str:
        """Deliver an export as a department would: the file first, then its completion marker."""
        key = f"{self.folder(resource)}/{name or local.name}"
        self.put(local, key)
        if ready:
            self._write_text(key + resource.source.marker_suffix, "")
        return key

    def survey(self, resource: Resource, now: datetime | None = None) -> tuple[list[LandedFile], list[LandedFile]]:
        """One listing: (exports complete and waiting for ingest, exports not yet marked complete)."""
        listed = self._list(self.folder(resource))
        names = {f.name for f in listed}
        now = now or datetime.now(UTC)
        ready: list[LandedFile] = []
        incomplete: list[LandedFile] = []
        for f in candidates(listed, resource):
            (ready if is_ready(f, names, resource, now) else incomplete).append(f)
        return ready, incomplete

    def pending(self, resource: Resource, now: datetime | None = None) -> list[LandedFile]:
        """Exports that are complete and wait for ingest, in name order."""
        return self.survey(resource, now)[0]

    def incomplete(self, resource: Resource, now: datetime | None = None) -> list[LandedFile]:
        """Exports present but not yet marked complete."""
        return self.survey(resource, now)[1]

    def archive_target(self, file: LandedFile, batch_id: str) -> str:
        """Where `archive` will put the file (known before, so it can be recorded first)."""
        parent = file.relative.rsplit("/", 1)[0]
        return f"{parent}/{ARCHIVE}/{batch_id}/{file.name}"

    def archive(self, file: LandedFile, batch_id: str, resource: Resource) -> str:
        return self._move_with_marker(file, self.archive_target(file, batch_id), resource)

    def reject(self, file: LandedFile, reason: str, resource: Resource) -> str:
        parent = file.relative.rsplit("/", 1)[0]
        target = f"{parent}/{REJECTED}/{file.name}"
        moved = self._move_with_marker(file, target, resource)
        self._write_text(target + REASON_SUFFIX, reason + "\n")
        return moved

    def _move_with_marker(self, file: LandedFile, target: str, resource: Resource) -> str:
        self._move(file.relative, target)
        marker = file.relative + resource.source.marker_suffix
        if self.exists(marker):
            self._move(marker, target + resource.source.marker_suffix)
        return target


class LocalLanding(Landing):
    """Landing zone on a local folder."""

    def __init__(self, root: Path):
        self.root = root
        self.uri = str(root)

    def _list(self, folder: str) -> list[LandedFile]:
        base = self.root / folder
        if not base.is_dir():
            return []
        result = []
        for p in base.iterdir():
            if p.is_file():
                st = p.stat()
                result.append(LandedFile(f"{folder}/{p.name}", st.st_size, f"{st.st_size}-{st.st_mtime_ns}",
                                         datetime.fromtimestamp(st.st_mtime, UTC)))
        return result

    def _move(self, source: str, target: str) -> None:
        dest = self.root / target
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(self.root / source), dest)

    def _write_text(self, key: str, text: str) -> None:
        path = self.root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")

    def exists(self, key: str) -> bool:
        return (self.root / key).exists()

    def read_text(self, key: str) -> str:
        return (self.root / key).read_text(encoding="utf-8")

    def put(self, local: Path, key: str) -> None:
        dest = self.root / key
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name("." + dest.name + ".part")
        shutil.copyfile(local, tmp)
        tmp.replace(dest)

    def read_bytes(self, key: str) -> bytes:
        return (self.root / key).read_bytes()

    def replace_bytes(self, key: str, data: bytes) -> None:
        dest = self.root / key
        tmp = dest.with_name("." + dest.name + ".part")
        tmp.write_bytes(data)
        tmp.replace(dest)

    def remove(self, key: str) -> None:
        (self.root / key).unlink(missing_ok=True)

    @contextmanager
    def fetch(self, file: LandedFile, scratch: Path) -> Iterator[Fetched]:
        path = self.root / file.relative
        digest = hashlib.sha256()
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(HASH_BLOCK), b""):
                digest.update(block)
        yield Fetched(path, digest.hexdigest())


class _HashingWriter:
    """A file object that hashes what boto3 streams into it, so a download is read once."""

    def __init__(self, fh: Any):
        self.fh, self.digest = fh, hashlib.sha256()

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        return self.fh.write(data)


class S3Landing(Landing):
    """Landing zone in an S3 bucket (any S3-compatible server), through boto3.

    Listing is paginated; downloads and uploads stream through boto3's managed transfers (multipart
    for big files), so an export is never held in memory; a move is a managed copy and a delete.
    """

    def __init__(self, uri: str, client: Any):
        bucket, _, prefix = uri.removeprefix("s3://").partition("/")
        if not bucket:
            raise ConfigurationError(f"landing URI {uri!r} names no bucket; use s3://bucket/prefix")
        self.uri, self.bucket, self.prefix, self.client = uri, bucket, prefix.strip("/"), client

    def _key(self, relative: str) -> str:
        return f"{self.prefix}/{relative}" if self.prefix else relative

    def _list(self, folder: str) -> list[LandedFile]:
        base = self._key(folder) + "/"
        result = []
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=base,
                                                                          Delimiter="/"):
            for obj in page.get("Contents", []):
                name = obj["Key"][len(base):]
                if name:
                    result.append(LandedFile(f"{folder}/{name}", obj["Size"], obj["ETag"].strip('"'),
                                             obj["LastModified"]))
        return result

    def _move(self, source: str, target: str) -> None:
        self.client.copy({"Bucket": self.bucket, "Key": self._key(source)}, self.bucket, self._key(target))
        if f"/{ARCHIVE}/" in f"/{target}":
            from jobs.io.buckets import ARCHIVE_TAG

            # the landing bucket's lifecycle rule expires archived exports by this tag
            self.client.put_object_tagging(Bucket=self.bucket, Key=self._key(target), Tagging={
                "TagSet": [{"Key": ARCHIVE_TAG[0], "Value": ARCHIVE_TAG[1]}]})
        self.client.delete_object(Bucket=self.bucket, Key=self._key(source))

    def _write_text(self, key: str, text: str) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=text.encode("utf-8"),
                               ContentType="text/plain; charset=utf-8")

    def exists(self, key: str) -> bool:
        from jobs.io.objects import s3_object_exists

        return s3_object_exists(self.client, self.bucket, self._key(key))

    def read_text(self, key: str) -> str:
        return self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"].read().decode("utf-8")

    def put(self, local: Path, key: str) -> None:
        self.client.upload_file(str(local), self.bucket, self._key(key))

    def read_bytes(self, key: str) -> bytes:
        return self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"].read()

    def replace_bytes(self, key: str, data: bytes) -> None:
        tagging = self.client.get_object_tagging(Bucket=self.bucket, Key=self._key(key)).get("TagSet", [])
        self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data)
        if tagging:  # the archive's lifecycle tag stays with the rewritten object
            self.client.put_object_tagging(Bucket=self.bucket, Key=self._key(key), Tagging={"TagSet": tagging})

    def remove(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._key(key))

    @contextmanager
    def fetch(self, file: LandedFile, scratch: Path) -> Iterator[Fetched]:
        scratch.mkdir(parents=True, exist_ok=True)
        # Keep the name's suffixes (.csv.gz) so format and compression are recognised as for a local file.
        local = scratch / file.name
        try:
            with local.open("wb") as fh:
                writer = _HashingWriter(fh)
                self.client.download_fileobj(self.bucket, self._key(file.relative), writer)
            yield Fetched(local, writer.digest.hexdigest())
        finally:
            local.unlink(missing_ok=True)


def s3_client(settings: Settings) -> Any:
    """A boto3 S3 client for the configured endpoint (credentials from settings or boto3's chain)."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=settings.s3_endpoint,
        region_name=settings.s3_region,
        aws_access_key_id=settings.s3_access_key,
        aws_secret_access_key=settings.s3_secret_key,
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 5, "mode": "standard"}),
    )


def complete_exports(res: Resource, *, settings: Settings | None = None) -> list[str]:
    """Landing keys of a resource's complete exports: the check behind its Airflow sensor (a listing,
    no Spark — so this module, not `jobs.steps`, which imports pyspark, is what a poke loads)."""
    from jobs.settings import load_settings

    settings = settings or load_settings()
    landing = landing_for(settings)
    ready, waiting = landing.survey(res)
    if not ready:
        log.info("%s: no complete export in %s/%s yet%s", res.name, landing.uri, landing.folder(res),
                 f"; {len(waiting)} file(s) without a completion marker: {', '.join(f.name for f in waiting[:5])}"
                 if waiting else "")
    return [f.relative for f in ready]


def landing_for(settings: Settings) -> Landing:
    """The landing zone the settings point at."""
    uri = settings.landing_uri
    if uri.startswith("s3://"):
        return S3Landing(uri, s3_client(settings))
    if "://" in uri:
        raise ConfigurationError(f"landing URI {uri!r}: only local paths and s3:// are supported")
    return LocalLanding(Path(uri))
