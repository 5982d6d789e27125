"""Surfaces broken catalog files as an Airflow DAG import error of this file.

`departments.py` builds the department DAGs from every catalog entry that loads and leaves the broken
ones out, so one bad YAML file never takes the city's other DAGs down. This file defines no DAG: it
loads the catalog the same way and raises when an entry was left out, so the Airflow UI (and `DagBag
.import_errors`) shows the file, resource and field to fix.
"""

from __future__ import annotations

from jobs.catalog.loader import load_catalog_leniently
from jobs.errors import CatalogError
from jobs.settings import load_settings

_errors = load_catalog_leniently(load_settings().catalog_dirs).errors
if _errors:
    raise CatalogError(f"{len(_errors)} catalog entr{'y was' if len(_errors) == 1 else 'ies were'} left out of the "
                       "department DAGs: " + " | ".join(str(e) for e in _errors), file="; ".join(
                           sorted({e.file for e in _errors})))
