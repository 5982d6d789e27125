"""Build step of the citylake image: fetch the Spark jars from Maven Central once, into the image.

Run by infra/docker/Dockerfile in its `jars` stage, where Maven is installed (the final image has no Maven):

    PYTHONPATH=<checkout> python fetch_jars.py JARS_DIR S3A_DIR

JARS_DIR  becomes the image's CITYLAKE_JARS: every jar group `jobs.io.spark.spark_jars` asks for in the
          production profile (Delta Lake; hadoop-aws with the AWS SDK v2 modules s3a needs; the PostgreSQL
          JDBC driver of the metastore), resolved by the project's own `jobs.io.jars.resolve_jars` under the
          cache keys the session factory looks up at run time, so no task ever starts a resolution.
S3A_DIR   the same s3a jars in one flat folder; infra/spark/spark-defaults.conf puts `S3A_DIR/*` on the
          driver and executor class path, so executor pods read s3a:// before the first job ships jars.
"""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

_HADOOP_CLIENT = re.compile(r"hadoop-client-api-(\d[\w.\-]*)\.jar")


def hadoop_version(pyspark_jars: Path | None = None) -> str:
    """The version of the Hadoop client pyspark ships (its `hadoop-client-api-<version>.jar`)."""
    if pyspark_jars is None:
        import pyspark

        pyspark_jars = Path(pyspark.__file__).parent / "jars"
    versions = sorted({m.group(1) for p in pyspark_jars.glob("hadoop-client-api-*.jar")
                       if (m := _HADOOP_CLIENT.fullmatch(p.name))})
    if len(versions) != 1:
        raise SystemExit(f"expected exactly one hadoop-client-api jar in {pyspark_jars}, found {versions or 'none'}")
    return versions[0]


def hadoop_aws_coordinate(pyspark_jars: Path | None = None) -> str:
    """hadoop-aws must match the Hadoop classes on Spark's class path, release for release (the same rule
    as `jobs.io.jars.s3a_coordinates`, checked here without importing the project)."""
    return f"org.apache.hadoop:hadoop-aws:{hadoop_version(pyspark_jars)}"


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    from jobs.io.jars import POSTGRES_JDBC, delta_coordinate, resolve_jars, s3a_coordinates

    jars_dir, s3a_dir = Path(argv[0]), Path(argv[1])
    delta = resolve_jars(jars_dir, [delta_coordinate()])
    s3a = resolve_jars(jars_dir, s3a_coordinates())
    jdbc = resolve_jars(jars_dir, [POSTGRES_JDBC])
    s3a_dir.mkdir(parents=True, exist_ok=True)
    for jar in s3a:
        shutil.copy2(jar, s3a_dir / jar.name)
    print(f"{len(delta)} Delta Lake, {len(s3a)} s3a, {len(jdbc)} JDBC jars in {jars_dir}; s3a class path {s3a_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
