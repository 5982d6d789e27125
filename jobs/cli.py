"""`citylake` — the command line. Every command calls a step or a reader; none holds logic."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from dataclasses import asdict, replace
from datetime import date
from pathlib import Path

from jobs import __version__
from jobs.errors import (
    BadData,
    CatalogError,
    CitylakeError,
    ConfigurationError,
    ErasureRefused,
    ExportRejected,
    FilesRejected,
    JarResolutionError,
    LedgerImbalance,
    NotReady,
    QueryError,
    ServiceUnavailable,
)
from jobs.settings import load_settings

STEPS = ("ingest", "conform", "validate", "publish", "run")


def _parser() -> argparse.ArgumentParser:
    from rich_argparse import RawDescriptionRichHelpFormatter

    p = argparse.ArgumentParser(prog="citylake", description="citylake data-lake ETL", epilog=EXIT_CODES_HELP,
                                formatter_class=RawDescriptionRichHelpFormatter)
    p.add_argument("--version", action="version", version=f"citylake {__version__}")
    class RichParser(argparse.ArgumentParser):
        """Every subcommand's help rendered by rich-argparse too."""

        def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003
            kwargs.setdefault("formatter_class", RawDescriptionRichHelpFormatter)
            super().__init__(*args, **kwargs)

    sub = p.add_subparsers(dest="command", required=True, parser_class=RichParser)
    for step in STEPS:
        s = sub.add_parser(step, help=f"{step} one catalog resource")
        s.add_argument("resource")
    s = sub.add_parser("sample", help="write sample exports into landing, as the departments would deliver them")
    s.add_argument("resources", nargs="*", help="resources (default: every resource, or --department's)")
    s.add_argument("--department")
    s.add_argument("--day", type=date.fromisoformat, default=date.today(), help="first day")
    s.add_argument("--days", type=int, default=1)
    s.add_argument("--scale", type=float, default=1.0, help="share of the city's daily volume")
    s.add_argument("--rows", type=int, help="rows a day, instead of the catalog's volume x scale")
    s.add_argument("--seed", type=int, default=12345)
    _json_option(s, "[{where, rows, defects}] per delivered file")
    s = sub.add_parser("catalog", help="the government data resource catalog: list | show CODE | validate | sync")
    s.add_argument("action", choices=("list", "show", "validate", "sync"))
    s.add_argument("target", nargs="*", help="show: a resource code or name; validate: extra catalog folders")
    s.add_argument("--department")
    _json_option(s, "list: [{code, name, title, provider, format, update_cycle, open_type}]; show: the entries "
                    "as the catalog model holds them; validate: {resources, departments, errors}; sync: {resources}")
    s = sub.add_parser("sql", help="run SQL over the lake's tables (bronze.*, silver.*, open.* ...)",
                       description="Run SQL over the lake's tables, named <zone>.<table> by both engines. "
                                   "duckdb (default without a cluster: the embedded profile and no metastore) "
                                   "reads the Delta tables through delta-rs in this process, no JVM; spark (the "
                                   "default otherwise) runs Spark SQL in a Spark session.")
    s.add_argument("query")
    s.add_argument("--engine", choices=("duckdb", "spark"), help="default: duckdb without a cluster, else spark")
    s.add_argument("--limit", type=int, help="rows shown (table: default 50); caps --json / --csv, which "
                                             "otherwise print every row")
    _output_options(s)
    s.add_argument("--as-of", metavar="VERSION|TIME", help="read the named tables as they were: a version "
                   "number (one table) or an ISO 8601 date or time (every named table); duckdb only")
    s = sub.add_parser("history", help="a lake table's versions: when, which operation, rows added / updated / "
                                       "removed, which batch of which step (read from the Delta log, no JVM)")
    s.add_argument("table", help="<zone>.<table>, e.g. silver.market_entities")
    s.add_argument("--limit", type=int, help="only the newest so many versions")
    _output_options(s)
    s = sub.add_parser("replay", help="judge a resource's bronze batches again under the catalog as it is now",
                       description="Conform and validate each bronze batch again (after a rule fix), as a replay "
                                   "batch of its own in the ledger; promoted replays supersede the originals in "
                                   "silver and quarantine. Replaying again under the same catalog does nothing.")
    s.add_argument("resource")
    s.add_argument("--since", type=date.fromisoformat, help="only batches ingested on or after this day")
    s = sub.add_parser("erase", help="erase one person's records from every zone on request (PIPL art. 47)",
                       description="Remove a person's rows from bronze, audit, silver (every version), quarantine "
                                   "and the archived exports, republish the open tables and withdraw their earlier "
                                   "versions; ops.erasures records the request as a keyed hash. Older table versions "
                                   "keep the bytes until maintenance vacuums them after CITYLAKE_VACUUM_RETAIN_HOURS.")
    who = s.add_mutually_exclusive_group(required=True)
    who.add_argument("--key", help="the record's primary key in --resource (parts of a composite key joined by |)")
    who.add_argument("--resident-id", help="a resident ID: every resource with resident-ID items (or --resource's)")
    s.add_argument("--resource", help="the resource (required with --key)")
    s = sub.add_parser("maintain", help="compact, vacuum and checkpoint lake tables (delta-rs, no JVM)",
                       description="Compact small files (Z-ordered by the entry's cluster_by on silver), VACUUM "
                                   "files replaced more than CITYLAKE_VACUUM_RETAIN_HOURS ago (never below the "
                                   "CITYLAKE_TIME_TRAVEL_DAYS window) and checkpoint the log.")
    s.add_argument("targets", nargs="*", help="resources (all their zones), `ops`, or <zone>.<table>; "
                                              "default: every resource and the ops tables")
    s.add_argument("--json", dest="output", action="store_const", const="json", help="one object per table")
    s = sub.add_parser("quarantine", help="open quarantine records; --export writes a correction CSV per department")
    s.add_argument("resource", nargs="?")
    s.add_argument("--department", help="all resources of this providing department")
    s.add_argument("--export", type=Path, metavar="DIR",
                   help="write <DIR>/<department>/<resource>_quarantine_<day>.csv")
    _json_option(s, "[{resource, department, open, corrected, export}]")
    s = sub.add_parser("scorecard", help="how well each department delivers (on time, quarantine, drift, checks)")
    s.add_argument("resources", nargs="*")
    s.add_argument("--department")
    _json_option(s, "[{department, resource, on_time_rate, quarantine_rate, expectation_pass_rate, ... trend}]")
    s = sub.add_parser("summary", help="what the lake holds, per resource")
    s.add_argument("resources", nargs="*")
    _json_option(s, "{lake, resources: [{name, files, rows: {read, accepted, quarantined, warned, balanced}, "
                    "failed_batches, drift, quarantine_reasons, expectations, published}], scorecard, where}")
    s = sub.add_parser("expectations", help="(re)generate expectations/<resource>.json from the catalog")
    s.add_argument("resources", nargs="*")
    s.add_argument("--check", action="store_true", help="fail if a checked-in suite is out of date")
    s = sub.add_parser("serve", help="serve the public open zone: CKAN Action API, downloads, DCAT catalog, portal")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8765)
    s = sub.add_parser("buckets", help="create the S3 buckets (landing, lake, open, restricted) with their policies")
    for role in ("landing", "lake", "open", "restricted"):
        s.add_argument(f"--{role}", default=f"citylake-{role}", help=f"name of the {role} bucket")
    s.add_argument("--archive-days", type=int, default=365, help="days archived landing files are kept")
    sub.add_parser("metastore", help="prepare the Hive metastore once (its tables, the zone databases), "
                                     "before the first DAG run; Spark runs in this process, not on the cluster")
    s = sub.add_parser("step-server", help="run the worker's step server: one Spark driver for every step task "
                                           "of this worker (tasks start one on demand unless told not to)")
    s.add_argument("--idle", type=float, default=0, help="stop after this many seconds without a request (0: never)")
    s.add_argument("--slots", type=int, default=4, help="steps run side by side")
    s.add_argument("--stop", action="store_true", help="stop this home's step servers instead")
    s.add_argument("--settings-from-stdin", action="store_true", help=argparse.SUPPRESS)
    s = sub.add_parser("demo", help="sample exports -> every department's Airflow DAG (dags test) -> summary")
    s.add_argument("--day", type=date.fromisoformat, default=date.today())
    s.add_argument("--scale", type=float, default=0.02, help="share of the city's daily volumes")
    return p


