"""The government data resource catalog: frozen models, the YAML loader and what derives from it."""

from jobs.catalog.loader import load_catalog
from jobs.catalog.model import Catalog, DataItem, Department, Resource

__all__ = ["Catalog", "DataItem", "Department", "Resource", "load_catalog"]
