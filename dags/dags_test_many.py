"""`airflow dags test` of several DAGs, one after another, in one process: what `citylake demo` runs.

Each DAG runs through Airflow's own CLI command, exactly as `airflow dags test DAG_ID DATE` would, and the
run stops at the first DAG that fails. One process pays Airflow's start, its configuration and the
in-process execution API once instead of once per DAG (about 7 s each on two cores, 14 DAGs in the demo).
Not a DAG file: `.airflowignore` keeps the DAG processor from parsing it.

Usage: ``python dags_test_many.py DATE DAG_ID [DAG_ID ...]``. Besides Airflow's own output it prints one
line per DAG as it starts and ends, ``<MARK> start DAG_ID`` and ``<MARK> end DAG_ID success|failed SECONDS``
(MARK from `jobs.demo`, which reads them), for the caller to follow.
"""

from __future__ import annotations

import sys
import time

from jobs.demo import DAGS_TEST_MARK as MARK


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    day, *dag_ids = argv
    from airflow.cli import cli_parser
    from airflow.exceptions import AirflowException

    parser = cli_parser.get_parser()
    for dag_id in dag_ids:
        print(f"{MARK} start {dag_id}", flush=True)
        started = time.monotonic()
        args = parser.parse_args(["dags", "test", dag_id, day])
        try:
            args.func(args)
        except (SystemExit, AirflowException) as exc:  # "DagRun failed"; a DAG that is not there or not parsed
            print(f"{MARK} end {dag_id} failed {time.monotonic() - started:.1f} ({exc})", flush=True)
            return 1
        print(f"{MARK} end {dag_id} success {time.monotonic() - started:.1f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
