"""The Delta Lake jars (and any extra Maven artifacts) for the installed pyspark, cached on disk.

The first call resolves the artifacts from Maven Central with Maven (`mvn dependency:copy-dependencies`)
into `Settings.jars_dir`; later calls read the cached list and start no resolution at all. Jars that
pyspark already ships (Scala, Jackson, Hadoop, Parquet...) are left out so Spark's own versions win.
"""

from __future__ import annotations

import hashlib
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


# The AWS SDK v2 version hadoop-aws was built against, per Hadoop release. hadoop-aws depends on the SDK
# `bundle` (~600 MB, every AWS service); s3a needs only a handful of modules, so the bundle is excluded and
# these modules are resolved instead (about 19 MB with their dependencies).
AWS_SDK_FOR_HADOOP = {"3.4.1": "2.24.6", "3.4.2": "2.29.52", "3.5.0": "2.35.4"}
S3A_SDK_MODULES = ("s3", "s3-transfer-manager", "sts")
POSTGRES_JDBC = "org.postgresql:postgresql:42.7.14"


def hadoop_version() -> str:
    """Hadoop version of the client jars pyspark ships (hadoop-aws must match it exactly)."""
    import pyspark

    jars = Path(pyspark.__file__).parent / "jars"
    found = sorted(jars.glob("hadoop-client-api-*.jar"))
    if not found:
        raise JarResolutionError(f"no hadoop-client-api jar in {jars}: cannot match hadoop-aws to pyspark")
    return found[-1].name.removeprefix("hadoop-client-api-").removesuffix(".jar")


def s3a_coordinates() -> list[str]:
    """hadoop-aws for pyspark's Hadoop, with the few SDK v2 modules it needs instead of the SDK bundle.

    A `!group:artifact` suffix excludes that transitive dependency. An unknown Hadoop release falls back
    to the bundle (correct, only larger).
    """
    hadoop = hadoop_version()
    sdk = AWS_SDK_FOR_HADOOP.get(hadoop)
    if sdk is None:
        return [f"org.apache.hadoop:hadoop-aws:{hadoop}"]
    return [f"org.apache.hadoop:hadoop-aws:{hadoop}!software.amazon.awssdk:bundle",
            *(f"software.amazon.awssdk:{m}:{sdk}" for m in S3A_SDK_MODULES)]


def _pom(coordinates: Sequence[str]) -> str:
    deps = []
    for coord in coordinates:
        coord, *excluded = coord.split("!")
        group, artifact, version = coord.split(":")
        exclusions = "".join(
            f"<exclusion><groupId>{g}</groupId><artifactId>{a}</artifactId></exclusion>"
            for g, a in (e.split(":") for e in excluded))
        deps.append(
            f"<dependency><groupId>{group}</groupId><artifactId>{artifact}</artifactId>"
            f"<version>{version}</version><exclusions>{exclusions}</exclusions></dependency>"
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
    key = "+".join(c.replace(":", "_").replace("!", "-x-") for c in sorted(coordinates))
    # a folder name must stay under the file system's 255 bytes; long sets are named by their hash
    return key if len(key) <= 120 else f"set-{hashlib.sha256(key.encode()).hexdigest()[:16]}"


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
