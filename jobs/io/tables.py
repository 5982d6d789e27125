"""Table names for analysts: every Delta table of the lake as `<zone>.<name>` in the Spark catalog.

The embedded profile keeps no metastore: names are registered in the session from the lake's folders,
which are the single source of truth (a production profile points Spark at a Hive metastore instead).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from jobs.settings import Settings

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

ZONES = ("bronze", "audit", "silver", "quarantine", "open", "restricted", "ops")


def register_tables(spark: SparkSession, settings: Settings) -> list[str]:
    """Register every existing table and return the names."""
    names = []
    for zone in ZONES:
        folder = settings.lake / zone
        if not folder.is_dir():
            continue
        spark.sql(f"CREATE DATABASE IF NOT EXISTS `{zone}`")
        for table in sorted(p for p in folder.iterdir() if (p / "_delta_log").is_dir()):
            location = str(table).replace("'", "\\'")
            spark.sql(f"CREATE TABLE IF NOT EXISTS `{zone}`.`{table.name}` USING delta LOCATION '{location}'")
            names.append(f"{zone}.{table.name}")
    return names
