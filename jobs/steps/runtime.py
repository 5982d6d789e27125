"""What every step needs: settings, the catalog, the shared SparkSession and the clock."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING

from jobs.catalog import Catalog, Resource, load_catalog
from jobs.settings import Settings, load_settings

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

log = logging.getLogger("citylake")


@dataclass
class Runtime:
    settings: Settings
    now: datetime = field(default_factory=lambda: datetime.now().replace(microsecond=0))

    @cached_property
    def catalog(self) -> Catalog:
        return load_catalog(self.settings.catalog_dirs)

    @cached_property
    def spark(self) -> SparkSession:
        from jobs.io.spark import get_spark

        return get_spark(self.settings)

    def resource(self, name: str) -> Resource:
        return self.catalog.resource(name)


def runtime(settings: Settings | None = None, now: datetime | None = None) -> Runtime:
    rt = Runtime(settings or load_settings())
    if now is not None:
        rt.now = now
    return rt