def _json_option(s: argparse.ArgumentParser, shape: str) -> None:
    """--json of a reporting command: one JSON document on stdout, its shape in the help."""
    s.add_argument("--json", dest="output", action="store_const", const="json", help=f"print JSON: {shape}")


def _print_json(value: object) -> None:
    print(json.dumps(value, ensure_ascii=False, indent=2, default=str))


def _output_options(s: argparse.ArgumentParser) -> None:
    """--json / --csv of the commands that print rows (`jobs.io.query.write_result` renders all three)."""
    shape = s.add_mutually_exclusive_group()
    shape.add_argument("--json", dest="output", action="store_const", const="json",
                       help="a JSON array of objects (decimals as exact strings, times ISO 8601)")
    shape.add_argument("--csv", dest="output", action="store_const", const="csv", help="header and rows as CSV")


#: Exit codes, so a script or a scheduler tells a department's problem from an engineer's.
EXIT_OK, EXIT_BAD_DATA, EXIT_USAGE, EXIT_CONFIGURATION, EXIT_UNAVAILABLE = 0, 1, 2, 3, 4
EXIT_CODES_HELP = """exit codes:
  0  success
  1  bad data: a file rejected whole, a batch over its error limit, a failed error-severity expectation,
     personal data caught by the PII gate (the department must correct and re-send)
  2  usage: unknown command or option, a step run before the one it depends on, a query naming an
     unknown table or with bad SQL (citylake sql), an erasure naming nothing the lake holds
  3  configuration: settings, the catalog or the Delta jars
  4  a service did not answer (the step server); the same command may work later"""


