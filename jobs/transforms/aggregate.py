"""Aggregate open tables: the indicators the city reports, computed from silver as the catalog declares.

One `groupBy` per table: dimensions are (generalised) items, measures are counts, distinct counts,
sums, averages, extremes and rates. Cells built from fewer rows than `min_count` are suppressed
(small-cell protection) and counted.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from jobs.catalog.opendata import Aggregate, Measure
from jobs.transforms.generalize import generalize

CELL_ROWS = "_cell_rows"


def _matches(m: Measure) -> Column:
    col = F.col(m.of) if m.of else F.lit(True)
    return col.cast("string").isin(list(m.values)) if m.values else col.cast("boolean")


def _measure(m: Measure) -> Column:
    if m.agg == "count":
        value = F.count_if(_matches(m)) if m.values else F.count(F.lit(1))
    elif m.agg == "count_distinct":
        value = F.count_distinct(F.col(str(m.of)))
    elif m.agg == "rate":
        value = F.avg(F.when(F.col(str(m.of)).isNull(), None).otherwise(_matches(m).cast("double")))
    else:
        value = getattr(F, m.agg)(F.col(str(m.of)))
    if m.digits is not None:
        value = F.round(value.cast("double"), m.digits)
    return value.alias(m.name)


def aggregate(silver: DataFrame, spec: Aggregate) -> DataFrame:
    """The aggregate table with a `_cell_rows` column (source rows per cell), sorted by its dimensions."""
    dims = [(generalize(F.col(d.source), d.generalize) if d.generalize else F.col(d.source)).alias(d.name)
            for d in spec.dimensions]
    out = silver.groupBy(*dims).agg(*[_measure(m) for m in spec.measures], F.count(F.lit(1)).alias(CELL_ROWS))
    return out.orderBy(*[d.name for d in spec.dimensions])
