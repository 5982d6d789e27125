"""`ops.catalog`: the catalog itself as a lake table, so analysts can query what the lake holds."""

from __future__ import annotations

import pyarrow as pa

from jobs.catalog.describe import CATALOG_COLUMNS, catalog_row
from jobs.io.deltars import overwrite
from jobs.io.tables import remember
from jobs.settings import Settings
from jobs.steps.runtime import log, runtime

SCHEMA = pa.schema([pa.field(c, pa.int64() if c == "items_count" else pa.string(), nullable=True)
                    for c in CATALOG_COLUMNS])


def sync_catalog_table(*, settings: Settings | None = None) -> int:
    """Replace `ops.catalog` with one row per catalog resource (one commit, by delta-rs: a few hundred rows
    need no JVM); returns the row count."""
    rt = runtime(settings)
    rows = [catalog_row(rt.catalog, r) for _, r in sorted(rt.catalog.resources.items())]
    location = rt.settings.table_path("ops", "catalog")
    overwrite(pa.Table.from_pylist(rows, schema=SCHEMA), location, rt.settings)
    remember(rt.metastore_spark, str(location))
    log.info("ops.catalog: %d resources", len(rows))
    return len(rows)
