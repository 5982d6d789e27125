"""A scanner for personal identifiers in data about to be published.

It does not trust the catalog's masking: it looks at the values. Any string cell that contains an
18-digit resident ID (or a legacy 15-digit one) or a mainland mobile number blocks the publish.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from jobs.io.frames import single_row

#: Patterns of direct identifiers, without word boundaries a masked value would still satisfy.
PATTERNS = {
    "resident_id": (
        r"(?<![0-9])[1-9][0-9]{5}(18|19|20)[0-9]{2}(0[1-9]|1[0-2])(0[1-9]|[12][0-9]|3[01])[0-9]{3}[0-9Xx](?![0-9])"
    ),
    "mobile": r"(?<![0-9])1[3-9][0-9]{9}(?![0-9])",
}


@dataclass(frozen=True)
class Finding:
    column: str
    kind: str
    count: int


def scan_text(text: str) -> list[str]:
    """Kinds of identifiers found in one string (for files and tests)."""
    return [kind for kind, pattern in PATTERNS.items() if re.search(pattern, text)]


def scan_frame(df: DataFrame) -> list[Finding]:
    """Count cells per string column that contain an identifier, in one aggregation."""
    string_cols = [f.name for f in df.schema.fields if isinstance(f.dataType, T.StringType)]
    if not string_cols:
        return []
    aggs = [
        F.count_if(F.col(f"`{c}`").rlike(p)).alias(f"{c}\u0000{kind}")
        for c in string_cols
        for kind, p in PATTERNS.items()
    ]
    row = single_row(df.agg(*aggs))
    findings = []
    for key, count in row.asDict().items():
        if count:
            column, kind = key.split("\u0000")
            findings.append(Finding(column, kind, int(count)))
    return findings
