"""Which Delta tables the lake holds, found without Spark: every folder of a zone that holds `_delta_log`.

`citylake sql --engine duckdb` must answer before a JVM could even start, so it cannot ask Hadoop's
FileSystem as `jobs.io.tables.table_locations` does. The rule is the same and lives here once
(`DELTA_LOG`, `located`): a table is a sub-folder of `<lake>/<zone>/` holding a `_delta_log`, and its
location is `Settings.table_path(zone, name)`. Only the listing differs: the standard library for a local
lake, boto3 (the same client as the landing zone's) for an `s3a://` one — two listers that differ only in
their root.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jobs.errors import ConfigurationError
from jobs.settings import Settings

DELTA_LOG = "_delta_log"


@dataclass(frozen=True)
class LakeTable:
    """One Delta table of the lake: `zone.name` at `location` (as `Settings.table_path` spells it)."""

    zone: str
    name: str
    location: str

    @property
    def qualified(self) -> str:
        return f"{self.zone}.{self.name}"


def located(settings: Settings, zone: str, names: Iterable[str]) -> list[LakeTable]:
    """The tables `names` (folders of `zone` known to hold a `_delta_log`), sorted by name."""
    return [LakeTable(zone, name, settings.table_path(zone, name)) for name in sorted(set(names))]


class LakeLister(ABC):
    """Sub-folders of a zone, and whether one holds a Delta log."""

    @abstractmethod
    def folders(self, zone: str) -> list[str]:
        """Names of the sub-folders of `<lake>/<zone>` (none when the zone folder is missing)."""

    @abstractmethod
    def holds_log(self, zone: str, name: str) -> bool:
        """True when `<lake>/<zone>/<name>/_delta_log` exists (on S3: holds an object), as Spark checks it."""


class LocalLister(LakeLister):
    def __init__(self, root: Path):
        self.root = root

    def folders(self, zone: str) -> list[str]:
        folder = self.root / zone
        return sorted(p.name for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []

    def holds_log(self, zone: str, name: str) -> bool:
        return (self.root / zone / name / DELTA_LOG).is_dir()


class S3Lister(LakeLister):
    """Delimited listings: one paginated request per zone, one single-key request per folder checked."""

    def __init__(self, uri: str, client: Any):
        bucket, _, prefix = uri.split("://", 1)[1].partition("/")
        if not bucket:
            raise ConfigurationError(f"lake URI {uri!r} names no bucket; use s3a://bucket/prefix")
        self.bucket, self.prefix, self.client = bucket, prefix.strip("/"), client

    def _key(self, relative: str) -> str:
        return f"{self.prefix}/{relative}" if self.prefix else relative

    def folders(self, zone: str) -> list[str]:
        base = self._key(zone) + "/"
        names: list[str] = []
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=base,
                                                                          Delimiter="/"):
            names.extend(p["Prefix"][len(base):].rstrip("/") for p in page.get("CommonPrefixes", []))
        return sorted(n for n in names if n)

    def holds_log(self, zone: str, name: str) -> bool:
        found = self.client.list_objects_v2(Bucket=self.bucket, Prefix=self._key(f"{zone}/{name}/{DELTA_LOG}/"),
                                            MaxKeys=1)
        return bool(found.get("KeyCount") or found.get("Contents"))


def lister_for(settings: Settings) -> LakeLister:
    """The lister of the lake the settings point at: a local folder, or `s3a://` / `s3://` through boto3.

    Raises:
        ConfigurationError: for any other scheme (Spark's Hadoop FileSystem reads those; `--engine spark`).
    """
    uri = settings.lake_uri
    scheme = uri.split("://", 1)[0] if "://" in uri else ""
    if scheme in ("s3a", "s3", "s3n"):
        from jobs.io.landing import s3_client

        return S3Lister(uri, s3_client(settings))
    if scheme:
        raise ConfigurationError(f"lake URI {uri!r}: only local folders and s3a:// are listed without Spark; "
                                 "use `citylake sql --engine spark`")
    return LocalLister(Path(uri))


def zone_tables(settings: Settings, zone: str, *, lister: LakeLister | None = None) -> list[LakeTable]:
    """Every table of one zone, sorted by name."""
    lister = lister or lister_for(settings)
    return located(settings, zone, (name for name in lister.folders(zone) if lister.holds_log(zone, name)))


def find_table(settings: Settings, zone: str, name: str, *, lister: LakeLister | None = None) -> LakeTable | None:
    """The table `zone.name`, or None. Checks that one folder first and lists the zone only when it is
    missing, so that a query naming two tables costs two look-ups, not a listing of the whole lake.

    Names match case-insensitively, as SQL identifiers do (`Silver.Appeals` is `silver.appeals`).
    """
    lister = lister or lister_for(settings)
    if lister.holds_log(zone, name):
        return located(settings, zone, [name])[0]
    matches = [t for t in zone_tables(settings, zone, lister=lister) if t.name.lower() == name.lower()]
    return matches[0] if matches else None


def lake_tables(settings: Settings, zones: Iterable[str], *, lister: LakeLister | None = None) -> list[LakeTable]:
    """Every table of the given zones (in their order, then by name)."""
    lister = lister or lister_for(settings)
    return [t for zone in zones for t in zone_tables(settings, zone, lister=lister)]
