"""`ops.catalog`: the catalog itself as a lake table, so analysts can query what the lake holds."""

from __future__ import annotations

from pyspark.sql import types as T

from jobs.catalog.describe import CATALOG_COLUMNS, catalog_row
from jobs.io import delta
from jobs.settings import Settings
from jobs.steps.runtime import log, runtime

SCHEMA = T.StructType([T.StructField(c, T.LongType() if c == "items_count" else T.StringType(), True)
                       for c in CATALOG_COLUMNS])


def sync_catalog_table(*, settings: Settings | None = None) -> int:
    """Replace `ops.catalog` with one row per catalog resource (one commit); returns the row count."""
    rt = runtime(settings)
    rows = [catalog_row(rt.catalog, r) for _, r in sorted(rt.catalog.resources.items())]
    frame = rt.spark.createDataFrame([tuple(r[c] for c in CATALOG_COLUMNS) for r in rows], SCHEMA)
    delta.overwrite(frame, rt.settings.table_path("ops", "catalog"))
    log.info("ops.catalog: %d resources", len(rows))
    return len(rows)
