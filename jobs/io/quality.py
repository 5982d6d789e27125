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


def validate_dataframe(df: DataFrame, document: dict[str, Any], *, ops_dir: Path, run_name: str) -> SuiteResult:
    """Validate `df` against the suite `document` through a checkpoint that updates Data Docs."""
    import great_expectations as gx
    from great_expectations.checkpoint import UpdateDataDocsAction
    from great_expectations.core.run_identifier import RunIdentifier

    context = gx_context(ops_dir)
    name = document["name"]
    try:
        source = context.data_sources.get(DATASOURCE)
    except (KeyError, ValueError):
        source = context.data_sources.add_spark(name=DATASOURCE)
    try:
        asset = source.get_asset(name)
    except LookupError:
        asset = source.add_dataframe_asset(name=name)
    try:
        batch_def = asset.get_batch_definition("batch")
    except KeyError:
        batch_def = asset.add_batch_definition_whole_dataframe("batch")

    # The suite file is the source of truth: push it into the GX project on every run.
    suite = context.suites.add_or_update(_suite(document))
    vd = context.validation_definitions.add_or_update(gx.ValidationDefinition(name=name, data=batch_def, suite=suite))
    checkpoint = context.checkpoints.add_or_update(
        gx.Checkpoint(name=name, validation_definitions=[vd], actions=[UpdateDataDocsAction(name="data_docs")],
                      result_format={"result_format": "SUMMARY"})
    )
    run = checkpoint.run(batch_parameters={"dataframe": df}, run_id=RunIdentifier(run_name=run_name))
    vr = next(iter(run.run_results.values()))
    outcomes = tuple(
        ExpectationOutcome(
            type=r.expectation_config.type,
            column=(r.expectation_config.kwargs or {}).get("column"),
            severity=str(getattr(r.expectation_config.severity, "value", r.expectation_config.severity)),
            success=bool(r.success),
            observed=_observed(r),
        )
        for r in vr.results
    )
    docs = Path(ops_dir) / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html"
    success = not any(not o.success and o.severity == "critical" for o in outcomes)
    return SuiteResult(suite=name, success=success, outcomes=outcomes, data_docs=docs)
