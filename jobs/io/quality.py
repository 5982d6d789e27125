"""Great Expectations: run a resource's suite on a batch through its checkpoint, keep results and Data Docs.

Each resource has a GX checkpoint of its own in the file project `<ops>/gx` (suite, validation
definition and checkpoint named after the resource) with two actions: GX's `UpdateDataDocsAction`,
which renders this run's page and the site index, and `ResourceHistoryAction`, which keeps the
resource's history page (`citylake/<resource>.html` in the site). The expectations themselves are
computed in one aggregation (`jobs.transforms.expectation_metrics`) instead of GX's per-expectation
scans; only the remainder goes through GX's own validator, and the combined result is what the
checkpoint's actions see and what the validation results store keeps.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jobs.errors import ConfigurationError
from jobs.transforms.validation_history import HISTORY_FOLDER

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

DATASOURCE = "citylake_spark"
SITE = "local_site"
#: newest validation results GX's own index lists (it re-reads each one on every build); the
#: per-resource history pages list every run
INDEX_RESULTS_LIMIT = 200


@dataclass(frozen=True)
class ExpectationOutcome:
    type: str
    column: str | None
    severity: str
    success: bool
    observed: str


@dataclass(frozen=True)
class SuiteResult:
    suite: str
    success: bool
    outcomes: tuple[ExpectationOutcome, ...]
    #: the resource's validation history page in the Data Docs site
    data_docs: Path

    @property
    def failed_errors(self) -> tuple[ExpectationOutcome, ...]:
        return tuple(o for o in self.outcomes if not o.success and o.severity == "critical")

    @property
    def failed_warnings(self) -> tuple[ExpectationOutcome, ...]:
        return tuple(o for o in self.outcomes if not o.success and o.severity != "critical")


def site_root(ops_dir: Path) -> Path:
    return Path(ops_dir) / "gx" / "uncommitted" / "data_docs" / SITE


def history_page(ops_dir: Path, suite: str) -> Path:
    return site_root(ops_dir) / HISTORY_FOLDER / f"{suite}.html"


def gx_context(ops_dir: Path) -> Any:
    """The file-backed GX project in the ops zone (created on first use), progress bars off, the site's
    index capped at `INDEX_RESULTS_LIMIT` results, no "how to" buttons (the site is for data engineers)."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    ops_dir.mkdir(parents=True, exist_ok=True)
    context = gx.get_context(mode="file", project_root_dir=str(ops_dir))
    changed = False
    if context.variables.progress_bars is None:
        context.variables.progress_bars = ProgressBarsConfig(globally=False)
        changed = True
    site = (context.variables.data_docs_sites or {}).get(SITE)
    if site is not None:
        index = site.setdefault("site_index_builder", {"class_name": "DefaultSiteIndexBuilder"})
        if index.get("validation_results_limit") != INDEX_RESULTS_LIMIT or site.get("show_how_to_buttons"):
            index["validation_results_limit"] = INDEX_RESULTS_LIMIT
            site["show_how_to_buttons"] = False
            changed = True
    if changed:
        context.variables.save()
    return context


def load_suite_file(path: Path) -> dict[str, Any]:
    if not path.exists():
        raise ConfigurationError(f"expectation suite {path} is missing; run `citylake expectations` to generate it")
    return json.loads(path.read_text(encoding="utf-8"))


def _suite(document: dict[str, Any]) -> Any:
    """The suite as a GX object; built whole (adding expectations one by one to a suite the project
    already holds would write the suite file once per expectation)."""
    import great_expectations as gx
    from great_expectations.expectations.registry import get_expectation_impl

    expectations = [
        get_expectation_impl(spec["type"])(**spec["kwargs"], severity=spec.get("severity", "critical"),
                                           meta=spec.get("meta"))
        for spec in document["expectations"]
    ]
    return gx.ExpectationSuite(name=document["name"], expectations=expectations, meta=document.get("meta"))


def _observed(result: Any) -> str:
    res = result.result or {}
    for key in ("observed_value", "unexpected_count"):
        if key in res:
            return f"{key}={res[key]}"
    return ""


def _outcome(r: Any) -> ExpectationOutcome:
    cfg = r.expectation_config
    return ExpectationOutcome(
        type=cfg.type,
        column=(cfg.kwargs or {}).get("column"),
        severity=str(getattr(cfg.severity, "value", cfg.severity)),
        success=bool(r.success),
        observed=_observed(r),
    )


def _ensure_batch_definition(context: Any, name: str) -> Any:
    try:
        source = context.data_sources.get(DATASOURCE)
    except (KeyError, ValueError):
        source = context.data_sources.add_spark(name=DATASOURCE)
    try:
        asset = source.get_asset(name)
    except LookupError:
        asset = source.add_dataframe_asset(name=name)
    try:
        return asset.get_batch_definition("batch")
    except KeyError:
        return asset.add_batch_definition_whole_dataframe("batch")


def _checkpoint(context: Any, document: dict[str, Any]) -> Any:
    """The resource's checkpoint (suite from the file, validation definition, the two actions), stored."""
    import great_expectations as gx

    from jobs.io.gx_actions import ResourceHistoryAction, UpdateDataDocsAction

    name = document["name"]
    suite = context.suites.add_or_update(_suite(document))  # the suite file is the source of truth
    batch_definition = _ensure_batch_definition(context, name)
    definition = context.validation_definitions.add_or_update(
        gx.ValidationDefinition(name=name, data=batch_definition, suite=suite))
    uncommitted = Path(context.root_directory) / "uncommitted"
    actions = [
        UpdateDataDocsAction(name="update_data_docs", site_names=[SITE]),
        ResourceHistoryAction(name="resource_history", site_root=str(uncommitted / "data_docs" / SITE),
                              history_dir=str(uncommitted / "validation_history")),
    ]
    return context.checkpoints.add_or_update(gx.Checkpoint(
        name=name, validation_definitions=[definition], actions=actions,
        result_format={"result_format": "SUMMARY"}))


