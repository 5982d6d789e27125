"""Great Expectations: run a resource's suite on a batch and keep results and Data Docs in the ops zone.

The suite comes from `expectations/<resource>.json`; the GX file project lives in `<ops>/gx`, whose
Data Docs site is rebuilt by the checkpoint's action after every run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jobs.errors import ConfigurationError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

DATASOURCE = "citylake_spark"


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
    data_docs: Path

    @property
    def failed_errors(self) -> tuple[ExpectationOutcome, ...]:
        return tuple(o for o in self.outcomes if not o.success and o.severity == "critical")

    @property
    def failed_warnings(self) -> tuple[ExpectationOutcome, ...]:
        return tuple(o for o in self.outcomes if not o.success and o.severity != "critical")


def gx_context(ops_dir: Path) -> Any:
    """The file-backed GX project in the ops zone (created on first use), progress bars off."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    ops_dir.mkdir(parents=True, exist_ok=True)
    context = gx.get_context(mode="file", project_root_dir=str(ops_dir))
    if context.variables.progress_bars is None:
        context.variables.progress_bars = ProgressBarsConfig(globally=False)
        context.variables.save()
    return context


def load_suite_file(path: Path) -> dict[str, Any]:
    if not path.exists():
        raise ConfigurationError(f"expectation suite {path} is missing; run `citylake expectations` to generate it")
    return json.loads(path.read_text(encoding="utf-8"))


def _suite(document: dict[str, Any]) -> Any:
    import great_expectations as gx
    from great_expectations.expectations.registry import get_expectation_impl

    suite = gx.ExpectationSuite(name=document["name"], meta=document.get("meta"))
    for spec in document["expectations"]:
        cls = get_expectation_impl(spec["type"])
        suite.add_expectation(cls(**spec["kwargs"], severity=spec.get("severity", "critical"), meta=spec.get("meta")))
    return suite


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


def _run_with_gx(context: Any, df: DataFrame, document: dict[str, Any], run_id: Any) -> list[Any]:
    """Expectations the one-pass engine does not compute, run by GX itself through a checkpoint."""
    import great_expectations as gx

    name = f"{document['name']}.gx"
    batch_def = _ensure_batch_definition(context, document["name"])
    suite = context.suites.add_or_update(_suite({**document, "name": name}))
    vd = context.validation_definitions.add_or_update(gx.ValidationDefinition(name=name, data=batch_def, suite=suite))
    checkpoint = context.checkpoints.add_or_update(
        gx.Checkpoint(name=name, validation_definitions=[vd], result_format={"result_format": "SUMMARY"})
    )
    run = checkpoint.run(batch_parameters={"dataframe": df}, run_id=run_id)
    return list(next(iter(run.run_results.values())).results)


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
    """Validate `df` against the suite `document`; keep the result in GX's store and rebuild Data Docs.

    Expectations the one-pass engine supports (`jobs.transforms.expectation_metrics`) are computed in
    a single aggregation over `df`; any other expectation (hand-written ones of other types) is run by
    GX itself. Both end up in one GX validation result, so the reports are GX's own.
    """
    from great_expectations.core.expectation_validation_result import ExpectationSuiteValidationResult
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    from jobs.transforms.expectation_metrics import supported

    context = gx_context(ops_dir)
    name = document["name"]
    context.suites.add_or_update(_suite(document))  # the suite file is the source of truth
    run_id = RunIdentifier(run_name=run_name)
    one_pass = [e for e in document["expectations"] if supported(e)]
    by_gx = [e for e in document["expectations"] if not supported(e)]
    results = _one_pass_results(df, one_pass) if one_pass else []
    if by_gx:
        results += _run_with_gx(context, df, {**document, "expectations": by_gx}, run_id)

    successful = sum(1 for r in results if r.success)
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
        },
        batch_id=f"{DATASOURCE}-{name}-{run_name}",
    )
    suite_id = ExpectationSuiteIdentifier(name=name)
    context.validation_results_store.store_validation_results(
        suite_validation_result=suite_result,
        suite_validation_result_identifier=ValidationResultIdentifier(
            expectation_suite_identifier=suite_id, run_id=run_id, batch_identifier=run_name),
        expectation_suite_identifier=suite_id,
    )
    context.build_data_docs()
    outcomes = tuple(_outcome(r) for r in results)
    docs = Path(ops_dir) / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html"
    success = not any(not o.success and o.severity == "critical" for o in outcomes)
    return SuiteResult(suite=name, success=success, outcomes=outcomes, data_docs=docs)
