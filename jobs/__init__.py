"""citylake: the data-lake ETL platform of the city big-data center.

`jobs` is the importable package. It never imports Airflow: the DAGs in `dags/` and the `citylake`
CLI both call the step functions in `jobs.steps` with the same arguments.
"""

__version__ = "0.1.0"
