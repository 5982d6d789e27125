"""k-anonymity over the declared quasi-identifiers of an open table.

After de-identification, every combination of quasi-identifier values must be shared by at least k
published rows, or those rows could single a person out (GB/T 37964). Rows of smaller groups are
suppressed — counted, never silently — so the publish can report rows published + rows suppressed =
rows in silver.
"""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

SUPPRESSED = "_k_suppressed"


def mark_small_groups(df: DataFrame, *, quasi_identifiers: Sequence[str], k: int) -> DataFrame:
    """`df` plus a boolean `_k_suppressed`: the row's quasi-identifier combination has fewer than k rows.

    Nulls form their own group, as a reader of the published table would see them.
    """
    if not quasi_identifiers:
        return df.withColumn(SUPPRESSED, F.lit(False))
    size = F.count(F.lit(1)).over(Window.partitionBy(*[F.col(c) for c in quasi_identifiers]))
    return df.withColumn(SUPPRESSED, size < k)
