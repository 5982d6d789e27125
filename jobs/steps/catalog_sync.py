"""`open.catalog` / `restricted.catalog`: one row per published dataset, for analysts and BI tools.

Rebuilt whole from the zone's records after each publish (a blind overwrite, so two publishes never
conflict on it), with fields and distributions as arrays of structs rather than JSON strings.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from pyspark.sql import SparkSession
from pyspark.sql import types as T

from jobs.io import delta
from jobs.publish.records import OpenDataset

FIELD = T.StructType([T.StructField(n, T.StringType()) for n in ("name", "title", "type", "deidentification")])
DISTRIBUTION = T.StructType([
    T.StructField("format", T.StringType()), T.StructField("url", T.StringType()),
    T.StructField("latest_url", T.StringType()), T.StructField("size", T.LongType()),
    T.StructField("sha256", T.StringType()), T.StructField("rows", T.LongType()),
])
SCHEMA = T.StructType([
    T.StructField("code", T.StringType(), False), T.StructField("name", T.StringType()),
    T.StructField("kind", T.StringType()), T.StructField("source", T.StringType()),
    T.StructField("title", T.StringType()), T.StructField("title_en", T.StringType()),
    T.StructField("summary", T.StringType()), T.StructField("provider_code", T.StringType()),
    T.StructField("provider", T.StringType()), T.StructField("theme", T.StringType()),
    T.StructField("open_type", T.StringType()), T.StructField("update_cycle", T.StringType()),
    T.StructField("issued", T.StringType()), T.StructField("last_updated", T.TimestampType()),
    T.StructField("version", T.LongType()), T.StructField("rows", T.LongType()),
    T.StructField("fields", T.ArrayType(FIELD)), T.StructField("distributions", T.ArrayType(DISTRIBUTION)),
    T.StructField("licence", T.StringType()),
])


def catalog_rows(records: Sequence[OpenDataset], base_url: str) -> list[tuple]:
    base = base_url if base_url.endswith("/") else base_url + "/"
    return [(
        d.code, d.name, d.kind, d.source, d.title, d.title_en, d.summary, d.publisher.code, d.publisher.name,
        d.theme, d.open_type, d.update_cycle_zh, d.issued, datetime.fromisoformat(d.modified).replace(tzinfo=None),
        d.version, d.rows,
        [(f.name, f.title, f.type, f.deidentification) for f in d.fields],
        [(x.format, base + x.path, base + x.latest_path, x.size, x.sha256, x.rows) for x in d.distributions],
        d.licence.url,
    ) for d in records]


def sync_zone_catalog(spark: SparkSession, path: str, records: Sequence[OpenDataset], base_url: str) -> None:
    delta.overwrite(spark.createDataFrame(catalog_rows(records, base_url), SCHEMA), path)
