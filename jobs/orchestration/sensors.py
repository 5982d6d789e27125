"""The export sensor: waits for a department's complete export without holding a worker slot.

A plain `BaseSensorOperator` in reschedule mode: between pokes the task gives its slot back and the
scheduler re-queues it after `poke_interval`. A poke is one landing listing (no Spark). When nothing
complete arrives before `timeout`, the task is skipped (`soft_fail`), and so is the rest of the
resource's chain for that run.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseSensorOperator, PokeReturnValue

from jobs.catalog.model import Resource
from jobs.catalog.schedule import wait_policy


class ExportSensor(BaseSensorOperator):
    """Done when the resource has at least one export marked complete; returns their landing keys."""

    template_fields = ("resource",)

    def __init__(self, *, resource: str, **kwargs: Any):
        super().__init__(**kwargs)
        self.resource = resource

    def poke(self, context: Any) -> PokeReturnValue:
        from jobs.steps.waiting import complete_exports

        ready = complete_exports(self.resource)
        return PokeReturnValue(is_done=bool(ready), xcom_value=ready)


def export_sensor(resource: Resource, task_id: str = "wait_for_exports") -> ExportSensor:
    """The sensor for `resource`, polling and giving up as its update cycle suggests."""
    policy = wait_policy(resource.update_cycle)
    return ExportSensor(task_id=task_id, resource=resource.name, mode="reschedule", poke_interval=policy.poke_seconds,
                        timeout=policy.timeout_seconds, soft_fail=True)
