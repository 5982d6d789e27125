"""The one place that reads the environment.

Every other module receives a `Settings` object, so a step behaves the same whether it is called from
the CLI, from an Airflow task or from a test that builds its own settings for a temporary lake.

| variable | meaning | default |
| --- | --- | --- |
| CITYLAKE_HOME | root of landing/, lake/, open/, airflow/ | `<checkout>/.citylake`; else `~/.local/share/citylake` |
| CITYLAKE_CATALOG | extra catalog folders, `:`-separated, read after the built-in catalog (`schemas/`) | none |
| CITYLAKE_SPARK_MASTER | Spark master URL | `local[*]` |
| CITYLAKE_PROFILE | `embedded` (local everything) or `production` | `embedded` |
| CITYLAKE_JARS | cache folder for the Delta Lake jars | `<checkout>/.jars`; installed: `~/.cache/citylake/jars` |
| CITYLAKE_SHUFFLE_PARTITIONS | `spark.sql.shuffle.partitions` | 4 |
| CITYLAKE_LANDING | landing zone root: a folder or `s3://bucket/prefix` | `$CITYLAKE_HOME/landing` |
| CITYLAKE_S3_ENDPOINT | S3 endpoint URL (an S3-compatible server) | AWS's default |
| CITYLAKE_S3_REGION | S3 region | `us-east-1` |
| CITYLAKE_S3_ACCESS_KEY, CITYLAKE_S3_SECRET_KEY | S3 credentials | boto3's own chain |
| CITYLAKE_OPEN | public open-data zone (无条件开放): a folder or `s3://bucket/prefix` | `$CITYLAKE_HOME/open` |
| CITYLAKE_RESTRICTED | restricted zone (有条件开放), never publicly readable | `$CITYLAKE_HOME/restricted` |
| CITYLAKE_OPEN_BASE_URL | public URL of the open zone (download links, DCAT) | `http://127.0.0.1:8765/` |
| CITYLAKE_KEEP_VERSIONS | published versions kept per open dataset | 5 |
| CITYLAKE_PSEUDONYM_KEY | secret key of keyed pseudonymisation (HMAC-SHA256) | none (publish refuses) |
| CITYLAKE_LAKE | root of the Delta tables: a folder or `s3a://bucket/prefix` | `$CITYLAKE_HOME/lake` |
| CITYLAKE_METASTORE_URL | JDBC URL of a Hive metastore database (`jdbc:postgresql://...`); none = in-memory | none |
| CITYLAKE_METASTORE_USER, CITYLAKE_METASTORE_PASSWORD | credentials of the metastore database | none |
| CITYLAKE_STEP_SERVER | step tasks run on: `auto` (a step server, started on demand), `required`, `off` | `auto` |
| CITYLAKE_STEP_SERVER_IDLE | seconds an on-demand step server waits for work before it stops | 600 |
| CITYLAKE_TIME_TRAVEL_DAYS | how far back every table's versions stay readable (the promise to analysts) | 7 |
| CITYLAKE_VACUUM_RETAIN_HOURS | replaced files are deleted this long after (never below the window) | 168 |

The `production` profile is these settings and nothing else: it refuses to start unless the lake is on an
object store and a metastore is configured, so a production task can never quietly write a local lake.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any, Literal

Profile = Literal["embedded", "production"]
PROFILES: tuple[Profile, ...] = ("embedded", "production")
StepServerMode = Literal["auto", "required", "off"]
STEP_SERVER_MODES: tuple[StepServerMode, ...] = ("auto", "required", "off")


def _shipped(name: str) -> Path:
    """A folder citylake ships (`jobs.builtin`): the checkout's own folder, or the installed copy."""
    return Path(str(resources.files("jobs.builtin").joinpath(name))).resolve()


def _is_checkout(root: Path) -> bool:
    return (root / "pyproject.toml").is_file() and (root / "jobs" / "__init__.py").is_file()


REPO_ROOT = Path(__file__).resolve().parent.parent
#: The source checkout `jobs` was imported from, or None when citylake runs from an installed wheel.
CHECKOUT: Path | None = REPO_ROOT if _is_checkout(REPO_ROOT) else None
BUILTIN_CATALOG = _shipped("catalog")
EXPECTATIONS_DIR = _shipped("expectations")
DAGS_DIR = _shipped("dags")


def _user_folder(env: Mapping[str, str], in_checkout: str, xdg: str, xdg_default: str, *under: str) -> Path:
    """`<checkout>/<in_checkout>` beside a checkout; for an installed citylake the user's XDG folder
    (`$XDG_DATA_HOME` for the lake, `$XDG_CACHE_HOME` for the jars), never inside site-packages."""
    if CHECKOUT is not None:
        return CHECKOUT / in_checkout
    return Path(env.get(xdg) or Path.home() / xdg_default).joinpath("citylake", *under)


