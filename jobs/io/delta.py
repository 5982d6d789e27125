"""Delta Lake reads and writes: idempotent appends, MERGE upserts, table creation.

Every append that must happen exactly once carries Delta's idempotent-write transaction id
(`txnAppId` + `txnVersion`): a retried task writes the same id, and Delta turns the write into a no-op.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from jobs.io.frames import single_row
from jobs.io.tables import remember
from jobs.sql_text import sql_literal

Location = str | Path  # a folder or an object-store URI (s3a://...)

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession
    from pyspark.sql.types import StructType


def exists(spark: SparkSession, path: Location) -> bool:
    from delta.tables import DeltaTable

    return DeltaTable.isDeltaTable(spark, str(path))


def read(spark: SparkSession, path: Location) -> DataFrame:
    return spark.read.format("delta").load(str(path))


def read_or_empty(spark: SparkSession, path: Location, schema: StructType) -> DataFrame:
    """The table, or an empty frame of `schema` when it was never written."""
    if exists(spark, path):
        return read(spark, path)
    return spark.createDataFrame([], schema)


def ensure_table(spark: SparkSession, path: Location, schema: StructType, *,
                 partition_by: Sequence[str] = (), properties: dict[str, str] | None = None) -> None:
    """Create an empty table with `schema` unless one is there already; a table made before `properties`
    were asked for gets them set (one commit, once)."""
    from delta.tables import DeltaTable

    wanted = (str(path), tuple(sorted((properties or {}).items())))
    # a long-lived step server checks an existing table's properties once, not on every batch
    if properties and wanted not in _ensured and exists(spark, path):
        held = table_properties(spark, path)
        missing = {k: v for k, v in properties.items() if held.get(k) != v}
        if missing:
            listed = ", ".join(f"{sql_literal(k)} = {sql_literal(v)}" for k, v in missing.items())
            spark.sql(f"ALTER TABLE delta.`{path}` SET TBLPROPERTIES ({listed})")
    builder = DeltaTable.createIfNotExists(spark).location(str(path)).addColumns(schema)
    if partition_by:
        builder = builder.partitionedBy(*partition_by)
    for key, value in (properties or {}).items():
        builder = builder.property(key, value)
    builder.execute()
    remember(spark, str(path))
    _ensured.add(wanted)


#: (location, properties) of the tables this process made sure hold their properties
_ensured: set[tuple[str, tuple[tuple[str, str], ...]]] = set()


def table_properties(spark: SparkSession, path: Location) -> dict[str, str]:
    """The table's properties (`delta.enableChangeDataFeed`, ...)."""
    from delta.tables import DeltaTable

    return dict(single_row(DeltaTable.forPath(spark, str(path)).detail().select("properties"))[0] or {})


def append_once(df: DataFrame, path: Location, *, txn_app_id: str, txn_version: int = 1,
                partition_by: Sequence[str] = (), merge_schema: bool = False, note: str | None = None) -> None:
    """Append `df` unless a write with the same transaction id already committed.

    `merge_schema` lets the append add columns the table lacks (schema evolution); `note` is the commit's
    `userMetadata` (`jobs.io.history.commit_note`: which batch of which step).
    """
    writer = (
        df.write.format("delta").mode("append")
        .option("txnAppId", txn_app_id).option("txnVersion", str(txn_version))
    )
    if note is not None:
        writer = writer.option("userMetadata", note)
    if merge_schema:
        writer = writer.option("mergeSchema", "true")
    if partition_by:
        writer = writer.partitionBy(*partition_by)
    writer.save(str(path))
    remember(df.sparkSession, str(path))


def replace_where(df: DataFrame, path: Location, condition: str, *, note: str | None = None) -> None:
    """Replace the rows matching the SQL `condition` by `df` in one commit (Delta's `replaceWhere`): readers
    see the old rows or the new ones, never neither; repeating it gives the same table."""
    writer = df.write.format("delta").mode("overwrite").option("replaceWhere", condition)
    if note is not None:
        writer = writer.option("userMetadata", note)
    writer.save(str(path))


def is_empty(spark: SparkSession, path: Location) -> bool:
    """True when the table holds no rows (reads at most one file's footer, not the data)."""
    return read(spark, path).isEmpty()


def delete_where(spark: SparkSession, path: Location, condition: Column, *, note: str | None = None) -> None:
    """Delete the matching rows in one commit (`note`: its `userMetadata`)."""
    from delta.tables import DeltaTable

    with noted(spark, note) as session:
        DeltaTable.forPath(session, str(path)).delete(condition)


