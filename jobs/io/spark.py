"""The one SparkSession factory: Spark with Delta Lake, configured from `Settings` alone.

The embedded profile runs `local[*]` on lake folders with an in-memory catalog; production points the same
code at a cluster (`CITYLAKE_SPARK_MASTER`), an `s3a://` lake (hadoop-aws and a few AWS SDK v2 modules) and
a Hive metastore on PostgreSQL (Spark's built-in Hive client with a JDBC metastore). Nothing else differs.

A session is expensive on two cores (about 8 s), so everything in one process shares it:
`get_spark` returns the active session when there is one.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from jobs.io.jars import POSTGRES_JDBC, delta_coordinate, resolve_jars, s3a_coordinates
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
    if settings.jvm_options:
        # Given to spark-submit with the rest of the conf, so it reaches the driver JVM before it starts.
        conf["spark.driver.extraJavaOptions"] = settings.jvm_options
        conf["spark.executor.extraJavaOptions"] = settings.jvm_options
    if settings.lake_on_s3a:
        conf.update(s3a_conf(settings))
        conf["spark.sql.warehouse.dir"] = f"{settings.lake_uri}/_warehouse"
    if settings.metastore_url:
        conf.update(metastore_conf(settings))
        # JDBC's DriverManager only sees drivers of the JVM's own class path, not those added by spark.jars
        drivers = [j for j in jars if Path(j).name.startswith("postgresql-")]
        if drivers:
            conf["spark.driver.extraClassPath"] = os.pathsep.join(drivers)
    conf.update(settings.extra_spark_conf)
    return conf


def s3a_conf(settings: Settings) -> dict[str, str]:
    """hadoop-aws against the configured endpoint; credentials (see `hadoop_secrets`) or else the AWS chain."""
    conf = {
        "spark.hadoop.fs.s3a.impl": "org.apache.hadoop.fs.s3a.S3AFileSystem",
        "spark.hadoop.fs.s3a.endpoint.region": settings.s3_region,
        # S3-compatible servers of a data center are addressed by path, not by virtual host
        "spark.hadoop.fs.s3a.path.style.access": "true",
        # no vectored or analytics-accelerated reads: plain GETs work against every S3-compatible server
        "spark.hadoop.fs.s3a.input.stream.type": "classic",
    }
    if settings.s3_endpoint:
        conf["spark.hadoop.fs.s3a.endpoint"] = settings.s3_endpoint
        conf["spark.hadoop.fs.s3a.connection.ssl.enabled"] = str(settings.s3_endpoint.startswith("https")).lower()
    if settings.s3_access_key and settings.s3_secret_key:
        conf["spark.hadoop.fs.s3a.aws.credentials.provider"] = \
            "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider"
    return conf


def hadoop_secrets(settings: Settings) -> dict[str, str]:
    """Credentials Spark needs, set on the running session's Hadoop configuration instead of the Spark conf.

    Spark conf is handed to `spark-submit` as command-line arguments (visible to every user of the host
    in `ps`) and echoed by debug logging; the Hadoop configuration travels to executors inside the job.
    """
    out = {}
    if settings.lake_on_s3a and settings.s3_access_key and settings.s3_secret_key:
        out["fs.s3a.access.key"] = settings.s3_access_key
        out["fs.s3a.secret.key"] = settings.s3_secret_key
    if settings.metastore_url and settings.metastore_password:
        out["javax.jdo.option.ConnectionPassword"] = settings.metastore_password
    return out


def metastore_conf(settings: Settings) -> dict[str, str]:
    """Spark's built-in Hive client on a JDBC metastore: table names outlive the session and are shared
    by every task and analyst session. DataNucleus creates the metastore schema on first use."""
    conf = {
        "spark.sql.catalogImplementation": "hive",
        "spark.hadoop.javax.jdo.option.ConnectionURL": str(settings.metastore_url),
        "spark.hadoop.javax.jdo.option.ConnectionDriverName": _jdbc_driver(str(settings.metastore_url)),
        # DataNucleus creates a metastore table on first use, on its own connection. Adding a foreign key
        # then waits for the lock held by the transaction that first needed the table: on PostgreSQL the
        # first CREATE TABLE of a fresh metastore hangs for good. Hive's own code keeps parents and
        # children consistent, so tables and columns are created, foreign keys are not (`autoCreateAll`
        # would switch them back on).
        "spark.hadoop.datanucleus.schema.autoCreateAll": "false",
        "spark.hadoop.datanucleus.schema.autoCreateTables": "true",
        "spark.hadoop.datanucleus.schema.autoCreateColumns": "true",
        "spark.hadoop.datanucleus.schema.autoCreateConstraints": "false",
        "spark.hadoop.hive.metastore.schema.verification": "false",
        # Hive's direct-SQL probe fails on a fresh schema and PostgreSQL then aborts the whole transaction;
        # Delta tables have no Hive partitions, so the JDO path costs nothing here
        "spark.hadoop.hive.metastore.try.direct.sql": "false",
        # Delta tables keep their schema in _delta_log; the metastore only maps names to locations
        "spark.sql.legacy.createHiveTableByDefault": "false",
    }
    if settings.metastore_user:
        conf["spark.hadoop.javax.jdo.option.ConnectionUserName"] = settings.metastore_user
    return conf


def _jdbc_driver(url: str) -> str:
    if url.startswith("jdbc:postgresql:"):
        return "org.postgresql.Driver"
    if url.startswith("jdbc:derby:"):
        return "org.apache.derby.jdbc.EmbeddedDriver"
    from jobs.errors import ConfigurationError

    raise ConfigurationError(f"CITYLAKE_METASTORE_URL={url.split('?')[0]!r}: only jdbc:postgresql: (or jdbc:derby: "
                             "for a throwaway metastore) is supported")


def spark_jars(settings: Settings) -> list[str]:
    """Delta Lake always; hadoop-aws for an s3a lake; the JDBC driver of a PostgreSQL metastore."""
    groups = [[delta_coordinate()]]
    if settings.lake_on_s3a:
        groups.append(s3a_coordinates())
    if (settings.metastore_url or "").startswith("jdbc:postgresql:"):
        groups.append([POSTGRES_JDBC])
    return [str(p) for group in groups for p in resolve_jars(settings.jars_dir, group)]


def get_spark(settings: Settings, app_name: str = "citylake") -> SparkSession:
    """The active session, or a new one with Delta Lake (resolving its jars on first use)."""
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    jars = spark_jars(settings)
    builder = SparkSession.builder.master(settings.spark_master).appName(app_name)
    for key, value in spark_conf(settings, jars).items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    hadoop_conf = spark.sparkContext._jsc.hadoopConfiguration()  # type: ignore[union-attr]
    for key, value in hadoop_secrets(settings).items():
        hadoop_conf.set(key, value)
    spark.sparkContext.setLogLevel("WARN")
    return spark
