"""De-identification of silver rows for open tables, as the catalog declares per field.

`drop` suppresses the column; `mask` applies the common mask of the field's PII class
(GB/T 37964 masking): a name keeps its surname, a mobile keeps 3 + 4 digits, a resident ID keeps
its six-digit division prefix, an address is cut before the house number; `generalize` and
`pseudonymize` are in their own modules.
"""

from __future__ import annotations

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


def mask_address(value: Column) -> Column:
    """Keep the text up to the street / road / township name and drop the house number."""
    # a sub-district (街道) wins over a street name inside it: 浆洗街街道 is cut after 街道, not after 浆洗街
    return F.regexp_extract(value, r"^(.*?街道|.*?(路|街|镇|乡))", 1)


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


def to_open(silver: DataFrame, resource: Resource, *, pseudonym_key: str | None = None) -> DataFrame:
    """Silver rows -> open rows: each field de-identified as declared, lineage reduced to the update time."""
    cols = [c for c in (open_column(i, pseudonym_key=pseudonym_key) for i in resource.items) if c is not None]
    return silver.select(*cols, F.col("_ingested_at").alias("data_updated_at"))
