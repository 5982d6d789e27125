"""Versions of keyed records (catalog `history: scd2`): which rows of a validated batch are new records,
which are new versions of current ones, and the MERGE source that closes the old version and inserts the
new one in a single commit.

A row is a new version only when one of its non-key items differs from the current version (null-safe),
so a department re-delivering an unchanged record adds nothing; and only when its batch was ingested no
earlier than the current version began, so a late re-run of an older batch can never supersede newer data. Re-running
the same batch after its MERGE committed finds every row already current and stages nothing: exactly once
needs no bookkeeping of its own.

A version is valid from its batch's ingest time (`_ingested_at`: when the lake learnt it) to the next
version's, `_valid_to` null while it is current.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import reduce
from typing import TYPE_CHECKING

from pyspark.sql import functions as F

from jobs.catalog.model import Resource

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

VALID_FROM, VALID_TO, IS_CURRENT = "_valid_from", "_valid_to", "_is_current"
#: the MERGE source's copy of each key: null on rows to insert, so they never match a current version
MERGE_KEY = "_merge_key_"


def current(silver: DataFrame, res: Resource) -> DataFrame:
    """The current rows of a silver table (all of them for a `latest` resource), without version columns:
    what rules, references and `latest` publishing read, whichever history the resource keeps."""
    if res.history != "scd2":
        return silver
    return silver.where(F.col(IS_CURRENT)).drop(VALID_FROM, VALID_TO, IS_CURRENT)


def first_versions(rows: DataFrame) -> DataFrame:
    """A batch's rows as the first version of each record (a first load: nothing to compare against)."""
    return rows.select("*", F.col("_ingested_at").alias(VALID_FROM), F.lit(None).cast("timestamp").alias(VALID_TO),
                       F.lit(True).alias(IS_CURRENT))


def compared_items(res: Resource) -> list[str]:
    """The items whose change makes a new version: every item but the key."""
    return [i.name for i in res.items if i.name not in res.primary_key]


def _same(left: str, right: str, names: Sequence[str]) -> Column:
    return reduce(lambda a, b: a & b, [F.col(f"{left}.`{n}`").eqNullSafe(F.col(f"{right}.`{n}`")) for n in names],
                  F.lit(True))


def staged_versions(rows: DataFrame, silver: DataFrame, res: Resource) -> DataFrame:
    """The MERGE source for a batch against the silver table: for each changed record, one row keyed by
    `_merge_key_<key>` that closes its current version, and one with a null merge key that inserts the new
    version; for each new record, one row that inserts it. Unchanged and out-of-date rows stage nothing."""
    keys = list(res.primary_key)
    live = silver.where(F.col(IS_CURRENT)).select(*[F.col(f"`{k}`") for k in keys],
                                                  *[F.col(f"`{n}`") for n in compared_items(res)],
                                                  F.col(VALID_FROM)).alias("t")
    batch = first_versions(rows).alias("s")
    on = _same("s", "t", keys)
    # at least as new: one ingest call stamps a backlog of exports with one instant, and validate applies
    # them in their files' order (`jobs.io.ops.ingested_batches`); the earlier version's validity is then empty
    newer = F.col(f"s.{VALID_FROM}") >= F.col(f"t.{VALID_FROM}")
    changed = batch.join(live, on, "inner").where(~_same("s", "t", compared_items(res)) & newer).select("s.*")
    fresh = batch.join(live, on, "left_anti")
    closing = changed.select(*[F.col(f"`{k}`").alias(MERGE_KEY + k) for k in keys], "*")
    inserting = changed.unionByName(fresh).select(
        *[F.lit(None).cast(rows.schema[k].dataType).alias(MERGE_KEY + k) for k in keys], "*")
    return closing.unionByName(inserting)


def merge_condition(res: Resource) -> str:
    """Target `t` (silver) against the staged source `s`: the current version of a record being closed."""
    return " AND ".join([f"t.{IS_CURRENT}", *(f"t.`{k}` = s.`{MERGE_KEY}{k}`" for k in res.primary_key)])


def closing_update() -> dict[str, str]:
    """What closing a version sets: it ends where the new version begins."""
    return {VALID_TO: f"s.{VALID_FROM}", IS_CURRENT: "false"}
