"""The JVM flags of every Spark JVM the suite starts, its own session's and those of the processes it starts.

Each of them lives seconds to minutes on small data, and C2 compiling code that then runs a few times cost
about 40 % of their CPU (a 600-row `citylake run`: 96 s of CPU by default, 55 s with these flags). They are
put in the environment on import, so CLI runs, Airflow tasks and step servers started by tests run alike; a
developer's own `CITYLAKE_JVM_OPTIONS` wins.
"""

from __future__ import annotations

import os

JVM_OPTIONS = os.environ.setdefault("CITYLAKE_JVM_OPTIONS", "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC")
