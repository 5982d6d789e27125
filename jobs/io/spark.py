"""The one SparkSession factory: local Spark with Delta Lake, configured from `Settings`.

A session is expensive on two cores (about 8 s), so everything in one process shares it:
`get_spark` returns the active session when there is one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from jobs.io.jars import delta_coordinate, resolve_jars
from jobs.settings import Settings

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

TIMEZONE = "Asia/Shanghai"


def spark_conf(settings: Settings, jars: list[str]) -> dict[str, str]:
    """Every Spark setting citylake relies on, in one place."""
    conf = {
        "spark.jars": ",".join(jars),
        "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
        "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
        "spark.sql.catalogImplementation": "in-memory",
        "spark.sql.session.timeZone": TIMEZONE,
        "spark.sql.shuffle.partitions": str(settings.shuffle_partitions),
        "spark.sql.warehouse.dir": str(settings.lake / "_warehouse"),
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.driver.memory": "4g",
        # Open tables must stay readable by delta-rs (pandas / DuckDB / Polars without a JVM).
        "spark.databricks.delta.properties.defaults.enableDeletionVectors": "false",
        "spark.databricks.delta.merge.repartitionBeforeWrite.enabled": "true",
        # Delta rebuilds table state with this many partitions (default 50): on a small machine and
        # small ops tables, 50 tasks per commit cost seconds; scale it with the cluster instead.
        "spark.databricks.delta.snapshotPartitions": str(settings.shuffle_partitions),
    }
    conf.update(settings.extra_spark_conf)
    return conf


def get_spark(settings: Settings, app_name: str = "citylake") -> SparkSession:
    """The active session, or a new one with Delta Lake (resolving its jars on first use)."""
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    jars = [str(p) for p in resolve_jars(settings.jars_dir, [delta_coordinate()])]
    builder = SparkSession.builder.master(settings.spark_master).appName(app_name)
    for key, value in spark_conf(settings, jars).items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    return spark