def exit_code_for(exc: CitylakeError) -> int:
    """The exit code of a failure (see EXIT_CODES_HELP)."""
    if isinstance(exc, BadData | ExportRejected):
        return EXIT_BAD_DATA
    if isinstance(exc, NotReady | QueryError | ErasureRefused):
        return EXIT_USAGE
    if isinstance(exc, ServiceUnavailable):
        return EXIT_UNAVAILABLE
    if isinstance(exc, ConfigurationError | CatalogError | JarResolutionError):
        return EXIT_CONFIGURATION
    return EXIT_BAD_DATA if isinstance(exc, LedgerImbalance) else EXIT_CONFIGURATION


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("py4j").setLevel(logging.WARNING)
    try:
        return _dispatch(args, load_settings())
    except FilesRejected as exc:
        # what did get in is as much a result as what did not
        _print_json(exc.outcomes)
        print(f"citylake: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_BAD_DATA
    except CitylakeError as exc:
        print(f"citylake: {type(exc).__name__}: {exc}", file=sys.stderr)
        return exit_code_for(exc)


def _dispatch(args: argparse.Namespace, settings) -> int:  # noqa: ANN001
    if args.command in STEPS:
        from jobs import steps

        _print_json(getattr(steps, args.command)(args.resource, settings=settings))
        return 0
    if args.command == "step-server":
        return _step_server(args, settings)
    if args.command == "metastore":
        from jobs.io import ops
        from jobs.io.spark import get_spark
        from jobs.io.tables import init_metastore

        # Metadata work (Hive's tables, a few empty Delta tables): the Spark of this process is enough, and a
        # cluster's executors would cost more to start than everything they would run.
        spark = get_spark(replace(settings, spark_master="local[1]"), app_name="citylake-metastore")
        shared = ops.create_tables(spark, settings)
        print("metastore ready; databases: " + ", ".join(init_metastore(spark, settings, shared)))
        return 0
    if args.command == "buckets":
        from jobs.io.buckets import BucketPlan, bootstrap
        from jobs.io.landing import s3_client

        plan = BucketPlan(landing=args.landing, lake=args.lake, open=args.open, restricted=args.restricted,
                          archive_days=args.archive_days)
        for bucket, what in bootstrap(s3_client(settings), plan).items():
            print(f"{bucket}: {what}")
        return 0
    if args.command == "serve":
        from jobs.publish.ckan import serve

        serve(settings, host=args.host, port=args.port)
        return 0
    if args.command == "sample":
        from jobs.steps.sample import chosen_resources, deliver_samples

        chosen = chosen_resources(settings, args.resources, args.department)
        delivered = deliver_samples(chosen, settings=settings, start_day=args.day, days=args.days, scale=args.scale,
                                    rows=args.rows, seed=args.seed)
        if args.output == "json":
            _print_json([{"where": str(d.where), "rows": d.rows, "defects": d.defects} for d in delivered])
            return 0
        for d in delivered:
            print(f"{d.where}: {d.rows} rows, {d.defects} defective")
        return 0
    if args.command == "catalog":
        return _catalog(args, settings)
    if args.command == "quarantine":
        from jobs.steps.quarantine import quarantine

        found = quarantine(args.resource, department=args.department, export_dir=args.export, settings=settings)
        if args.output == "json":
            _print_json([asdict(q) for q in found])
            return 0
        for q in found:
            where = f" -> {q.export}" if q.export else ""
            print(f"{q.department}/{q.resource}: {q.open} open, {q.corrected} corrected{where}")
        return 0
    if args.command == "scorecard":
        from jobs.steps.scorecard import scorecard

        cards = scorecard(args.resources or None, department=args.department, settings=settings)
        if args.output == "json":
            _print_json([card.as_json() for card in cards])
            return 0
        for card in cards:
            print(card.describe())
        return 0
    if args.command == "sql":
        from jobs.io.query import parse_as_of, run_query

        as_of = parse_as_of(args.as_of) if args.as_of is not None else None
        run_query(args.query, settings, engine=args.engine, output=args.output or "table", limit=args.limit,
                  as_of=as_of, out=sys.stdout)
        return 0
    if args.command == "history":
        from jobs.io.history import commits_arrow, table_history
        from jobs.io.query import lake_table, write_result

        commits = table_history(lake_table(settings, args.table), settings, limit=args.limit)
        write_result(commits_arrow(commits).to_reader(), sys.stdout, output=args.output or "table",
                     limit=None if args.output else len(commits))
        return 0
    if args.command == "replay":
        from jobs.steps.replay import replay

        _print_json(replay(args.resource, since=args.since, settings=settings))
        return EXIT_OK
    if args.command == "maintain":
        return _maintain(args, settings)
    if args.command == "erase":
        from jobs.steps.erase import erase

        _print_json(erase(resource=args.resource, key=args.key, resident_id=args.resident_id, settings=settings))
        return EXIT_OK
    if args.command == "summary":
        from jobs.steps.summary import render_summary, summary_report

        report = summary_report(args.resources or None, settings=settings)
        if args.output == "json":
            _print_json(report)
        else:
            print(render_summary(report))
        return 0
    if args.command == "expectations":
        return _expectations(args, settings)
    from jobs.demo import run_demo

    print(run_demo(settings, day=args.day, scale=args.scale))
    return 0


def _step_server(args: argparse.Namespace, settings) -> int:  # noqa: ANN001
    if args.stop:
        from jobs.service.client import stop_servers

        print(json.dumps({"stopped": stop_servers(settings.home)}))
        return EXIT_OK
    from jobs.service.server import StepServer

    if args.settings_from_stdin:  # started by a task: its settings, secrets among them, never in argv
        from jobs.service.protocol import settings_from_wire

        settings = settings_from_wire(json.loads(sys.stdin.read()))
    StepServer(settings, idle_seconds=args.idle, slots=args.slots).serve_forever()
    return EXIT_OK


def _maintain(args: argparse.Namespace, settings) -> int:  # noqa: ANN001
    from jobs.steps.maintain import OPS, maintain
    from jobs.steps.runtime import cached_catalog

    # the steps below read the same cached parse (`jobs.steps.runtime`), not a second one
    targets = args.targets or [*sorted(cached_catalog(settings.catalog_dirs).catalog.resources), OPS]
    done = []
    for target in targets:
        done += maintain(target, settings=settings)
    if args.output == "json":
        _print_json(done)
    else:
        from jobs.io.maintenance import Maintained

        for entry in done:
            print(Maintained(**entry).describe())
    return EXIT_OK


def _expectations(args: argparse.Namespace, settings) -> int:  # noqa: ANN001
    import json as _json

    from jobs.catalog import load_catalog
    from jobs.catalog.suite import render, suite_document, suite_path, write_suite

    catalog = load_catalog(settings.catalog_dirs)
    stale = []
    for name in args.resources or sorted(catalog.resources):
        res = catalog.resource(name)
        path = suite_path(settings.expectations_dir, res)
        if args.check:
            existing = _json.loads(path.read_text(encoding="utf-8")) if path.exists() else None
            if existing is None or render(suite_document(res, existing)) != path.read_text(encoding="utf-8"):
                stale.append(str(path))
        else:
            print(write_suite(settings.expectations_dir, res))
    if stale:
        print("out of date (run `citylake expectations`): " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0



def _catalog(args: argparse.Namespace, settings) -> int:  # noqa: ANN001
    from jobs.catalog import load_catalog
    from jobs.catalog.describe import card, find, listed, listing
    from jobs.catalog.loader import load_catalog_leniently

    if args.action == "validate":
        # a folder named again (already in CITYLAKE_CATALOG) is loaded once, not reported as defined twice
        dirs = tuple({Path(d).resolve(): Path(d) for d in (*settings.catalog_dirs, *args.target)}.values())
        load = load_catalog_leniently(dirs)
        if args.output == "json":
            _print_json({"resources": len(load.catalog.resources), "departments": len(load.catalog.departments),
                         "errors": [str(e) for e in load.errors]})
            return 1 if load.errors else 0
        for error in load.errors:
            print(f"error: {error}")
        print(f"{len(load.catalog.resources)} resources of {len(load.catalog.departments)} departments load; "
              f"{len(load.errors)} error(s)")
        return 1 if load.errors else 0
    if args.action == "sync":
        from jobs.steps.catalog_table import sync_catalog_table

        synced = sync_catalog_table(settings=settings)
        if args.output == "json":
            _print_json({"resources": synced})
        else:
            print(f"ops.catalog: {synced} resources")
        return 0
    catalog = load_catalog(settings.catalog_dirs)
    if args.action == "list":
        if args.output == "json":
            _print_json([{"code": r.code, "name": r.name, "title": r.title, "provider": r.provider,
                          "format": r.source.format, "update_cycle": r.update_cycle, "open_type": r.open_type}
                         for r in listed(catalog, args.department)])
        else:
            print("\n".join(listing(catalog, args.department)))
        return 0
    if not args.target:
        print("citylake catalog show: name a resource code or name", file=sys.stderr)
        return 2
    if args.output == "json":
        _print_json([asdict(find(catalog, target)) for target in args.target])
        return 0
    for target in args.target:
        print(card(catalog, find(catalog, target)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
