"""`make test`'s pytest: the production smoke test, then the DAG tests, in a process of their own, next to the
rest of the suite.

The production smoke test (a Spark standalone cluster, PostgreSQL, SeaweedFS, Airflow's scheduler, DAG
processor and API server) spends much of its time waiting on schedulers and heartbeats, and the rest of
the suite waits on one local Spark session's small jobs; measured on 2 cores, each leaves a share of the
machine idle that the other can use. The smoke test alone ends long before the rest, so the DAG tests
(`airflow dags test` end to end, DagBag, topology), the installed wheel's test and the history and erasure
modules follow it in its process, which makes the two about equally long. The two share nothing: each
pytest process has its own Airflow home, servers on free ports and its own SparkSession. The side process's
output goes to a log file, printed when it ends (so the two do not interleave); the exit status is the
first failing one.

Usage: `python -m tests.support.suite [pytest args for the rest of the suite]`.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = "tests/production"
#: what runs in the side process, in this order: the smoke test, the DAG tests, the installed wheel's test (a
#: venv and a JVM of its own), then the history and erasure modules on their shared market lake. On a clean
#: clone at 18af84e this process took 637 s and the rest of the suite 743 s.
BESIDE = (PRODUCTION, "tests/dags", "tests/integration/test_package.py", "tests/integration/test_history.py",
          "tests/integration/test_erasure.py")
LOG = ROOT / ".citylake" / "test-production.log"


def main(argv: list[str]) -> int:
    LOG.parent.mkdir(parents=True, exist_ok=True)
    pytest = [sys.executable, "-m", "pytest"]
    started = time.monotonic()
    with LOG.open("wb") as log:
        production = subprocess.Popen([*pytest, *BESIDE, "-p", "no:cacheprovider"], cwd=ROOT, stdout=log,
                                      stderr=subprocess.STDOUT)
        try:
            rest = subprocess.call([*pytest, *(f"--ignore={b}" for b in BESIDE), *argv], cwd=ROOT)
            rest_seconds = time.monotonic() - started
            production_status = production.wait()
        except BaseException:
            production.kill()
            raise
    print(f"\n===== {' + '.join(BESIDE)} (ran beside the rest; its output, from {LOG.relative_to(ROOT)}) =====")
    print(LOG.read_text(encoding="utf-8", errors="replace"), end="")
    print(f"suite: rest of the suite {rest_seconds:.0f} s, everything {time.monotonic() - started:.0f} s "
          f"({' then '.join(BESIDE)} beside it)")
    return rest or production_status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