def _run_with_gx(context: Any, df: DataFrame, document: dict[str, Any], run_id: Any) -> list[Any]:
    """Expectations the one-pass engine does not compute, run by GX's own validator on the same batch.

    Nothing is stored here: the results join the one-pass results in the resource's checkpoint result.
    """
    from great_expectations.validator.v1_validator import Validator

    batch_definition = _ensure_batch_definition(context, document["name"])
    validator = Validator(batch_definition=batch_definition, batch_parameters={"dataframe": df},
                          result_format={"result_format": "SUMMARY"})
    return list(validator.validate_expectation_suite(_suite(document)).results)


def _one_pass_results(df: DataFrame, specs: list[dict[str, Any]]) -> list[Any]:
    from great_expectations.core.expectation_validation_result import ExpectationValidationResult
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    from jobs.transforms.expectation_metrics import evaluate

    results = []
    for spec, outcome in zip(specs, evaluate(df, specs), strict=True):
        config = ExpectationConfiguration(type=spec["type"], kwargs=spec["kwargs"], meta=spec.get("meta"),
                                          severity=spec.get("severity", "critical"))
        results.append(ExpectationValidationResult(success=outcome.success, expectation_config=config,
                                                    result=outcome.result))
    return results


def validate_dataframe(df: DataFrame, document: dict[str, Any], *, ops_dir: Path, run_name: str) -> SuiteResult:
    """Validate `df` against the suite `document` through the resource's checkpoint.

    Expectations the one-pass engine supports are computed in a single aggregation over `df`; any
    other (hand-written ones of other types) is run by GX's validator. The combined GX validation
    result is stored in the project's validation results store and handed to the checkpoint's actions
    (Data Docs page and index, the resource's history page), exactly as `Checkpoint.run` would after
    validating — without GX scanning the batch once per expectation.
    """
    from jobs.transforms.expectation_metrics import supported

    one_pass = [e for e in document["expectations"] if supported(e)]
    by_gx = [e for e in document["expectations"] if not supported(e)]
    results = _one_pass_results(df, one_pass) if one_pass else []
    with _GX_LOCK:
        return _record(df, document, results, by_gx, ops_dir=ops_dir, run_name=run_name)


#: GX's `get_context` sets a process-wide project; steps of the step server run in threads side by side
_GX_LOCK = threading.Lock()


def _record(df: DataFrame, document: dict[str, Any], results: list[Any], by_gx: list[dict[str, Any]], *,
            ops_dir: Path, run_name: str) -> SuiteResult:
    """Run what GX must run itself, store the combined result and run the checkpoint's actions."""
    from great_expectations.checkpoint.actions import ActionContext
    from great_expectations.checkpoint.checkpoint import CheckpointResult
    from great_expectations.core.expectation_validation_result import ExpectationSuiteValidationResult
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    context = gx_context(ops_dir)
    name = document["name"]
    checkpoint = _checkpoint(context, document)
    run_id = RunIdentifier(run_name=run_name)
    if by_gx:
        results = results + _run_with_gx(context, df, {**document, "expectations": by_gx}, run_id)

    successful = sum(1 for r in results if r.success)
    batch_id = f"{DATASOURCE}-{name}-{run_name}"
    suite_result = ExpectationSuiteValidationResult(
        success=successful == len(results),
        results=results,
        suite_name=name,
        statistics={
            "evaluated_expectations": len(results),
            "successful_expectations": successful,
            "unsuccessful_expectations": len(results) - successful,
            "success_percent": 100.0 * successful / len(results) if results else None,
        },
        meta={
            "run_id": run_id,
            "validation_time": run_id.run_time,
            "active_batch_definition": {"datasource_name": DATASOURCE, "data_asset_name": name,
                                        "batch_definition_name": "batch"},
            "batch_spec": {"engine": "citylake one-pass aggregation (Spark)", "batch": run_name},
            "batch_markers": {},
            "validation_id": checkpoint.validation_definitions[0].id,
            "checkpoint_id": checkpoint.id,
            "citylake": dict((document.get("meta") or {}).get("citylake") or {}),
        },
        batch_id=batch_id,
    )
    suite_id = ExpectationSuiteIdentifier(name=name)
    key = ValidationResultIdentifier(expectation_suite_identifier=suite_id, run_id=run_id, batch_identifier=batch_id)
    context.validation_results_store.store_validation_results(
        suite_validation_result=suite_result, suite_validation_result_identifier=key,
        expectation_suite_identifier=suite_id)
    _run_actions(checkpoint, CheckpointResult(run_id=run_id, run_results={key: suite_result},
                                              checkpoint_config=checkpoint), ActionContext())
    outcomes = tuple(_outcome(r) for r in results)
    success = not any(not o.success and o.severity == "critical" for o in outcomes)
    return SuiteResult(suite=name, success=success, outcomes=outcomes, data_docs=history_page(ops_dir, name))


def _run_actions(checkpoint: Any, result: Any, action_context: Any) -> None:
    """The checkpoint's actions in GX's order (Data Docs first: the others link to its pages)."""
    from great_expectations.checkpoint.actions import UpdateDataDocsAction

    ordered = sorted(checkpoint.actions, key=lambda a: not isinstance(a, UpdateDataDocsAction))
    for action in ordered:
        action_context.update(action=action, action_result=action.run(checkpoint_result=result,
                                                                      action_context=action_context))
