"""Table names for analysts and tasks: every Delta table of the lake as `<zone>.<name>` in the Spark catalog.

Two ways, chosen by settings alone:
- embedded (in-memory catalog): names are registered in each session from the lake's folders, which are
  the single source of truth;
- with a Hive metastore (`CITYLAKE_METASTORE_URL`): every write names its table in the metastore
  (`remember`), so a later task or an analyst's `citylake sql` finds it by name without listing the lake.

Folders are listed and removed through Hadoop's FileSystem, so the same code serves a local lake and an
`s3a://` one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from jobs.io.lake_tables import DELTA_LOG, located
from jobs.settings import Settings
from jobs.sql_text import sql_literal

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

ZONES = ("bronze", "audit", "silver", "quarantine", "open", "restricted", "ops")

_remembered: set[str] = set()
#: zone.table -> location of the names `register_tables` made in this process's session (no metastore)
_registered: dict[str, str] = {}


def uses_metastore(spark: SparkSession) -> bool:
    return spark.conf.get("spark.sql.catalogImplementation", "in-memory") == "hive"


def _zone_and_name(location: str) -> tuple[str, str] | None:
    parts = location.rstrip("/").split("/")
    if len(parts) < 2 or parts[-2] not in ZONES:
        return None
    return parts[-2], parts[-1]


def remember(spark: SparkSession | None, location: str) -> None:
    """Name the Delta table at `location` (`<lake>/<zone>/<name>`) in the metastore, once per session.

    A no-op without a metastore (`spark` None: a writer that needs no Spark, see `Runtime.metastore_spark`),
    and for locations outside a zone folder (scratch tables of tests).
    """
    if spark is None or not uses_metastore(spark) or location in _remembered:
        return
    found = _zone_and_name(location)
    if found is None:
        return
    zone, name = found
    from pyspark.errors import AnalysisException

    try:
        spark.sql(f"CREATE TABLE IF NOT EXISTS `{zone}`.`{name}` USING delta LOCATION {sql_literal(location)}")
    except AnalysisException as exc:
        if "SCHEMA_NOT_FOUND" in str(exc):
            from jobs.errors import ConfigurationError

            raise ConfigurationError(f"the metastore has no database `{zone}`: run `citylake metastore` once "
                                     "before the first DAG run") from exc
        # another task named the same table at the same moment (the unique index let one of them win)
        if "ALREADY_EXISTS" not in str(exc) and "duplicate key" not in str(exc):
            raise
    _remembered.add(location)


#: unique names as Hive's own schema scripts declare them; DataNucleus creates tables without constraints
#: here (see `jobs.io.spark.metastore_conf`), so they are added once, by `init_metastore`
UNIQUE_NAMES = {"UNIQUE_DATABASE": ("DBS", ("NAME",)), "UNIQUETABLE": ("TBLS", ("TBL_NAME", "DB_ID"))}


def init_metastore(spark: SparkSession, settings: Settings, shared: dict[str, str] | None = None) -> list[str]:
    """Prepare a fresh metastore once, before the first DAG run (as `airflow db migrate` does for Airflow).

    DataNucleus creates the metastore's own tables on first use; two tasks doing that at the same moment
    collide. Creating the zone databases and one throwaway table here creates them all up front; the
    unique indexes on database and table names make a name registered twice at once fail for one writer
    instead of existing twice. `shared` (zone.table -> location) are the tables every resource's tasks
    write (ops.*): they are named here, so no two tasks ever race to name them. Returns the zone databases.
    """
    if not uses_metastore(spark):
        from jobs.errors import ConfigurationError

        raise ConfigurationError("no metastore configured: set CITYLAKE_METASTORE_URL (embedded lakes need none)")
    for zone in ZONES:
        warehouse = sql_literal(f"{settings.lake_uri}/_warehouse/{zone}")
        spark.sql(f"CREATE DATABASE IF NOT EXISTS `{zone}` LOCATION {warehouse}")
    probe = f"{settings.lake_uri}/_warehouse/_metastore_probe"
    spark.sql(f"CREATE TABLE IF NOT EXISTS ops.`_metastore_probe` (id INT) USING delta LOCATION {sql_literal(probe)}")
    spark.sql("DROP TABLE IF EXISTS ops.`_metastore_probe`")
    forget(spark, probe)
    _add_unique_names(spark)
    for location in (shared or {}).values():
        remember(spark, location)
    return list(ZONES)


def _add_unique_names(spark: SparkSession) -> None:
    """CREATE UNIQUE INDEX on the metastore database itself, through the JDBC driver Spark already loaded."""
    conf = spark.sparkContext._jsc.hadoopConfiguration()  # type: ignore[union-attr]
    jvm = spark.sparkContext._jvm
    assert jvm is not None
    url = conf.get("javax.jdo.option.ConnectionURL")
    if not url or not url.startswith("jdbc:postgresql:"):
        return
    connection = jvm.java.sql.DriverManager.getConnection(url, conf.get("javax.jdo.option.ConnectionUserName"),
                                                          conf.get("javax.jdo.option.ConnectionPassword"))
    try:
        statement = connection.createStatement()
        for index, (table, columns) in UNIQUE_NAMES.items():
            cols = ", ".join(f'"{c}"' for c in columns)
            statement.execute(f'CREATE UNIQUE INDEX IF NOT EXISTS "{index}" ON "{table}" ({cols})')
    finally:
        connection.close()


def forget(spark: SparkSession, location: str) -> None:
    """Remove the table at `location`: its metastore name and every file under it."""
    found = _zone_and_name(location)
    if found is not None and uses_metastore(spark):
        spark.sql(f"DROP TABLE IF EXISTS `{found[0]}`.`{found[1]}`")
    _remembered.discard(location)
    path, fs = _hadoop_path(spark, location)
    if fs.exists(path):
        fs.delete(path, True)


def _hadoop_path(spark: SparkSession, location: str):  # noqa: ANN202 - py4j objects
    jvm = spark.sparkContext._jvm
    assert jvm is not None
    path = jvm.org.apache.hadoop.fs.Path(location)
    return path, path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())  # type: ignore[union-attr]


def table_locations(spark: SparkSession, settings: Settings, zone: str) -> list[str]:
    """Locations of the Delta tables in one zone folder of the lake (local or object store)."""
    folder, fs = _hadoop_path(spark, f"{settings.lake_uri}/{zone}")
    if not fs.exists(folder):
        return []
    found = []
    for status in fs.listStatus(folder):
        if status.isDirectory() and fs.exists(spark.sparkContext._jvm.org.apache.hadoop.fs.Path(  # type: ignore[union-attr]
                status.getPath(), DELTA_LOG)):
            found.append(status.getPath().getName())
    # the rule and the names are `jobs.io.lake_tables`' (the Spark-free listing of `citylake sql`)
    return [table.location for table in located(settings, zone, found)]


def register_tables(spark: SparkSession, settings: Settings) -> list[str]:
    """Make every table of the lake queryable by name and return the names.

    With a metastore, the names are the ones the tasks recorded (nothing is listed); without one, they are
    registered in this session from the lake's folders.
    """
    if uses_metastore(spark):
        dbs = {row[0] for row in spark.sql("SHOW DATABASES").collect()}
        return sorted(f"{zone}.{t.name}" for zone in ZONES if zone in dbs for t in spark.catalog.listTables(zone))
    wanted: dict[str, str] = {}
    for zone in ZONES:
        for location in table_locations(spark, settings, zone):
            wanted[f"{zone}.{location.rsplit('/', 1)[1]}"] = location
    # a session that served another lake before (one session per worker, settings per task) must not answer
    # with that lake's tables: names of this lake that point elsewhere, or that this lake does not hold, go
    for name, location in list(_registered.items()):
        if wanted.get(name) != location:
            zone, table = name.split(".", 1)
            spark.sql(f"DROP TABLE IF EXISTS `{zone}`.`{table}`")  # external: only the name goes
            del _registered[name]
    for zone in sorted({name.split(".", 1)[0] for name in wanted}):
        spark.sql(f"CREATE DATABASE IF NOT EXISTS `{zone}`")
    for name, location in wanted.items():
        if name not in _registered:
            zone, table = name.split(".", 1)
            spark.sql(f"CREATE TABLE IF NOT EXISTS `{zone}`.`{table}` USING delta LOCATION {sql_literal(location)}")
            _registered[name] = location
    return list(wanted)
