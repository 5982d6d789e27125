"""Settings come from the environment in one place; jars resolve once and fail with a clear message."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from jobs.errors import ConfigurationError, JarResolutionError
from jobs.io import jars
from jobs.settings import BUILTIN_CATALOG, REPO_ROOT, airflow_environment, load_settings


def test_defaults_live_in_the_checkout():
    s = load_settings({})
    assert s.home == REPO_ROOT / ".citylake"
    assert s.landing == s.home / "landing" and s.lake == s.home / "lake" and s.open_files == s.home / "open"
    assert s.catalog_dirs == (BUILTIN_CATALOG,)
    assert s.profile == "embedded" and s.spark_master == "local[*]"


PRODUCTION = {"CITYLAKE_PROFILE": "production", "CITYLAKE_LAKE": "s3a://lake/tables/",
              "CITYLAKE_METASTORE_URL": "jdbc:postgresql://db:5432/metastore", "CITYLAKE_METASTORE_USER": "hive",
              "CITYLAKE_METASTORE_PASSWORD": "pw-123", "CITYLAKE_S3_ENDPOINT": "http://127.0.0.1:9000",
              "CITYLAKE_S3_ACCESS_KEY": "AK", "CITYLAKE_S3_SECRET_KEY": "sk-456"}


def test_environment_overrides(tmp_path):
    s = load_settings({**PRODUCTION, "CITYLAKE_HOME": str(tmp_path), "CITYLAKE_CATALOG": f"/a{os.pathsep}/b",
                       "CITYLAKE_SPARK_MASTER": "spark://m:7077"})
    assert s.home == tmp_path and s.catalog_dirs == (BUILTIN_CATALOG, Path("/a"), Path("/b"))
    assert s.spark_master == "spark://m:7077" and s.profile == "production"
    assert s.table_path("silver", "citizen_appeals") == "s3a://lake/tables/silver/citizen_appeals"


def test_production_refuses_a_local_lake_or_no_metastore(tmp_path):
    with pytest.raises(ConfigurationError, match="CITYLAKE_LAKE must be an s3a:// URI.*CITYLAKE_METASTORE_URL"):
        load_settings({"CITYLAKE_HOME": str(tmp_path), "CITYLAKE_PROFILE": "production"})
    embedded = load_settings({"CITYLAKE_HOME": str(tmp_path)})
    assert embedded.table_path("ops", "ledger") == str(tmp_path / "lake" / "ops" / "ledger")


def test_production_spark_conf_holds_no_secret(tmp_path):
    from jobs.io.spark import hadoop_secrets, spark_conf

    s = load_settings({**PRODUCTION, "CITYLAKE_HOME": str(tmp_path)})
    conf = spark_conf(s, ["/j/delta.jar", "/j/postgresql-42.7.14.jar"])
    assert conf["spark.sql.catalogImplementation"] == "hive"
    assert conf["spark.hadoop.javax.jdo.option.ConnectionURL"] == "jdbc:postgresql://db:5432/metastore"
    assert conf["spark.driver.extraClassPath"] == "/j/postgresql-42.7.14.jar"
    assert conf["spark.sql.warehouse.dir"] == "s3a://lake/tables/_warehouse"
    assert conf["spark.hadoop.fs.s3a.endpoint"] == "http://127.0.0.1:9000"
    assert conf["spark.hadoop.fs.s3a.connection.ssl.enabled"] == "false"
    leaked = [k for k, v in conf.items() if v in ("pw-123", "sk-456", "AK")]
    assert not leaked, "secrets would reach spark-submit's argv"
    assert hadoop_secrets(s) == {"fs.s3a.access.key": "AK", "fs.s3a.secret.key": "sk-456",
                                 "javax.jdo.option.ConnectionPassword": "pw-123"}


def test_s3a_jars_are_hadoop_aws_of_pyspark_without_the_sdk_bundle():
    coords = jars.s3a_coordinates()
    assert coords[0] == f"org.apache.hadoop:hadoop-aws:{jars.hadoop_version()}!software.amazon.awssdk:bundle"
    pom = jars._pom(coords)
    assert "<exclusion><groupId>software.amazon.awssdk</groupId><artifactId>bundle</artifactId></exclusion>" in pom
    assert {c.split(":")[1] for c in coords[1:]} == {"s3", "s3-transfer-manager", "sts"}
    assert len(jars.cache_key(coords)) <= 120


def test_unknown_profile_is_refused():
    with pytest.raises(ConfigurationError, match="CITYLAKE_PROFILE='cloudy'"):
        load_settings({"CITYLAKE_PROFILE": "cloudy"})


def test_airflow_environment_points_at_the_home(tmp_path):
    env = airflow_environment(load_settings({"CITYLAKE_HOME": str(tmp_path)}), {})
    assert env["AIRFLOW_HOME"] == str(tmp_path / "airflow")
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == f"sqlite:///{tmp_path / 'airflow' / 'airflow.db'}"
    assert env["AIRFLOW__CORE__DAGS_FOLDER"].endswith("dags")


def test_jvm_options_reach_driver_and_executors_and_the_tasks(tmp_path):
    from jobs.io.spark import spark_conf
    from jobs.service.protocol import session_fingerprint

    plain = load_settings({"CITYLAKE_HOME": str(tmp_path)})
    tuned = load_settings({"CITYLAKE_HOME": str(tmp_path), "CITYLAKE_JVM_OPTIONS": " -XX:TieredStopAtLevel=1 "})
    assert "spark.driver.extraJavaOptions" not in spark_conf(plain, [])
    conf = spark_conf(tuned, [])
    assert conf["spark.driver.extraJavaOptions"] == conf["spark.executor.extraJavaOptions"] == "-XX:TieredStopAtLevel=1"
    assert airflow_environment(tuned, {})["CITYLAKE_JVM_OPTIONS"] == "-XX:TieredStopAtLevel=1"
    assert "CITYLAKE_JVM_OPTIONS" not in airflow_environment(plain, {})
    # a step server started with other JVM flags is another server
    assert session_fingerprint(plain) != session_fingerprint(tuned)


def test_delta_coordinate_matches_installed_pyspark():
    import pyspark

    major_minor = ".".join(pyspark.__version__.split(".")[:2])
    assert jars.delta_coordinate().startswith(f"io.delta:delta-spark_{major_minor}_2.13:")


def test_artifact_names():
    assert jars._artifact_name("jackson-core-2.13.5.jar") == "jackson-core"
    assert jars._artifact_name("delta-spark_4.2_2.13-4.4.0.jar") == "delta-spark_4.2_2.13"
    assert jars._artifact_name("zstd-jni-1.5.7-3.jar") == "zstd-jni"


def test_missing_artifact_is_named(tmp_path):
    with pytest.raises(JarResolutionError, match="io.delta:delta-spark_9.9_2.13:0.0.1"):
        jars.resolve_jars(tmp_path, ["io.delta:delta-spark_9.9_2.13:0.0.1"])


def test_cached_jars_need_no_maven(tmp_path, monkeypatch):
    coords = ["org.example:thing:1.0"]
    cached = tmp_path / jars.cache_key(coords)
    cached.mkdir()
    (cached / "thing-1.0.jar").write_bytes(b"PK")
    (cached / jars.MARKER).write_text("thing-1.0.jar\n")
    monkeypatch.setenv("PATH", "/nonexistent")
    assert jars.resolve_jars(tmp_path, coords) == [cached / "thing-1.0.jar"]
    (cached / "thing-1.0.jar").unlink()
    with pytest.raises(JarResolutionError, match="Maven"):
        jars.resolve_jars(tmp_path, coords)


def test_airflow_connections_lay_their_credentials_over_the_environment(tmp_path):
    from jobs.settings import with_connections

    env = load_settings({**PRODUCTION, "CITYLAKE_HOME": str(tmp_path)})
    assert with_connections(env) == env  # no connection defined: the environment's settings
    s3 = {"login": "AK-conn", "password": "sk-conn", "host": None, "port": None, "schema": None,
          "extra": {"endpoint_url": "https://s3.internal:9000", "region_name": "cn-southwest-1"}}
    metastore = {"login": "hive2", "password": "pw-conn", "host": "db.internal", "port": 5433, "schema": "ms",
                 "extra": {}}
    both = with_connections(env, s3=s3, metastore=metastore)
    assert (both.s3_access_key, both.s3_secret_key, both.s3_endpoint, both.s3_region) == (
        "AK-conn", "sk-conn", "https://s3.internal:9000", "cn-southwest-1")
    assert (both.metastore_url, both.metastore_user, both.metastore_password) == (
        "jdbc:postgresql://db.internal:5433/ms", "hive2", "pw-conn")
    # what a connection leaves empty keeps the environment's value
    keys_only = with_connections(env, s3={"login": "AK2", "password": "sk2", "extra": {}},
                                 metastore={"password": "only-pw"})
    assert keys_only.s3_endpoint == env.s3_endpoint and keys_only.metastore_url == env.metastore_url
    assert keys_only.metastore_user == env.metastore_user and keys_only.metastore_password == "only-pw"
    assert "sk2" not in repr(keys_only) and "only-pw" not in repr(keys_only)  # secrets stay out of reprs
    named = load_settings({"CITYLAKE_HOME": str(tmp_path), "CITYLAKE_S3_CONNECTION": "minio_lake"})
    assert (named.s3_connection, named.metastore_connection) == ("minio_lake", "citylake_metastore")
