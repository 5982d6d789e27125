"""Write the Airflow pools of the catalog in this image: one pool with one slot per resource.

The DAG factory puts every writing task of a resource in the pool `jobs.catalog.pools.pool_name` names;
Airflow refuses to queue a task whose pool does not exist, so the pools are imported after every image
upgrade that adds a resource (infra/README.md):

    python /opt/citylake/bin/write_pools.py /tmp/citylake-pools.json && airflow pools import /tmp/citylake-pools.json

Without a path the document goes to standard output.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from pathlib import Path


def pools(catalog_dirs: Iterable[Path] | None = None) -> dict[str, dict[str, object]]:
    """The `airflow pools import` document of the catalog (the configured one by default)."""
    from jobs.catalog import load_catalog
    from jobs.catalog.pools import pools_document
    from jobs.settings import load_settings

    dirs = list(catalog_dirs) if catalog_dirs is not None else list(load_settings().catalog_dirs)
    return pools_document(load_catalog(dirs))


def main(argv: list[str]) -> int:
    if len(argv) > 1:
        print(__doc__, file=sys.stderr)
        return 2
    text = json.dumps(pools(), ensure_ascii=False, indent=2) + "\n"
    if argv:
        Path(argv[0]).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
