"""The Delta Lake jars (and any extra Maven artifacts) for the installed pyspark, cached on disk.

The first call resolves the artifacts from Maven Central with Maven (`mvn dependency:copy-dependencies`)
into `Settings.jars_dir`; later calls read the cached list and start no resolution at all. Jars that
pyspark already ships (Scala, Jackson, Hadoop, Parquet...) are left out so Spark's own versions win.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

from jobs.errors import JarResolutionError

MARKER = "jars.txt"


def delta_coordinate() -> str:
    """`io.delta:delta-spark_<spark major.minor>_2.13:<delta-spark version>` for what is installed."""
    import pyspark

    spark_mm = ".".join(pyspark.__version__.split(".")[:2])
    return f"io.delta:delta-spark_{spark_mm}_2.13:{metadata.version('delta-spark')}"


def _pom(coordinates: Sequence[str]) -> str:
    deps = []
    for coord in coordinates:
        group, artifact, version = coord.split(":")
        deps.append(
            f"<dependency><groupId>{group}</groupId><artifactId>{artifact}</artifactId>"
            f"<version>{version}</version></dependency>"
        )
    return (
        '<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>'
        "<groupId>citylake</groupId><artifactId>spark-jars</artifactId><version>1</version>"
        f"<packaging>pom</packaging><dependencies>{''.join(deps)}</dependencies></project>"
    )


def _artifact_name(jar: str) -> str:
    """`jackson-core-2.13.5.jar` -> `jackson-core`."""
    return re.sub(r"-\d[\w.\-]*\.jar$", "", jar)


def _shipped_by_pyspark() -> set[str]:
    import pyspark

    jars = Path(pyspark.__file__).parent / "jars"
    return {_artifact_name(p.name) for p in jars.glob("*.jar")}


def cache_key(coordinates: Sequence[str]) -> str:
    return "+".join(c.replace(":", "_") for c in sorted(coordinates))


def resolve_jars(jars_dir: Path, coordinates: Sequence[str]) -> list[Path]:
    """Jar files for `coordinates` and their runtime dependencies, resolving them once.

    Raises:
        JarResolutionError: Maven is missing or the artifacts cannot be fetched; names them.
    """
    target = jars_dir / cache_key(coordinates)
    marker = target / MARKER
    if marker.exists():
        jars = [target / line for line in marker.read_text().split() if line]
        if all(j.exists() for j in jars):
            return jars
    wanted = ", ".join(coordinates)
    mvn = shutil.which("mvn")
    if mvn is None:
        raise JarResolutionError(f"cannot fetch {wanted}: Maven ('mvn') is not on the PATH; install it or "
                                 f"put the jars in {target} with a {MARKER} listing them")
    jars_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=jars_dir) as tmp:
        work = Path(tmp)
        (work / "pom.xml").write_text(_pom(coordinates))
        out = work / "out"
        proc = subprocess.run(
            [mvn, "-q", "-B", "-f", str(work / "pom.xml"), "dependency:copy-dependencies",
             f"-DoutputDirectory={out}", "-DincludeScope=runtime"],
            capture_output=True, text=True, check=False,
        )
        if proc.returncode != 0:
            tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
            raise JarResolutionError(f"cannot fetch {wanted} from Maven Central (mvn exit {proc.returncode}):\n{tail}")
        shipped = _shipped_by_pyspark()
        keep = sorted(p.name for p in out.glob("*.jar") if _artifact_name(p.name) not in shipped)
        staged = work / "staged"
        staged.mkdir()
        for name in keep:
            shutil.move(str(out / name), staged / name)
        (staged / MARKER).write_text("\n".join(keep) + "\n")
        if target.exists():
            shutil.rmtree(target)
        staged.rename(target)
    return [target / name for name in keep]
