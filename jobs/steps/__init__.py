"""Entry points: one function per step, called with the same arguments by the CLI and by Airflow."""

from jobs.steps.conform import conform
from jobs.steps.ingest import ingest
from jobs.steps.maintain import maintain
from jobs.steps.publish import publish
from jobs.steps.run import run
from jobs.steps.validate import validate

__all__ = ["conform", "ingest", "maintain", "publish", "run", "validate"]
