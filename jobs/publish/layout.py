"""Where published things live inside a zone (public or restricted), in one place.

    catalog.json, catalog.jsonld               the zone's catalog (records; DCAT-AP)
    portal/...                                  the static portal
    datasets/<name>/record.json                 the dataset's current OpenDataset record
    datasets/<name>/v<version>/<code>_<day>.*   one folder per published version, with manifest.json
    datasets/<name>/latest/<code>.*             stable names of the current version's files

File names carry the resource code ('/' becomes '_') and the publish day; `latest/` names carry the code
only, so a link to them never breaks.
"""

from __future__ import annotations

import re
from datetime import datetime

from jobs.publish.records import EXTENSIONS

CATALOG_JSON = "catalog.json"
CATALOG_JSONLD = "catalog.jsonld"
VERSION_RX = re.compile(r"^v(\d+)$")


def code_stem(code: str) -> str:
    return code.replace("/", "_")


def dataset_prefix(name: str) -> str:
    return f"datasets/{name}"


def record_key(name: str) -> str:
    return f"datasets/{name}/record.json"


def version_prefix(name: str, version: int) -> str:
    return f"datasets/{name}/v{version}"


def version_file(name: str, version: int, code: str, day: datetime, fmt: str) -> str:
    return f"{version_prefix(name, version)}/{code_stem(code)}_{day:%Y%m%d}.{EXTENSIONS[fmt]}"


def latest_file(name: str, code: str, fmt: str) -> str:
    return f"datasets/{name}/latest/{code_stem(code)}.{EXTENSIONS[fmt]}"


def versions_in(keys: list[str], name: str) -> list[int]:
    """Version numbers present among `keys` (a listing of the dataset's prefix), ascending."""
    found = set()
    base = f"{dataset_prefix(name)}/"
    for key in keys:
        head = key.removeprefix(base).split("/", 1)[0]
        if (m := VERSION_RX.match(head)) and key.startswith(base):
            found.add(int(m.group(1)))
    return sorted(found)


def fields_file(name: str, version: int, code: str) -> str:
    """The version's field dictionary (数据字典)."""
    return f"{version_prefix(name, version)}/{code_stem(code)}_fields.csv"


def latest_fields(name: str, code: str) -> str:
    return f"datasets/{name}/latest/{code_stem(code)}_fields.csv"
