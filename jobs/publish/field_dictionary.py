"""The field dictionary (数据字典) published with every dataset version: each field's name, Chinese
title, type, description and the de-identification technique applied — so a reader of the open data
knows that 诉求人姓名 is masked and 身份证号码 was suppressed, without asking."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

from jobs.publish.records import FieldInfo

HEADER = ("英文信息项名", "中文信息项名", "数据类型", "中文描述", "脱敏方式")


def write_field_dictionary(fields: Sequence[FieldInfo], suppressed: Sequence[FieldInfo], target: Path) -> Path:
    """Published fields first, then the suppressed ones (technique `suppression`), UTF-8 with BOM."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("w", encoding="utf-8-sig", newline="") as fh:
        w = csv.writer(fh, lineterminator="\r\n")
        w.writerow(HEADER)
        for f in (*fields, *suppressed):
            w.writerow([f.name, f.title, f.type, f.description, f.deidentification])
    return target
