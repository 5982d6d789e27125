"""The deployment material in infra/ agrees with the code it deploys and with itself.

Nothing is built or deployed here (no Docker, Helm, Kubernetes or Spark): the Helm values, the Dockerfile,
spark-defaults.conf and the Kubernetes manifests are parsed and checked against pyproject.toml, constraints.txt,
jobs/settings.py, the bucket plan of `citylake buckets` and each other, so a pin, a path or a name that
changes on one side fails here instead of in a cluster.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shlex
import subprocess
import tomllib
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlparse

import pytest
import yaml
from packaging.requirements import Requirement

import jobs
from jobs.catalog import load_catalog
from jobs.catalog.pools import pool_name
from jobs.io.buckets import BucketPlan
from jobs.io.spark import spark_conf
from jobs.settings import BUILTIN_CATALOG, Settings, load_settings

REPO = Path(__file__).resolve().parents[2]
INFRA = REPO / "infra"
VALUES = INFRA / "helm" / "values.yaml"
DOCKERFILE = INFRA / "docker" / "Dockerfile"
DOCKERIGNORE = INFRA / "docker" / "Dockerfile.dockerignore"
SPARK_DEFAULTS = INFRA / "spark" / "spark-defaults.conf"
EXECUTOR_TEMPLATE = INFRA / "spark" / "executor-pod-template.yaml"
EXECUTOR_SH = INFRA / "spark" / "executor.sh"
LAKE_VOLUME = INFRA / "k8s" / "lake-volume.yaml"
SPARK_RBAC = INFRA / "k8s" / "spark-driver-rbac.yaml"

#: settings that are credentials: never a literal value, only a reference to a Kubernetes secret
SECRET_SETTINGS = {"CITYLAKE_S3_ACCESS_KEY", "CITYLAKE_S3_SECRET_KEY", "CITYLAKE_PSEUDONYM_KEY",
                   "CITYLAKE_METASTORE_PASSWORD"}
#: settings production may leave unset, and why
OPTIONAL_SETTINGS = {"CITYLAKE_CATALOG": "extra catalog folders; production onboards resources with a new image",
                     "CITYLAKE_JVM_OPTIONS": "JVM flags; a worker's long-lived driver keeps the JVM's defaults",
                     "CITYLAKE_S3_CONNECTION": "an Airflow connection's name; the chart's S3 keys are secrets",
                     "CITYLAKE_METASTORE_CONNECTION": "an Airflow connection's name; the chart's are secrets",
                     "CITYLAKE_PROGRESS": "a terminal's preference; workers have no terminal"}
#: the folders a task needs at run time (jobs/settings.py finds the last three next to jobs/)
SOURCE_FOLDERS = ("jobs", "dags", "schemas", "expectations")
BUILD_FILES = ("setup.cfg", "pyproject.toml", "constraints.txt", "README.md")


# --- parsing -------------------------------------------------------------------------------------------

def _name(requirement: str) -> str:
    return re.sub(r"[-_.]+", "-", requirement).lower()


def _pins(lines: list[str]) -> dict[str, str]:
    pins = {}
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if line:
            match = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)\s*==\s*([^\s;]+)", line)
            assert match, f"{line!r} is not pinned with =="
            pins[_name(match.group(1))] = match.group(2)
    return pins


def _project() -> dict[str, Any]:
    return tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def _requirements() -> list[Requirement]:
    return [Requirement(r) for r in _project()["dependencies"]]


def _install_requires() -> dict[str, str]:
    """The version constraints.txt pins for each runtime requirement of the package (what the image gets)."""
    constraints = _constraints()
    return {_name(r.name): constraints[_name(r.name)] for r in _requirements() if _name(r.name) in constraints}


def _constraints() -> dict[str, str]:
    return _pins((REPO / "constraints.txt").read_text(encoding="utf-8").splitlines())


def _python_version() -> str:
    match = re.search(r">=\s*(\d+\.\d+)", _project()["requires-python"])
    assert match
    return match.group(1)


def _values() -> dict[str, Any]:
    return yaml.safe_load(VALUES.read_text(encoding="utf-8"))


def _env(values: dict[str, Any]) -> dict[str, str]:
    return {item["name"]: item["value"] for item in values.get("env") or []}


def _secret_env(values: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {item["envName"]: (item["secretName"], item["secretKey"]) for item in values.get("secret") or []}


def _spark_defaults() -> dict[str, str]:
    """spark-defaults.conf as Spark reads it (key, whitespace, value); a key set twice is an error."""
    conf: dict[str, str] = {}
    for number, raw in enumerate(SPARK_DEFAULTS.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, *rest = line.split(None, 1)
        value = rest[0] if rest else ""
        assert value.strip(), f"spark-defaults.conf line {number}: {key} has no value"
        assert key not in conf, f"spark-defaults.conf line {number}: {key} is set twice"
        conf[key] = value.strip()
    return conf


class Stage:
    def __init__(self, image: str, name: str | None):
        self.image, self.name = image, name
        self.instructions: list[tuple[str, str]] = []

    def all(self, instruction: str) -> list[str]:
        return [args for instr, args in self.instructions if instr == instruction]

    def env(self) -> dict[str, str]:
        pairs: dict[str, str] = {}
        for args in self.all("ENV"):
            for word in shlex.split(args):
                key, sep, value = word.partition("=")
                assert sep, f"ENV {args!r}: use KEY=value"
                pairs[key] = value
        return pairs

    def copies(self) -> list[tuple[dict[str, str], list[str], str]]:
        """(flags, sources, destination) of every COPY."""
        found = []
        for args in self.all("COPY"):
            words = shlex.split(args)
            flags = dict(w[2:].partition("=")[::2] for w in words if w.startswith("--"))
            paths = [w for w in words if not w.startswith("--")]
            found.append((flags, paths[:-1], paths[-1]))
        return found


def _dockerfile(text: str | None = None) -> tuple[dict[str, str], list[Stage]]:
    """Global ARG defaults and the stages of the Dockerfile, continuation lines joined."""
    text = DOCKERFILE.read_text(encoding="utf-8") if text is None else text
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        instruction, _, args = (pending + line).partition(" ")
        pending = ""
        instruction, args = instruction.upper(), args.strip()
        if instruction == "FROM":
            words = args.split()
            image = re.sub(r"\$\{(\w+)\}", lambda m: global_args[m.group(1)], words[0])
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            stages.append(Stage(image, name))
        elif not stages and instruction == "ARG":
            key, _, default = args.partition("=")
            global_args[key] = default
        else:
            assert stages, f"{instruction} before the first FROM"
            stages[-1].instructions.append((instruction, args))
    return global_args, stages


def _final_stage() -> Stage:
    return _dockerfile()[1][-1]


def _image_reference() -> str:
    args, _ = _dockerfile()
    return (f"registry.city.example/citylake/citylake:"
            f"{args['AIRFLOW_VERSION']}-python{args['PYTHON_VERSION']}-citylake{jobs.__version__}")


def _load_script(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _settings_read() -> set[str]:
    """Every CITYLAKE_* variable `load_settings` reads."""
    source = (REPO / "jobs" / "settings.py").read_text(encoding="utf-8")
    body = source[source.index("def load_settings"):source.index("def airflow_environment")]
    return set(re.findall(r"""env\.get\(\s*["'](CITYLAKE_[A-Z0-9_]+)["']""", body))


def _bytes(quantity: str) -> int:
    """A Kubernetes quantity (6Gi, 512Mi) or a Spark size (4g, 512m) in bytes."""
    match = re.fullmatch(r"(\d+)\s*(Ki|Mi|Gi|Ti|k|m|g|t)?b?", quantity.strip(), re.IGNORECASE)
    assert match, f"not a memory size: {quantity!r}"
    unit = (match.group(2) or "").lower().rstrip("i")
    return int(match.group(1)) * 1024 ** " kmgt".index(unit or " ")


_SECRET_KEY_NAME = re.compile(r"pass(word)?|secret|token|credential|private|api_?key|access_?key", re.IGNORECASE)
#: mapping keys that name a secret (or a key inside one) instead of holding one
_REFERENCE_KEYS = re.compile(r"(.*SecretName|.*Secret|secretName|secretKey|envName|.*SecretAnnotations)")


def _secret_looking(text: str) -> list[str]:
    """Fragments of `text` that look like a credential: key ids, PEM blocks, passwords in URLs, long
    random tokens (24+ characters of a key alphabet with digits and letters, between separators)."""
    hits = re.findall(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b|-----BEGIN [A-Z ]*PRIVATE KEY-----", text)
    hits += re.findall(r"[a-z][a-z0-9+.-]*://[^/\s:@]+:[^/\s@]+@", text)
    for piece in re.split(r"[\s/:.@?&,;\"'`()\[\]{}<>|*]+", text):
        if (len(piece) >= 24 and re.fullmatch(r"[A-Za-z0-9+=_-]+", piece)
                and sum(c.isdigit() for c in piece) >= 3 and sum(c.isalpha() for c in piece) >= 3):
            hits.append(piece)
    return hits


def _walk(node: Any, path: str = "") -> list[tuple[str, str, Any]]:
    """(path, key, value) of every mapping entry and list item below `node`."""
    found = []
    if isinstance(node, dict):
        for key, value in node.items():
            here = f"{path}.{key}" if path else str(key)
            found.append((here, str(key), value))
            found += _walk(value, here)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found.append((f"{path}[{index}]", "", value))
            found += _walk(value, f"{path}[{index}]")
    return found


# --- Helm values ---------------------------------------------------------------------------------------

def test_values_run_the_pinned_airflow_with_the_kubernetes_executor():
    values = _values()
    assert values["executor"] == "KubernetesExecutor"
    assert values["airflowVersion"] == _install_requires()["apache-airflow"]


def test_every_airflow_component_runs_the_task_image_the_dockerfile_builds():
    values, reference = _values(), _image_reference()
    repository, _, tag = reference.rpartition(":")
    images = values["images"]
    for where in ("airflow", "pod_template"):
        assert (images[where]["repository"], str(images[where]["tag"])) == (repository, tag), where
    assert (values["defaultAirflowRepository"], str(values["defaultAirflowTag"])) == (repository, tag)
    assert images.get("useDefaultImageForMigration") is False
    assert _spark_defaults()["spark.kubernetes.container.image"] == reference


def test_metadata_database_is_an_external_postgresql_from_a_secret():
    values = _values()
    assert values["postgresql"]["enabled"] is False
    assert isinstance(values["data"]["metadataSecretName"], str) and values["data"]["metadataSecretName"]
    assert "metadataConnection" not in values["data"], "the connection (with its password) belongs in the secret"


def test_dags_come_from_git_and_the_rest_from_the_image():
    values = _values()
    git = values["dags"]["gitSync"]
    assert git["enabled"] is True and values["dags"]["persistence"]["enabled"] is False
    assert re.match(r"(https://|ssh://|git@)", git["repo"]), git["repo"]
    assert git["branch"] and git["ref"]
    assert git["subPath"] == "dags" and (REPO / git["subPath"] / "departments.py").is_file()
    copied = {Path(dest).name for _, _, dest in _final_stage().copies()}
    assert {"jobs", "schemas", "expectations"} <= copied


def test_every_production_setting_is_set_and_credentials_only_by_secret_reference():
    values = _values()
    env, secrets = _env(values), _secret_env(values)
    read = _settings_read()
    assert {"CITYLAKE_PROFILE", "CITYLAKE_LANDING", "CITYLAKE_PSEUDONYM_KEY"} <= read
    assert set(OPTIONAL_SETTINGS) <= read, "an optional setting is no longer read; update OPTIONAL_SETTINGS"
    for name in sorted(read - set(OPTIONAL_SETTINGS)):
        if name in SECRET_SETTINGS:
            assert name in secrets, f"{name} must come from a Kubernetes secret"
            assert name not in env, f"{name} must not be a literal env value"
        else:
            assert str(env.get(name, "")).strip(), f"{name} is not set in values.yaml env"
    assert env["CITYLAKE_PROFILE"] == "production"
    # The same variables as the task pods will see them, credentials stood in for.
    settings = load_settings({**{k: str(v) for k, v in env.items()}, **{k: "<from secret>" for k in secrets}})
    assert settings.profile == "production"
    assert settings.spark_master == _spark_defaults()["spark.master"]
    assert settings.jars_dir == Path(_final_stage().env()["CITYLAKE_JARS"])


def test_zones_are_the_buckets_citylake_buckets_creates():
    env, plan = _env(_values()), BucketPlan()
    names = plan.names()
    for role, variable in (("landing", "CITYLAKE_LANDING"), ("open", "CITYLAKE_OPEN"),
                           ("restricted", "CITYLAKE_RESTRICTED")):
        uri = urlparse(env[variable])
        assert (uri.scheme, uri.netloc) == ("s3", names[role]), f"{variable}={env[variable]}"
    # Logs go to the private lake bucket, never to the public one.
    log_folder = urlparse(_values()["config"]["logging"]["remote_base_log_folder"])
    assert (log_folder.scheme, log_folder.netloc) == ("s3", names["lake"])
    event_log = urlparse(_spark_defaults()["spark.eventLog.dir"])
    assert (event_log.scheme, event_log.netloc) == ("s3a", names["lake"])


def test_secret_references_are_complete():
    values = _values()
    secrets = _secret_env(values)
    for item in values["secret"]:
        assert set(item) == {"envName", "secretName", "secretKey"}, item
        assert all(isinstance(v, str) and v for v in item.values()), item
    departments = (REPO / "dags" / "departments.py").read_text(encoding="utf-8")
    connection = re.search(r'PSEUDONYM_CONNECTION\s*=\s*"([^"]+)"', departments)
    assert connection, "dags/departments.py no longer names the pseudonym connection"
    assert f"AIRFLOW_CONN_{connection.group(1).upper()}" in secrets
    # Remote logging's connection, and s3a's environment credentials for the Spark driver.
    logging = values["config"]["logging"]
    assert str(logging["remote_logging"]) == "True"
    assert f"AIRFLOW_CONN_{logging['remote_log_conn_id'].upper()}" in secrets
    spark = _spark_defaults()
    assert spark["spark.hadoop.fs.s3a.aws.credentials.provider"].endswith("EnvironmentVariableCredentialsProvider")
    for variable, setting in (("AWS_ACCESS_KEY_ID", "CITYLAKE_S3_ACCESS_KEY"),
                              ("AWS_SECRET_ACCESS_KEY", "CITYLAKE_S3_SECRET_KEY")):
        assert secrets[variable] == secrets[setting], f"{variable} and {setting} must be the same key"
        executor = spark[f"spark.kubernetes.executor.secretKeyRef.{variable}"]
        assert tuple(executor.split(":")) == secrets[variable], f"executors' {variable}"


def test_no_literal_secret_anywhere_in_values():
    values = _values()
    for forbidden in ("fernetKey", "apiSecretKey", "jwtSecret", "webserverSecretKey"):
        assert not values.get(forbidden), f"{forbidden}: use {forbidden}SecretName / the secret instead"
    assert not (values.get("dags", {}).get("gitSync", {}).get("sshKey")), "dags.gitSync.sshKey: use sshKeySecret"
    for path, key, value in _walk(values):
        if key and isinstance(value, str) and value and _SECRET_KEY_NAME.search(key):
            assert _REFERENCE_KEYS.fullmatch(key), f"{path} holds a literal credential"
        if isinstance(value, dict) and "password" in value:
            assert not value["password"], f"{path}.password holds a literal credential"
    assert not _secret_looking(VALUES.read_text(encoding="utf-8"))
    for item in values.get("env") or []:
        name = item["name"]
        assert name not in SECRET_SETTINGS and not name.startswith(("AIRFLOW_CONN_", "AWS_")), name
        assert not _SECRET_KEY_NAME.search(name), f"{name} looks like a credential; reference a secret instead"


def test_secret_looking_values_are_recognised():
    assert _secret_looking("connection: postgresql://user:not-a-real-password@db/airflow")
    assert _secret_looking("key: AKIA" + "0" * 16)
    assert _secret_looking("fernet-key: " + "0123456789abcdef" * 2)
    assert not _secret_looking(VALUES.read_text(encoding="utf-8"))
    assert not _secret_looking("image: registry.city.example/citylake/citylake:3.3.2-python3.11-citylake0.1.0")


def test_components_request_resources_and_task_pods_fit_the_spark_driver():
    values = _values()
    assert values["dagProcessor"]["enabled"] is True and values["triggerer"]["enabled"] is True
    for component in ("apiServer", "scheduler", "dagProcessor", "triggerer"):
        resources = values[component]["resources"]
        assert resources["requests"]["cpu"] and resources["requests"]["memory"], component
        assert _bytes(resources["limits"]["memory"]) >= _bytes(resources["requests"]["memory"]), component
    task = values["workers"]["kubernetes"]["resources"]
    driver_heap = _bytes(spark_conf(Settings(home=REPO / ".citylake"), [])["spark.driver.memory"])
    assert _bytes(task["requests"]["memory"]) >= driver_heap + _bytes("1Gi"), "the driver JVM and Python share the pod"
    assert _bytes(task["limits"]["memory"]) >= _bytes(task["requests"]["memory"])


def test_the_lake_volume_is_shared_by_task_pods_and_executors():
    values, spark = _values(), _spark_defaults()
    claim = yaml.safe_load(LAKE_VOLUME.read_text(encoding="utf-8"))
    assert claim["kind"] == "PersistentVolumeClaim" and "ReadWriteMany" in claim["spec"]["accessModes"]
    name, namespace = claim["metadata"]["name"], claim["metadata"]["namespace"]
    home = _env(values)["CITYLAKE_HOME"]
    workers = values["workers"]["kubernetes"]
    volume = next(v for v in workers["extraVolumes"] if v.get("persistentVolumeClaim", {}).get("claimName") == name)
    assert {"name": volume["name"], "mountPath": home} in workers["extraVolumeMounts"]
    prefix = f"spark.kubernetes.executor.volumes.persistentVolumeClaim.{name}"
    assert spark[f"{prefix}.options.claimName"] == name and spark[f"{prefix}.mount.path"] == home
    assert spark["spark.kubernetes.namespace"] == namespace


def test_the_spark_driver_role_is_bound_to_the_task_pods_service_account():
    documents = list(yaml.safe_load_all(SPARK_RBAC.read_text(encoding="utf-8")))
    role = next(d for d in documents if d["kind"] == "Role")
    binding = next(d for d in documents if d["kind"] == "RoleBinding")
    namespace = _spark_defaults()["spark.kubernetes.namespace"]
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    assert role["metadata"]["namespace"] == binding["metadata"]["namespace"] == namespace
    subjects = {(s["name"], s["namespace"]) for s in binding["subjects"] if s["kind"] == "ServiceAccount"}
    assert (_values()["workers"]["serviceAccount"]["name"], namespace) in subjects
    verbs = {resource: set(rule["verbs"]) for rule in role["rules"] for resource in rule["resources"]}
    assert {"create", "delete"} <= verbs["configmaps"] and {"create", "delete", "watch"} <= verbs["pods"]


def test_pools_come_from_the_catalog_one_slot_per_resource(tmp_path):
    script = _load_script(INFRA / "docker" / "write_pools.py")
    catalog = load_catalog([BUILTIN_CATALOG])
    document = script.pools([BUILTIN_CATALOG])
    assert set(document) == {pool_name(r) for r in catalog.resources.values()}
    assert {p["slots"] for p in document.values()} == {1}
    target = tmp_path / "pools.json"
    assert script.main([str(target)]) == 0
    assert json.loads(target.read_text(encoding="utf-8")) == document
    copied = {dest for _, sources, dest in _final_stage().copies() if "infra/docker/write_pools.py" in sources}
    assert copied and "write_pools.py" in (INFRA / "README.md").read_text(encoding="utf-8")


# --- Dockerfile ----------------------------------------------------------------------------------------

def test_dockerfile_builds_on_the_pinned_airflow_image_and_python():
    args, stages = _dockerfile()
    pin, python = _install_requires()["apache-airflow"], _python_version()
    assert args["AIRFLOW_VERSION"] == pin and args["PYTHON_VERSION"] == python
    assert stages[0].image == f"apache/airflow:{pin}-python{python}"
    # Every later stage builds on that first one, the final image included.
    assert {s.image for s in stages[1:]} <= {stages[0].name}


def test_dockerfile_installs_the_pinned_packages_without_dev_extras():
    _, stages = _dockerfile()
    final = stages[-1]
    runs = " ".join(run for stage in stages for run in stage.all("RUN"))
    installs = [run for run in final.all("RUN") if re.search(r"\bpip install\b", run)]
    assert len(installs) == 1
    words = shlex.split(installs[0].split("&&")[0])
    assert words[words.index("-c") + 1] == "constraints.txt" and words[-1] == "."
    assert "-e" not in words and "--editable" not in words
    assert "[dev]" not in runs and not re.search(r"\.\[", runs), "no extras: the image gets the runtime pins only"
    # `.` is the folder setup.cfg and constraints.txt were copied to.
    workdir = Path(next(a for i, a in final.instructions if i == "WORKDIR"))
    setup_copy = next(dest for _, sources, dest in final.copies() if "setup.cfg" in sources)
    assert Path(setup_copy) == workdir


def test_dockerfile_installs_a_java_17_runtime_and_sets_java_home():
    args, stages = _dockerfile()
    base = stages[0]
    installs = " ".join(run for run in base.all("RUN") if "apt-get install" in run)
    assert re.search(r"\bopenjdk-17-jre(-headless)?\b", installs)
    java_home = base.env()["JAVA_HOME"]
    assert java_home in installs, "JAVA_HOME must be the link the install step creates"


def test_dockerfile_installs_citylake_as_a_package_built_from_one_source_tree():
    final = _final_stage()
    copies = final.copies()
    destinations = {}
    for _, sources, dest in copies:
        for source in sources:
            destinations[source.rstrip("/")] = dest.rstrip("/")
    for source in (*SOURCE_FOLDERS, *BUILD_FILES):
        assert source in destinations, f"the image does not copy {source}"
    tree = {str(Path(destinations[f]).parent) for f in SOURCE_FOLDERS}
    assert len(tree) == 1, f"jobs/builtin links to schemas/, expectations/ and dags/ beside it; got {tree}"
    root = tree.pop()
    assert all(Path(destinations[f]) == Path(root) / f for f in SOURCE_FOLDERS)
    runs = " ".join(final.all("RUN"))
    assert "pip install --no-cache-dir -c constraints.txt ." in runs and f"rm -rf {root}" in runs
    assert "PYTHONPATH" not in final.env(), "the installed package, not a source tree, is the imported `jobs`"


def test_dockerfile_sets_the_runtime_environment_and_user():
    final = _final_stage()
    env = final.env()
    assert env["PYSPARK_PYTHON"] and env["CITYLAKE_JARS"] == _env(_values())["CITYLAKE_JARS"]
    conf_copy = next(dest for _, sources, dest in final.copies() if "infra/spark/spark-defaults.conf" in sources)
    assert Path(env["SPARK_CONF_DIR"]) == Path(conf_copy)
    assert final.all("USER")[-1] == "airflow"


def test_dockerfile_prefetches_the_jars_spark_needs():
    args, stages = _dockerfile()
    jars_stage = next(s for s in stages if s.name == "jars")
    fetch = next(run for run in jars_stage.all("RUN") if "fetch_jars.py" in run)
    words = shlex.split(fetch.split("&&")[0])
    jars_dir, s3a_dir = words[-2:]
    final = _final_stage()
    assert final.env()["CITYLAKE_JARS"] == jars_dir
    brought = {dest for flags, _, dest in final.copies() if flags.get("from") == "jars"}
    assert {jars_dir, s3a_dir} <= brought
    spark = _spark_defaults()
    assert spark["spark.driver.extraClassPath"] == spark["spark.executor.extraClassPath"] == f"{s3a_dir}/*"
    assert "maven" not in " ".join(stages[0].all("RUN")) + " ".join(final.all("RUN")), "Maven stays in the jars stage"


def test_fetch_jars_picks_hadoop_aws_of_the_hadoop_pyspark_ships(tmp_path):
    import pyspark

    script = _load_script(INFRA / "docker" / "fetch_jars.py")
    shipped = Path(pyspark.__file__).parent / "jars"
    version = next(p.name for p in shipped.glob("hadoop-client-api-*.jar")).removeprefix(
        "hadoop-client-api-").removesuffix(".jar")
    assert script.hadoop_aws_coordinate() == f"org.apache.hadoop:hadoop-aws:{version}"
    for name in ("hadoop-client-api-3.4.1.jar", "hadoop-client-api-3.5.0.jar"):
        (tmp_path / name).touch()
    with pytest.raises(SystemExit):
        script.hadoop_version(tmp_path)


def test_build_context_lets_in_exactly_what_the_dockerfile_copies():
    rules = [line.strip() for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
             if line.strip() and not line.startswith("#")]
    assert rules[0] == "*", "start from nothing and let in what is copied"
    allowed = {rule[1:].rstrip("/") for rule in rules if rule.startswith("!")}
    copied = {source.rstrip("/") for stage in _dockerfile()[1] for flags, sources, _ in stage.copies()
              if "from" not in flags for source in sources}
    assert copied == allowed
    assert all((REPO / path).exists() for path in copied), "a copied path is missing from the repository"


# --- Spark on Kubernetes -------------------------------------------------------------------------------

def test_spark_defaults_submit_to_kubernetes_with_delta_and_s3a():
    spark, env = _spark_defaults(), _env(_values())
    assert spark["spark.master"].startswith("k8s://https://") and spark["spark.master"] == env["CITYLAKE_SPARK_MASTER"]
    assert spark["spark.kubernetes.namespace"] and spark["spark.kubernetes.container.image"]
    for key in ("spark.executor.instances", "spark.executor.cores", "spark.executor.memory"):
        assert spark[key], key
    assert spark["spark.dynamicAllocation.enabled"] == "true"
    assert spark["spark.dynamicAllocation.shuffleTracking.enabled"] == "true"
    session = spark_conf(Settings(home=REPO / ".citylake"), [])
    for key in ("spark.sql.extensions", "spark.sql.catalog.spark_catalog"):
        assert spark[key] == session[key], key
    assert spark["spark.delta.logStore.s3a.impl"] == "io.delta.storage.S3SingleDriverLogStore"
    assert spark["spark.hadoop.fs.s3a.impl"] == "org.apache.hadoop.fs.s3a.S3AFileSystem"
    assert spark["spark.hadoop.fs.s3a.path.style.access"] == "true"
    assert spark["spark.hadoop.fs.s3a.endpoint"] == env["CITYLAKE_S3_ENDPOINT"]
    assert spark["spark.hadoop.fs.s3a.endpoint.region"] == env["CITYLAKE_S3_REGION"]
    assert spark["spark.eventLog.enabled"] == "true" and spark["spark.eventLog.dir"].startswith("s3a://")


def test_spark_defaults_hold_no_credentials():
    spark = _spark_defaults()
    literal = [k for k in spark if re.search(r"\.(access\.key|secret\.key|session\.token|password)$", k)]
    assert not literal, f"credentials belong in the citylake-s3 secret: {literal}"
    for key, value in spark.items():
        if ".secretKeyRef." in key:
            assert re.fullmatch(r"[a-z0-9-]+:[A-Za-z0-9._-]+", value), f"{key} must be secret-name:key"
    assert not _secret_looking(SPARK_DEFAULTS.read_text(encoding="utf-8"))


def test_executor_pods_run_the_launcher_the_image_ships():
    spark, final = _spark_defaults(), _final_stage()
    template = yaml.safe_load(EXECUTOR_TEMPLATE.read_text(encoding="utf-8"))
    destinations = {source: dest for _, sources, dest in final.copies() for source in sources}
    template_dir = Path(destinations["infra/spark/executor-pod-template.yaml"])
    assert Path(spark["spark.kubernetes.executor.podTemplateFile"]) == template_dir / EXECUTOR_TEMPLATE.name
    container = next(c for c in template["spec"]["containers"]
                     if c["name"] == spark["spark.kubernetes.executor.podTemplateContainerName"])
    assert destinations["infra/spark/executor.sh"] in container["command"]
    launcher_copy = next(flags for flags, sources, _ in final.copies() if "infra/spark/executor.sh" in sources)
    assert launcher_copy.get("chmod") == "0755"
    assert template["spec"]["securityContext"]["runAsUser"] == _values().get("uid", 50000)


def _fake_java(tmp_path: Path) -> Path:
    java_home = tmp_path / "jdk"
    (java_home / "bin").mkdir(parents=True)
    java = java_home / "bin" / "java"
    java.write_text('#!/usr/bin/env bash\nprintf "%s\\n" "$@"\n', encoding="utf-8")
    java.chmod(0o755)
    return java_home


def test_executor_launcher_starts_the_kubernetes_executor_backend(tmp_path):
    environ = {
        "PATH": "/usr/bin:/bin", "JAVA_HOME": str(_fake_java(tmp_path)), "SPARK_HOME": "/spark",
        "SPARK_CONF_DIR": "/conf", "SPARK_CLASSPATH": "/s3a/*",
        "SPARK_DRIVER_URL": "spark://CoarseGrainedScheduler@10.1.2.3:7078", "SPARK_EXECUTOR_ID": "7",
        "SPARK_EXECUTOR_CORES": "2", "SPARK_EXECUTOR_MEMORY": "4096m", "SPARK_APPLICATION_ID": "spark-app",
        "SPARK_EXECUTOR_POD_IP": "10.1.2.9", "SPARK_EXECUTOR_POD_NAME": "app-exec-7", "SPARK_RESOURCE_PROFILE_ID": "0",
        "SPARK_JAVA_OPT_1": "-Dsecond=2", "SPARK_JAVA_OPT_0": "-Dfirst=a b",
    }
    run = subprocess.run(["bash", str(EXECUTOR_SH), "executor"], env=environ, capture_output=True, text=True,
                         timeout=30, check=False)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == [
        "-Dfirst=a b", "-Dsecond=2", "-Xms4096m", "-Xmx4096m", "-cp", "/conf:/s3a/*:/spark/jars/*",
        "org.apache.spark.scheduler.cluster.k8s.KubernetesExecutorBackend",
        "--driver-url", "spark://CoarseGrainedScheduler@10.1.2.3:7078", "--executor-id", "7", "--cores", "2",
        "--app-id", "spark-app", "--hostname", "10.1.2.9", "--resourceProfileId", "0", "--podName", "app-exec-7",
    ]
    del environ["SPARK_DRIVER_URL"]
    missing = subprocess.run(["bash", str(EXECUTOR_SH), "executor"], env=environ, capture_output=True, text=True,
                             timeout=30, check=False)
    assert missing.returncode == 64 and "SPARK_DRIVER_URL" in missing.stderr