@contextmanager
def noted(spark: SparkSession, note: str | None) -> Iterator[SparkSession]:
    """A session whose next Delta commits carry `note` as their `userMetadata`.

    Delta's MERGE, UPDATE and DELETE take no writer options: the note can only come from the session
    configuration, read from the thread's active session when the commit is made. The step server runs
    several steps of one session in threads side by side, so the note goes into a child session (its own
    SQL configuration; the same Spark context, cached data and Delta logs), made the thread's active session
    for the duration; the shared session never carries one step's note into another step's commit.
    """
    if note is None:
        yield spark
        return
    child = spark.newSession()
    child.conf.set("spark.databricks.delta.commitInfo.userMetadata", note)
    active = spark._jvm.org.apache.spark.sql.SparkSession  # type: ignore[union-attr]
    previous = active.getActiveSession()
    active.setActiveSession(child._jsparkSession)
    try:
        yield child
    finally:
        if previous.isDefined():
            active.setActiveSession(previous.get())
        else:
            active.clearActiveSession()


def overwrite(df: DataFrame, path: Location, *, user_metadata: str | None = None,
              partition_by: Sequence[str] = ()) -> None:
    """Replace the table's content (and schema) in one commit; readers see old or new, never half.

    `user_metadata` is stored in the commit (Delta's `userMetadata`), e.g. what the content derives from.
    """
    writer = df.write.format("delta").mode("overwrite").option("overwriteSchema", "true")
    if partition_by:
        writer = writer.partitionBy(*partition_by)
    if user_metadata is not None:
        writer = writer.option("userMetadata", user_metadata)
    writer.save(str(path))
    remember(df.sparkSession, str(path))


def version(spark: SparkSession, path: Location) -> int:
    """The table's current version."""
    from delta.tables import DeltaTable

    return int(single_row(DeltaTable.forPath(spark, str(path)).history(1).select("version"))[0])


def last_user_metadata(spark: SparkSession, path: Location) -> str | None:
    """`userMetadata` of the table's latest commit, or None (also when there is no table)."""
    from delta.tables import DeltaTable

    if not exists(spark, path):
        return None
    return single_row(DeltaTable.forPath(spark, str(path)).history(1).select("userMetadata"))[0]


def upsert(spark: SparkSession, source: DataFrame, path: Location, *, keys: Sequence[str],
           newer_than: str | None = None, note: str | None = None) -> dict[str, int]:
    """MERGE `source` into the table at `path` on `keys` (`note`: the commit's `userMetadata`).

    With `newer_than` (a column name), a matched row is only replaced by a source row at least as new,
    so re-running an old batch after a newer one cannot roll rows back.

    Returns:
        Delta's operation metrics: rows inserted, updated, and read from the source.
    """
    from delta.tables import DeltaTable

    before = version(spark, path)
    cond = " AND ".join(f"t.`{k}` <=> s.`{k}`" for k in keys)
    update_cond = f"s.`{newer_than}` >= t.`{newer_than}`" if newer_than else None
    with noted(spark, note) as session:
        (
            DeltaTable.forPath(session, str(path)).alias("t").merge(source.alias("s"), cond)
            .whenMatchedUpdateAll(condition=update_cond)
            .whenNotMatchedInsertAll()
            .execute()
        )
    return _merge_metrics(spark, path, before)


def merge_versions(spark: SparkSession, staged: DataFrame, path: Location, *, condition: str,
                   close: Mapping[str, str], note: str | None = None) -> dict[str, int]:
    """MERGE a staged SCD2 source (`jobs.transforms.versions.staged_versions`) into the table at `path` in
    one commit: matched rows are the current versions `close` ends, every other source row is inserted with
    the table's columns. Returns the metrics of `upsert`."""
    from delta.tables import DeltaTable

    before = version(spark, path)
    columns = read(spark, path).columns
    with noted(spark, note) as session:
        (
            DeltaTable.forPath(session, str(path)).alias("t").merge(staged.alias("s"), condition)
            .whenMatchedUpdate(set=dict(close))
            .whenNotMatchedInsert(values={c: f"s.`{c}`" for c in columns})
            .execute()
        )
    return _merge_metrics(spark, path, before)


def metrics_since(spark: SparkSession, path: Location, before: int) -> dict[str, int]:
    """The operation metrics of the table's latest commit, or `{}` when nothing was committed after version
    `before` (a MERGE or UPDATE that matched nothing commits nothing; the latest commit is then an older one)."""
    from delta.tables import DeltaTable

    last = single_row(DeltaTable.forPath(spark, str(path)).history(1).select("version", "operationMetrics"))
    if int(last[0]) == before:
        return {}
    return {k: int(v) for k, v in (last[1] or {}).items() if str(v).lstrip("-").isdigit()}


def _merge_metrics(spark: SparkSession, path: Location, before: int) -> dict[str, int]:
    metrics = metrics_since(spark, path, before)
    return {"inserted": metrics.get("numTargetRowsInserted", 0), "updated": metrics.get("numTargetRowsUpdated", 0),
            "source": metrics.get("numSourceRows", 0)}
