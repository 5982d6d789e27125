"""Delta Lake reads and writes: idempotent appends, MERGE upserts, table creation.

Every append that must happen exactly once carries Delta's idempotent-write transaction id
(`txnAppId` + `txnVersion`): a retried task writes the same id, and Delta turns the write into a no-op.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from jobs.io.frames import single_row
from jobs.io.tables import remember

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
    """Create an empty table with `schema` unless one is there already."""
    from delta.tables import DeltaTable

    builder = DeltaTable.createIfNotExists(spark).location(str(path)).addColumns(schema)
    if partition_by:
        builder = builder.partitionedBy(*partition_by)
    for key, value in (properties or {}).items():
        builder = builder.property(key, value)
    builder.execute()
    remember(spark, str(path))


def append_once(df: DataFrame, path: Location, *, txn_app_id: str, txn_version: int = 1,
                partition_by: Sequence[str] = (), merge_schema: bool = False) -> None:
    """Append `df` unless a write with the same transaction id already committed.

    `merge_schema` lets the append add columns the table lacks (schema evolution).
    """
    writer = (
        df.write.format("delta").mode("append")
        .option("txnAppId", txn_app_id).option("txnVersion", str(txn_version))
    )
    if merge_schema:
        writer = writer.option("mergeSchema", "true")
    if partition_by:
        writer = writer.partitionBy(*partition_by)
    writer.save(str(path))
    remember(df.sparkSession, str(path))


def is_empty(spark: SparkSession, path: Location) -> bool:
    """True when the table holds no rows (reads at most one file's footer, not the data)."""
    return read(spark, path).isEmpty()


def delete_where(spark: SparkSession, path: Location, condition: Column) -> None:
    """Delete the matching rows in one commit."""
    from delta.tables import DeltaTable

    DeltaTable.forPath(spark, str(path)).delete(condition)


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
           newer_than: str | None = None) -> dict[str, int]:
    """MERGE `source` into the table at `path` on `keys`.

    With `newer_than` (a column name), a matched row is only replaced by a source row at least as new,
    so re-running an old batch after a newer one cannot roll rows back.

    Returns:
        Delta's operation metrics: rows inserted, updated, and read from the source.
    """
    from delta.tables import DeltaTable

    target = DeltaTable.forPath(spark, str(path))
    before = version(spark, path)
    cond = " AND ".join(f"t.`{k}` <=> s.`{k}`" for k in keys)
    update_cond = f"s.`{newer_than}` >= t.`{newer_than}`" if newer_than else None
    (
        target.alias("t").merge(source.alias("s"), cond)
        .whenMatchedUpdateAll(condition=update_cond)
        .whenNotMatchedInsertAll()
        .execute()
    )
    last = single_row(target.history(1).select("version", "operationMetrics"))
    if int(last[0]) == before:  # an empty source commits nothing; the latest commit is an older one
        return {"inserted": 0, "updated": 0, "source": 0}
    metrics = last[1] or {}
    return {
        "inserted": int(metrics.get("numTargetRowsInserted", 0)),
        "updated": int(metrics.get("numTargetRowsUpdated", 0)),
        "source": int(metrics.get("numSourceRows", 0)),
    }
