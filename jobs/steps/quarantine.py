"""Quarantine for the people who fix it: open records per resource, and a correction file per department.

A quarantine record stays where it is for good; it is *open* until a later batch of the same resource
delivers its primary key correctly, which marks it corrected (`_corrected_by_batch`, `_corrected_at`;
see `jobs.steps.validate.link_corrections`). The export is what the data engineer sends back: one CSV
per providing department and resource, UTF-8 with BOM so Excel opens it, the raw values under the
catalog's Chinese titles (the layout the department exports in), then why each row was refused, in
Chinese and English, and where it came from.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from jobs.catalog.drift import label_of
from jobs.catalog.model import Resource
from jobs.errors import ConfigurationError
from jobs.io.deltars import local_time, read_table
from jobs.settings import Settings
from jobs.steps.runtime import Runtime, log, runtime

#: Columns after the data items in a correction file.
EXTRA_TITLES = ("问题说明", "Problems", "来源文件", "行号", "批次", "隔离时间")


@dataclass(frozen=True)
class QuarantineSummary:
    resource: str
    department: str
    open: int
    corrected: int
    export: str | None


def quarantine(resource: str | None = None, *, department: str | None = None, export_dir: Path | None = None,
               settings: Settings | None = None, now: datetime | None = None) -> list[QuarantineSummary]:
    """Count open and corrected quarantine records of the chosen resources; optionally write the files.

    Raises:
        ConfigurationError: neither a resource nor a department was named, or the department is unknown.
    """
    rt = runtime(settings, now)
    chosen = _chosen(rt, resource, department)
    summaries = []
    for res in chosen:
        # read by delta-rs, no Spark job: the correction marks to count, every column only for a correction file
        table = read_table(rt.settings.table_path("quarantine", res.name), rt.settings,
                           columns=None if export_dir is not None else ["_corrected_by_batch"])
        if table is None:
            summaries.append(QuarantineSummary(res.name, res.provider, 0, 0, None))
            continue
        still_open = table.filter(pc.is_null(table["_corrected_by_batch"]))
        target = None
        if export_dir is not None and still_open.num_rows:
            target = export_dir / res.provider / f"{res.name}_quarantine_{rt.now:%Y%m%d}.csv"
            write_correction_file(rt, res, still_open, target)
            log.info("quarantine %s: %d open record(s) written to %s", res.name, still_open.num_rows, target)
        summaries.append(QuarantineSummary(res.name, res.provider, still_open.num_rows,
                                           table.num_rows - still_open.num_rows, str(target) if target else None))
    return summaries


def _chosen(rt: Runtime, resource: str | None, department: str | None) -> list[Resource]:
    if resource:
        res = rt.resource(resource)
        if department and res.provider != department:
            raise ConfigurationError(f"{resource} is provided by {res.provider}, not {department}")
        return [res]
    if not department:
        raise ConfigurationError("name a resource or a --department")
    if department not in rt.catalog.departments:
        known = ", ".join(sorted(rt.catalog.departments))
        raise ConfigurationError(f"no department {department!r} in the catalog (known: {known})")
    return list(rt.catalog.resources_of(department))


def write_correction_file(rt: Runtime, res: Resource, open_rows: pa.Table, target: Path) -> Path:
    """One CSV of the open records, oldest first."""
    ordered = open_rows.sort_by([("_quarantined_at", "ascending"), ("_source_file", "ascending"),
                                 ("_row_number", "ascending")])
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".part")
    with tmp.open("w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow([label_of(i, res) for i in res.items] + list(EXTRA_TITLES))
        for row in ordered.to_pylist():
            errors = [r for r in row["reasons"] or [] if r["severity"] == "error"]
            quarantined_at = local_time(row["_quarantined_at"]) if row["_quarantined_at"] else None
            writer.writerow(
                [row[i.name] for i in res.items]
                + ["；".join(r["message_zh"] for r in errors), "; ".join(r["message"] for r in errors),
                   row["_source_file"], row["_row_number"], row["_batch_id"],
                   quarantined_at.strftime("%Y-%m-%d %H:%M:%S") if quarantined_at else ""]
            )
    tmp.replace(target)
    return target
