"""What citylake ships besides its code: the built-in catalog, its expectation suites and the DAG files.

In a checkout `catalog`, `expectations` and `dags` are links to the top-level `schemas/`, `expectations/`
and `dags/` folders, where engineers edit them; a built wheel carries copies as package data. Code finds
all three through `importlib.resources` (see `jobs.settings`), so an installed `citylake` reads the same
catalog and suites as the checkout it was built from, without the checkout or a PYTHONPATH.
"""
