"""Spark schemas derived from a catalog resource: bronze (all strings + lineage) and silver (typed).

Silver types come from the catalog, never from inference.
"""

from __future__ import annotations

from pyspark.sql import types as T

from jobs.catalog.model import DataItem, Resource

#: Lineage columns every bronze row carries.
BRONZE_LINEAGE = T.StructType(
    [
        T.StructField("_source_file", T.StringType(), False),
        T.StructField("_source_sha256", T.StringType(), False),
        T.StructField("_row_number", T.LongType(), False),
        T.StructField("_parse_error", T.StringType(), True),
        T.StructField("_rescued", T.MapType(T.StringType(), T.StringType()), True),
        T.StructField("_batch_id", T.StringType(), False),
        T.StructField("_ingested_at", T.TimestampType(), False),
        T.StructField("_ingest_date", T.DateType(), False),
    ]
)

#: Lineage columns kept in silver, so every row can be traced back to its line in its file.
SILVER_LINEAGE = T.StructType(
    [
        T.StructField("_batch_id", T.StringType(), False),
        T.StructField("_source_file", T.StringType(), False),
        T.StructField("_row_number", T.LongType(), False),
        T.StructField("_ingested_at", T.TimestampType(), False),
    ]
)


def spark_type(item: DataItem) -> T.DataType:
    """The silver Spark type of a data item."""
    if item.type == "string":
        return T.StringType()
    if item.type == "integer":
        return T.LongType()
    if item.type == "decimal":
        return T.DecimalType(item.precision or 18, item.scale or 0)
    if item.type == "date":
        return T.DateType()
    if item.type == "timestamp":
        # Department exports carry wall-clock times without a zone: keep them as such, so every
        # reader (Spark in any session time zone, pandas, delta-rs) sees the same 09:00.
        return T.TimestampNTZType()
    return T.BooleanType()


def source_schema(resource: Resource) -> T.StructType:
    """Every data item as a nullable string, in catalog order."""
    return T.StructType([T.StructField(i.name, T.StringType(), True) for i in resource.items])


def bronze_schema(resource: Resource) -> T.StructType:
    return T.StructType(source_schema(resource).fields + BRONZE_LINEAGE.fields)


def silver_schema(resource: Resource) -> T.StructType:
    typed = [
        T.StructField(i.name, spark_type(i), not (i.required or i.name in resource.primary_key))
        for i in resource.items
    ]
    return T.StructType(typed + SILVER_LINEAGE.fields)


#: the version columns silver adds for `history: scd2` (not in audit: a batch is one version of each record)
SCD2_COLUMNS = T.StructType(
    [
        T.StructField("_valid_from", T.TimestampType(), False),
        T.StructField("_valid_to", T.TimestampType(), True),
        T.StructField("_is_current", T.BooleanType(), False),
    ]
)


def silver_table_schema(resource: Resource) -> T.StructType:
    """The silver table's schema: the conformed row, plus the version columns of an `scd2` resource."""
    base = silver_schema(resource)
    return T.StructType(base.fields + SCD2_COLUMNS.fields) if resource.history == "scd2" else base
