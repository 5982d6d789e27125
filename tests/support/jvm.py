"""The JVM flags of the short-lived Spark JVMs the suite starts: CLI runs, Airflow tasks' step servers, the
standalone cluster's executors.

Each of them lives seconds to minutes on small data, and C2 compiling code that then runs a few times cost
about 40 % of their CPU (a 600-row `citylake run`: 96 s of CPU by default, 55 s with these flags). They are
put in the environment on import, so the processes tests start run alike; a developer's own
`CITYLAKE_JVM_OPTIONS` wins. The test session's own JVM, which lives as long as the suite, keeps the JVM's
defaults (`tests/conftest.py`).
"""

from __future__ import annotations

import os

JVM_OPTIONS = os.environ.setdefault("CITYLAKE_JVM_OPTIONS", "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC")
