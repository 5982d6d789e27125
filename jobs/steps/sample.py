"""Sample deliveries: what each department would send, written into landing as the department would.

For the embedded landing folder the exports are written in place; for an S3 landing they are written
to a scratch folder and delivered like a department does (the file, then its completion marker).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from jobs.catalog import load_catalog
from jobs.catalog.model import Resource
from jobs.errors import ConfigurationError
from jobs.io.landing import LocalLanding, landing_for
from jobs.sample.generator import SampleExport, write_days
from jobs.settings import Settings

#: Rows a day at scale 1 when the catalog entry gives no `sample: {daily_rows: N}`.
DEFAULT_DAILY_ROWS = 2000


@dataclass(frozen=True)
class Delivery:
    resource: str
    where: str
    rows: int
    defects: int


def daily_rows(resource: Resource) -> int:
    """The resource's daily volume at scale 1 (the city's reported figures, in its catalog entry)."""
    return int(resource.sample.get("daily_rows", DEFAULT_DAILY_ROWS))  # type: ignore[call-overload]


def chosen_resources(settings: Settings, names: list[str], department: str | None) -> list[Resource]:
    catalog = load_catalog(settings.catalog_dirs)
    if names:
        return [catalog.resource(n) for n in names]
    if department:
        if department not in catalog.departments:
            raise ConfigurationError(f"no department {department!r} (known: {', '.join(sorted(catalog.departments))})")
        return list(catalog.resources_of(department))
    return [r for _, r in sorted(catalog.resources.items())]


def deliver_samples(resources: list[Resource], *, settings: Settings, start_day: date, days: int = 1,
                    scale: float = 1.0, rows: int | None = None, seed: int = 12345,
                    min_rows: int = 0) -> list[Delivery]:
    """Write `days` daily exports per resource: `rows` a day, else its daily volume × `scale` (about; the
    count varies ±10 % by day), but at least `min_rows` (so that a small demo still has ~1 % defects
    when every defect class appears at least once)."""
    landing = landing_for(settings)
    out = []
    for res in resources:
        factor = 1.0
        if rows is not None:
            per_day = rows
        elif daily_rows(res) * scale >= min_rows:
            per_day, factor = daily_rows(res), scale
        else:
            per_day = min_rows
        if isinstance(landing, LocalLanding):
            exports = write_days(res, landing.root, start_day=start_day, days=days, rows_per_day=per_day,
                                 seed=seed, scale=factor)
            out += [_delivery(res, str(e.path), e) for e in exports]
            continue
        with tempfile.TemporaryDirectory() as tmp:
            exports = write_days(res, Path(tmp), start_day=start_day, days=days, rows_per_day=per_day, seed=seed,
                                 scale=factor, mark_ready=False)
            out += [_delivery(res, f"{landing.uri}/{landing.deliver(e.path, res)}", e) for e in exports]
    return out


def _delivery(res: Resource, where: str, export: SampleExport) -> Delivery:
    return Delivery(res.name, where, export.rows, len(export.defects))
