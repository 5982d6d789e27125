"""De-identification of silver rows for open tables, as the catalog declares per field.

`drop` suppresses the column; `mask` applies the common mask of the field's PII class
(GB/T 37964 masking): a name keeps its surname, a mobile keeps 3 + 4 digits, a resident ID keeps
its six-digit division prefix, an address is cut before the house number (or starred out whole when
it is no Chinese street address); `generalize` and `pseudonymize` are in their own modules.
"""

from __future__ import annotations

import logging

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from jobs.catalog.model import DataItem, Resource
from jobs.transforms.generalize import describe, generalize
from jobs.transforms.pseudonym import pseudonymize


def mask_name(value: Column) -> Column:
    """张三丰 -> 张**."""
    stars = F.repeat(F.lit("*"), F.greatest(F.char_length(value) - 1, F.lit(1)))
    return F.when(value.isNotNull(), F.concat(F.substring(value, 1, 1), stars))


def mask_phone(value: Column) -> Column:
    """13812345678 -> 138****5678; anything shorter than 7 characters is starred out whole."""
    digits = F.regexp_replace(F.regexp_replace(value, r"[\s\-]", ""), r"^(\+86|0086)", "")
    return (
        F.when(digits.isNull(), F.lit(None))
        .when(F.char_length(digits) >= 7,
              F.concat(F.substring(digits, 1, 3), F.lit("****"), F.substring(digits, -4, 4)))
        .otherwise(F.lit("****"))
    )


def mask_resident_id(value: Column) -> Column:
    """510104199001011234 -> 510104************."""
    stars = F.repeat(F.lit("*"), F.greatest(F.char_length(value) - 6, F.lit(0)))
    return F.when(value.isNotNull(), F.concat(F.substring(value, 1, 6), stars))


log = logging.getLogger("citylake")

#: What an address becomes when it cannot be cut the Chinese way: all of it is hidden, and visibly so.
ADDRESS_STARRED = "***"


def _address_cut(value: Column) -> Column:
    # a sub-district (街道) wins over a street name inside it: 浆洗街街道 is cut after 街道, not after 浆洗街
    return F.regexp_extract(value, r"^(.*?街道|.*?(路|街|镇|乡))", 1)


def address_cuttable(value: Column) -> Column:
    """True when an address can be masked the Chinese way: it names a street, road, township or
    sub-district, and the text up to that name holds no digit and no 号 (no house, building or phone
    number before the street)."""
    cut = _address_cut(value)
    return (cut != "") & ~cut.rlike("[0-9０-９号]")


def mask_address(value: Column) -> Column:
    """Keep the text up to the street / road / township name and drop the house number:
    成都市武侯区浆洗街街道洗面桥街18号3栋 -> 成都市武侯区浆洗街街道.

    Any other address (no 街道 / 路 / 街 / 镇 / 乡 in it: 天府大道中段1268号, a village group, an
    address in another script; or a number before the street) becomes `***`. The catalog cannot
    promise what a column holds (the loader could refuse `mask` for an item not "declared Chinese",
    but one department's column mixes street addresses with 大道, 村 and 园区 ones), so the mask must be
    safe for every value: neither kept in part (a leading part of a non-Chinese address starts with
    its house number) nor emptied, which would make a hidden address look like a missing one.
    `to_open` logs how many values were starred out.
    """
    return F.when(value.isNull(), F.lit(None)).when(address_cuttable(value), _address_cut(value)) \
        .otherwise(F.lit(ADDRESS_STARRED))


MASKS = {"name": mask_name, "phone": mask_phone, "resident_id": mask_resident_id, "address": mask_address}


def open_column(item: DataItem, *, pseudonym_key: str | None = None) -> Column | None:
    """The published form of one item, or None when it is suppressed."""
    if item.publish == "drop":
        return None
    col = F.col(item.name)
    if item.publish == "mask":
        return MASKS[item.pii](col.cast("string")).alias(item.name)
    if item.publish == "generalize":
        return generalize(col, item.generalize).alias(item.name)
    if item.publish == "pseudonymize":
        return pseudonymize(col, pseudonym_key).alias(item.name)
    return col


def technique(item: DataItem) -> str:
    """The de-identification technique applied to a field, as the field dictionary states it."""
    if item.publish == "drop":
        return "suppression"
    if item.publish == "mask":
        return f"masking ({item.pii})"
    if item.publish == "generalize":
        return describe(item.generalize)
    if item.publish == "pseudonymize":
        return "pseudonymisation (HMAC-SHA256, keyed)"
    return "none"


def starred_addresses(silver: DataFrame, resource: Resource) -> dict[str, tuple[int, int]]:
    """Per address item masked on publish: (values `mask_address` stars out whole, values present).

    One aggregation over the address columns; no job at all when the resource masks no address.
    """
    items = [i.name for i in resource.items if i.publish == "mask" and i.pii == "address"]
    if not items:
        return {}
    counts = []
    for name in items:
        value = F.col(name).cast("string")
        counts += [F.count_if(value.isNotNull() & ~address_cuttable(value)).alias(f"{name}:starred"),
                   F.count(value).alias(f"{name}:present")]
    row = silver.select(*counts).collect()[0]  # a global aggregate has exactly one row
    return {name: (int(row[f"{name}:starred"] or 0), int(row[f"{name}:present"] or 0)) for name in items}


def warn_starred_addresses(silver: DataFrame, resource: Resource) -> None:
    """Log a warning naming each masked address item whose values could not all be masked the Chinese
    way, with how many were starred out instead, so that a department's change of address style shows.
    Called by the publish step (it runs a Spark job; `to_open` stays a plan, no job)."""
    for name, (starred, present) in starred_addresses(silver, resource).items():
        if starred:
            log.warning("open %s.%s: %d of %d addresses name no street, road or township (or hold a number "
                        "before it) and are published as %s", resource.name, name, starred, present,
                        ADDRESS_STARRED)


def to_open(silver: DataFrame, resource: Resource, *, pseudonym_key: str | None = None) -> DataFrame:
    """Silver rows -> open rows: each field de-identified as declared, lineage reduced to the update time."""
    cols = [c for c in (open_column(i, pseudonym_key=pseudonym_key) for i in resource.items) if c is not None]
    cols.append(F.col("_ingested_at").alias("data_updated_at"))
    if resource.open.history:  # every version, each with its validity (jobs.transforms.versions)
        cols += [F.col("_valid_from").alias("valid_from"), F.col("_valid_to").alias("valid_to")]
    return silver.select(*cols)
