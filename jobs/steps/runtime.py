"""What every step needs: settings, the catalog, the shared SparkSession and the clock."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from jobs.catalog import Catalog, Resource
from jobs.catalog.loader import CatalogLoad, load_catalog_leniently
from jobs.settings import Settings, load_settings

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

log = logging.getLogger("citylake")


@dataclass
class Runtime:
    settings: Settings
    now: datetime = field(default_factory=lambda: datetime.now().replace(microsecond=0))

    @cached_property
    def catalog_load(self) -> CatalogLoad:
        """The catalog loaded leniently: a broken entry fails only its own resource's steps (`resource`)."""
        return cached_catalog(self.settings.catalog_dirs)

    @property
    def catalog(self) -> Catalog:
        return self.catalog_load.catalog

    @cached_property
    def spark(self) -> SparkSession:
        from jobs.io.spark import get_spark

        return get_spark(self.settings)

    @property
    def metastore_spark(self) -> SparkSession | None:
        """The session that names tables in the metastore (`jobs.io.tables.remember`), or None without one:
        a step that writes by delta-rs starts no JVM only to learn there is nothing to name."""
        return self.spark if self.settings.metastore_url else None

    def resource(self, name: str) -> Resource:
        """The entry `name`; the loader's own error (file, resource, field) when that entry is broken.

        Raises:
            CatalogError: the entry is broken or unknown.
        """
        found = self.catalog.resources.get(name)
        if found is not None:
            return found
        own = [e for e in self.catalog_load.errors if e.resource == name or Path(e.file).stem == name]
        if own:
            raise own[0]
        return self.catalog.resource(name)


#: signature of the catalog files -> their lenient load; a step server's steps share one parse per change
_loaded: dict[tuple, CatalogLoad] = {}


def cached_catalog(dirs: tuple[Path, ...]) -> CatalogLoad:
    """`load_catalog_leniently(dirs)`, parsed again only when a file was added, removed or changed."""
    signature = tuple((str(p), st.st_mtime_ns, st.st_size) for d in dirs for p in sorted(Path(d).glob("**/*.yaml"))
                      for st in [p.stat()])
    key = (tuple(str(d) for d in dirs), signature)
    if key not in _loaded:
        _loaded.clear()
        _loaded[key] = load_catalog_leniently(dirs)
        for error in _loaded[key].errors:
            log.warning("catalog entry left out: %s", error)
    return _loaded[key]


def runtime(settings: Settings | None = None, now: datetime | None = None) -> Runtime:
    rt = Runtime(settings or load_settings())
    if now is not None:
        rt.now = now
    return rt