def _default_home(env: Mapping[str, str]) -> Path:
    return _user_folder(env, ".citylake", "XDG_DATA_HOME", ".local/share")


def _default_jars(env: Mapping[str, str]) -> Path:
    return _user_folder(env, ".jars", "XDG_CACHE_HOME", ".cache", "jars")


def _importable(env: Mapping[str, str]) -> str:
    """PYTHONPATH of a child process (an Airflow task, a step server): the checkout first when running
    from one, so the child imports this very `jobs`; an installed citylake is importable already."""
    parts = [str(CHECKOUT)] if CHECKOUT is not None else []
    parts += [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p and p not in parts]
    return os.pathsep.join(parts)


#: where `citylake serve` listens by default; as the open zone's base URL it means "follow the server"
DEFAULT_OPEN_BASE_URL = "http://127.0.0.1:8765/"


@dataclass(frozen=True)
class Settings:
    """Where citylake keeps things and how it runs Spark."""

    home: Path
    catalog_dirs: tuple[Path, ...] = (BUILTIN_CATALOG,)
    spark_master: str = "local[*]"
    profile: Profile = "embedded"
    jars_dir: Path = field(default_factory=lambda: _default_jars(os.environ))
    shuffle_partitions: int = 4
    expectations_dir: Path = EXPECTATIONS_DIR
    extra_spark_conf: Mapping[str, str] = field(default_factory=dict)
    #: JVM flags of the Spark driver and executors (`CITYLAKE_JVM_OPTIONS`), e.g. C1-only JIT for short-lived JVMs
    jvm_options: str = ""
    landing_location: str | None = None
    s3_endpoint: str | None = None
    s3_region: str = "us-east-1"
    s3_access_key: str | None = field(default=None, repr=False)
    s3_secret_key: str | None = field(default=None, repr=False)
    open_location: str | None = None
    restricted_location: str | None = None
    open_base_url: str = DEFAULT_OPEN_BASE_URL
    keep_versions: int = 5
    pseudonym_key: str | None = field(default=None, repr=False)
    lake_location: str | None = None
    metastore_url: str | None = None
    metastore_user: str | None = None
    metastore_password: str | None = field(default=None, repr=False)
    step_server: StepServerMode = "auto"
    step_server_idle: int = 600
    time_travel_days: int = 7
    vacuum_retain_hours: int = 168
    #: Airflow connections a task takes credentials from, when they are defined (see `with_connections`)
    s3_connection: str = "aws_default"
    metastore_connection: str = "citylake_metastore"

    @property
    def landing(self) -> Path:
        """Export files exactly as departments delivered them."""
        return self.home / "landing"

    @property
    def landing_uri(self) -> str:
        """Where ingest looks for exports: the local landing folder unless a URI was configured."""
        return self.landing_location or str(self.landing)

    @property
    def lake(self) -> Path:
        """Local lake folder: the embedded tables, and the ops artefacts (GX, Data Docs, drift) in any profile."""
        return self.home / "lake"

    @property
    def lake_uri(self) -> str:
        """Root of the Delta tables of every zone: the local lake folder unless a URI was configured."""
        return (self.lake_location or str(self.lake)).rstrip("/")

    @property
    def lake_on_s3a(self) -> bool:
        """True when Spark reaches the lake through hadoop-aws (landing files are fetched with boto3)."""
        return self.lake_uri.startswith("s3a://")

    @property
    def open_files(self) -> Path:
        """Local folder of the public open zone (the embedded default)."""
        return self.home / "open"

    @property
    def open_uri(self) -> str:
        """Public open zone (无条件开放): downloads, catalog.json(ld), portal."""
        return self.open_location or str(self.open_files)

    @property
    def restricted_uri(self) -> str:
        """Restricted zone (有条件开放): the same layout, served to approved users only."""
        return self.restricted_location or str(self.home / "restricted")

    @property
    def ops(self) -> Path:
        """Ops zone folder for non-table artefacts (GX project, Data Docs, drift reports)."""
        return self.lake / "ops"

    @property
    def airflow_home(self) -> Path:
        """AIRFLOW_HOME of the embedded profile (SQLite metadata)."""
        return self.home / "airflow"

    def table_path(self, zone: str, name: str) -> str:
        """Location (folder or object-store URI) of the Delta table `zone.name`."""
        return f"{self.lake_uri}/{zone}/{name}"

    def with_home(self, home: Path) -> Settings:
        """The same settings on another lake root (tests use a temporary one)."""
        return replace(self, home=home)


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Build settings from the environment (or from `environ`, for tests)."""
    env = os.environ if environ is None else environ
    profile = env.get("CITYLAKE_PROFILE", "embedded")
    if profile not in PROFILES:
        from jobs.errors import ConfigurationError

        raise ConfigurationError(
            f"CITYLAKE_PROFILE={profile!r} is not a profile; use one of {', '.join(PROFILES)}"
        )
    step_server = env.get("CITYLAKE_STEP_SERVER", "auto")
    if step_server not in STEP_SERVER_MODES:
        from jobs.errors import ConfigurationError

        raise ConfigurationError(f"CITYLAKE_STEP_SERVER={step_server!r}: use one of {', '.join(STEP_SERVER_MODES)}")
    extra = tuple(Path(p).expanduser() for p in env.get("CITYLAKE_CATALOG", "").split(os.pathsep) if p)
    settings = Settings(
        home=Path(env.get("CITYLAKE_HOME") or _default_home(env)).expanduser().resolve(),
        catalog_dirs=(BUILTIN_CATALOG, *extra),
        spark_master=env.get("CITYLAKE_SPARK_MASTER", "local[*]"),
        profile=profile,  # type: ignore[arg-type]
        jars_dir=Path(env.get("CITYLAKE_JARS") or _default_jars(env)).expanduser().resolve(),
        shuffle_partitions=int(env.get("CITYLAKE_SHUFFLE_PARTITIONS", "4")),
        jvm_options=env.get("CITYLAKE_JVM_OPTIONS", "").strip(),
        landing_location=env.get("CITYLAKE_LANDING") or None,
        s3_endpoint=env.get("CITYLAKE_S3_ENDPOINT") or None,
        s3_region=env.get("CITYLAKE_S3_REGION", "us-east-1"),
        s3_access_key=env.get("CITYLAKE_S3_ACCESS_KEY") or None,
        s3_secret_key=env.get("CITYLAKE_S3_SECRET_KEY") or None,
        open_location=env.get("CITYLAKE_OPEN") or None,
        restricted_location=env.get("CITYLAKE_RESTRICTED") or None,
        open_base_url=env.get("CITYLAKE_OPEN_BASE_URL", DEFAULT_OPEN_BASE_URL),
        keep_versions=int(env.get("CITYLAKE_KEEP_VERSIONS", "5")),
        pseudonym_key=env.get("CITYLAKE_PSEUDONYM_KEY") or None,
        lake_location=env.get("CITYLAKE_LAKE") or None,
        metastore_url=env.get("CITYLAKE_METASTORE_URL") or None,
        metastore_user=env.get("CITYLAKE_METASTORE_USER") or None,
        metastore_password=env.get("CITYLAKE_METASTORE_PASSWORD") or None,
        step_server=step_server,  # type: ignore[arg-type]
        step_server_idle=int(env.get("CITYLAKE_STEP_SERVER_IDLE", "600")),
        time_travel_days=int(env.get("CITYLAKE_TIME_TRAVEL_DAYS", "7")),
        vacuum_retain_hours=int(env.get("CITYLAKE_VACUUM_RETAIN_HOURS", "168")),
        s3_connection=env.get("CITYLAKE_S3_CONNECTION", "aws_default"),
        metastore_connection=env.get("CITYLAKE_METASTORE_CONNECTION", "citylake_metastore"),
    )
    check_profile(settings)
    return settings


def with_connections(settings: Settings, *, s3: Mapping[str, Any] | None = None,
                     metastore: Mapping[str, Any] | None = None) -> Settings:
    """`settings` with the credentials of Airflow connections laid over the environment's: under Airflow a
    platform keeps secrets in connections (its secrets backend), not in every worker's environment.

    `s3` is an `aws` connection (login = access key, password = secret key, extra `endpoint_url` and
    `region_name`); `metastore` a `postgres` one (host, port, schema = database, login, password). Each is a
    mapping of those fields (`login`, `password`, `host`, `port`, `schema`, `extra`); what a connection
    leaves empty keeps the environment's value.
    """
    changes: dict[str, Any] = {}
    if s3:
        extra = s3.get("extra") or {}
        host = s3.get("host") or ""
        changes.update({k: v for k, v in {
            "s3_access_key": s3.get("login"), "s3_secret_key": s3.get("password"),
            "s3_endpoint": extra.get("endpoint_url") or (host if host.startswith(("http://", "https://")) else None),
            "s3_region": extra.get("region_name"),
        }.items() if v})
    if metastore:
        if metastore.get("host") and metastore.get("schema"):
            changes["metastore_url"] = (f"jdbc:postgresql://{metastore['host']}:{metastore.get('port') or 5432}/"
                                        f"{metastore['schema']}")
        changes.update({k: v for k, v in {"metastore_user": metastore.get("login"),
                                          "metastore_password": metastore.get("password")}.items() if v})
    return replace(settings, **changes) if changes else settings


def progress_allowed(environ: Mapping[str, str] | None = None) -> bool:
    """Whether progress may be shown at a terminal (`CITYLAKE_PROGRESS=off` silences it there too)."""
    env = os.environ if environ is None else environ
    return env.get("CITYLAKE_PROGRESS", "").lower() != "off"


def check_profile(settings: Settings) -> None:
    """Refuse production settings that would put the lake on one machine.

    Raises:
        ConfigurationError: names every missing setting.
    """
    if settings.profile != "production":
        return
    from jobs.errors import ConfigurationError

    missing = []
    if not settings.lake_on_s3a:
        missing.append(f"CITYLAKE_LAKE must be an s3a:// URI (is {settings.lake_uri})")
    if not (settings.metastore_url or "").startswith("jdbc:"):
        missing.append("CITYLAKE_METASTORE_URL must be the JDBC URL of the Hive metastore database")
    if missing:
        raise ConfigurationError("CITYLAKE_PROFILE=production: " + "; ".join(missing))


def airflow_environment(settings: Settings, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Environment for an `airflow` subprocess of the embedded profile (SQLite metadata in the home)."""
    env = dict(os.environ if environ is None else environ)
    env.update({
        "CITYLAKE_HOME": str(settings.home),
        "CITYLAKE_JARS": str(settings.jars_dir),
        "CITYLAKE_SPARK_MASTER": settings.spark_master,
        "CITYLAKE_CATALOG": os.pathsep.join(str(d) for d in settings.catalog_dirs[1:]),
        "AIRFLOW_HOME": str(settings.airflow_home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_DIR),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{settings.airflow_home / 'airflow.db'}",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        "PYTHONPATH": _importable(env),
        "CITYLAKE_S3_REGION": settings.s3_region,
        "CITYLAKE_PROFILE": settings.profile,
        "CITYLAKE_STEP_SERVER": settings.step_server,
        "CITYLAKE_STEP_SERVER_IDLE": str(settings.step_server_idle),
        # executors start Python workers with the driver's interpreter (a cluster's image has the same path)
        "PYSPARK_PYTHON": env.get("PYSPARK_PYTHON", sys.executable),
    })
    optional = {"CITYLAKE_LANDING": settings.landing_location, "CITYLAKE_S3_ENDPOINT": settings.s3_endpoint,
                "CITYLAKE_S3_ACCESS_KEY": settings.s3_access_key, "CITYLAKE_S3_SECRET_KEY": settings.s3_secret_key,
                "CITYLAKE_OPEN": settings.open_location, "CITYLAKE_RESTRICTED": settings.restricted_location,
                "CITYLAKE_OPEN_BASE_URL": settings.open_base_url, "CITYLAKE_JVM_OPTIONS": settings.jvm_options,
                "CITYLAKE_KEEP_VERSIONS": str(settings.keep_versions),
                "CITYLAKE_TIME_TRAVEL_DAYS": str(settings.time_travel_days),
                "CITYLAKE_VACUUM_RETAIN_HOURS": str(settings.vacuum_retain_hours),
                "CITYLAKE_PSEUDONYM_KEY": settings.pseudonym_key, "CITYLAKE_LAKE": settings.lake_location,
                "CITYLAKE_METASTORE_URL": settings.metastore_url, "CITYLAKE_METASTORE_USER": settings.metastore_user,
                "CITYLAKE_METASTORE_PASSWORD": settings.metastore_password}
    env.update({k: v for k, v in optional.items() if v})
    if not any(k in env for k in ("AIRFLOW__OPENLINEAGE__TRANSPORT", "AIRFLOW__OPENLINEAGE__CONFIG_PATH",
                                  "OPENLINEAGE_CONFIG", "OPENLINEAGE_URL")):
        env.update(lineage_environment(settings.home / "lineage"))
    return env


def step_server_environment() -> dict[str, str]:
    """Environment of a step server a task starts: the task's own (Spark, Java and lineage variables), with
    this checkout importable and executors' Python workers on this interpreter. Settings, secrets among
    them, reach the server on its stdin, not here."""
    env = dict(os.environ)
    env["PYTHONPATH"] = _importable(env)
    env.setdefault("PYSPARK_PYTHON", sys.executable)
    return env


def lineage_environment(folder: Path) -> dict[str, str]:
    """OpenLineage events of every task as one JSON file per event in `folder` (the default of both
    profiles; an operator points AIRFLOW__OPENLINEAGE__TRANSPORT at Marquez or another backend instead).

    One file per event, because task processes run at the same time; events are emitted from a thread of
    the task process rather than a fork of it, which holds a JVM (Spark's driver) and py4j threads.
    The folder is created here: the file transport does not create it and drops events instead.
    """
    folder.mkdir(parents=True, exist_ok=True)
    transport = {"type": "file", "log_file_path": str(folder / "event"), "append": False}
    return {"AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(transport),
            "AIRFLOW__OPENLINEAGE__NAMESPACE": "citylake",
            "AIRFLOW__OPENLINEAGE__EXECUTE_IN_THREAD": "True"}
