"""Downloadable files of an open table: a CSV in UTF-8 with BOM (so Excel shows Chinese correctly)
with Chinese column titles, and a field dictionary that states the de-identification per field."""

from __future__ import annotations

import csv
import shutil
import tempfile
from pathlib import Path

from pyspark.sql import DataFrame

from jobs.catalog.model import Resource
from jobs.transforms.masking import technique

BOM = "\ufeff".encode("utf-8")
UPDATED_TITLE = "数据更新时间"


def column_titles(resource: Resource, columns: list[str]) -> list[str]:
    titles = {i.name: i.title for i in resource.items}
    titles["data_updated_at"] = UPDATED_TITLE
    return [titles.get(c, c) for c in columns]


def write_csv(df: DataFrame, resource: Resource, target: Path) -> Path:
    """Write `df` as one CSV file at `target` (replaced atomically), header in Chinese titles."""
    target.parent.mkdir(parents=True, exist_ok=True)
    titled = df.toDF(*column_titles(resource, df.columns))
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        out = Path(tmp) / "spark"
        (titled.coalesce(1).write.option("header", "true").option("escape", '"').option("quote", '"')
         .option("timestampFormat", "yyyy-MM-dd HH:mm:ss").option("encoding", "UTF-8").csv(str(out)))
        parts = sorted(out.glob("part-*.csv"))
        staged = Path(tmp) / target.name
        with staged.open("wb") as dst:
            dst.write(BOM)
            if parts:
                for part in parts:
                    with part.open("rb") as src:
                        shutil.copyfileobj(src, dst)
            else:  # no rows: Spark writes no part file, the header alone is still a valid download
                dst.write((",".join(titled.columns) + "\r\n").encode("utf-8"))
        staged.replace(target)
    return target


def write_field_dictionary(resource: Resource, columns: list[str], target: Path) -> Path:
    """英文信息项名, 中文信息项名, 数据类型, 中文描述, and the technique used on each published field."""
    target.parent.mkdir(parents=True, exist_ok=True)
    items = {i.name: i for i in resource.items}
    with target.open("w", encoding="utf-8-sig", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["英文信息项名", "中文信息项名", "数据类型", "中文描述", "脱敏方式"])
        for c in columns:
            if c in items:
                it = items[c]
                w.writerow([c, it.title, it.type, it.description, technique(it)])
            else:
                w.writerow([c, UPDATED_TITLE, "timestamp", "该记录最近一次入湖时间", "none"])
        for it in resource.items:
            if it.name not in columns:
                w.writerow([it.name, it.title, it.type, it.description, technique(it)])
    return target
