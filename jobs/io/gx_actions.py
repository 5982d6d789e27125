"""citylake's own Great Expectations checkpoint action: the per-resource validation history page.

Defining the class registers it with GX (by its `type`), so a checkpoint stored in the GX project
with this action loads again in any process that imported this module — `jobs.io.quality` does.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote, urlparse

from great_expectations.checkpoint.actions import ActionContext, UpdateDataDocsAction, ValidationAction
from great_expectations.checkpoint.checkpoint import CheckpointResult

from jobs.transforms.validation_history import (
    HISTORY_FOLDER,
    HistoryEntry,
    add_entry,
    render_resource_page,
    render_resources_index,
)


class ResourceHistoryAction(ValidationAction):
    """Append the run to its resource's history and rewrite that resource's page and the resource list.

    Runs after `UpdateDataDocsAction` (GX sorts it first), whose result gives the validation page to
    link to. The history itself is `<history_dir>/<suite>.json` (`uncommitted/validation_history` of the
    GX project, next to the stored validation results), not inside the generated site.
    """

    type: Literal["citylake_resource_history"] = "citylake_resource_history"
    site_root: str
    history_dir: str

    def run(self, checkpoint_result: CheckpointResult, action_context: ActionContext | None = None) -> dict:
        pages = self._get_data_docs_pages_from_prior_action(action_context) or {}
        site = Path(self.site_root)
        written: dict[str, str] = {}
        for key, result in checkpoint_result.run_results.items():
            suite = result.suite_name
            failed_errors = _failed(result, critical=True)
            entry = HistoryEntry(
                run_name=str(key.run_id.run_name),
                run_time=key.run_id.run_time.isoformat(timespec="seconds"),
                batch=str(key.batch_identifier),
                success=failed_errors == 0,  # citylake's verdict: warnings do not fail a batch
                evaluated=int(result.statistics.get("evaluated_expectations", 0)),
                failed_errors=failed_errors,
                failed_warnings=_failed(result, critical=False),
                page=_relative_page(pages.get(key, {}), site),
                failures=tuple(_describe(r) for r in result.results if not r.success),
            )
            history = add_entry(self._history(suite), entry)
            ours: Any = (result.meta or {}).get("citylake") or {}
            title = str(ours.get("title") or suite)
            self._save_history(suite, title, history)
            page = site / HISTORY_FOLDER / f"{suite}.html"
            _write(page, render_resource_page(suite, title, history))
            written[suite] = str(page)
        self._write_index()
        return {"history_pages": written}

    def _history_file(self, suite: str) -> Path:
        return Path(self.history_dir) / f"{suite}.json"

    def _history(self, suite: str) -> list[HistoryEntry]:
        path = self._history_file(suite)
        if not path.exists():
            return []
        document = json.loads(path.read_text(encoding="utf-8"))
        return [HistoryEntry.from_json(e) for e in document["runs"]]

    def _save_history(self, suite: str, title: str, history: list[HistoryEntry]) -> None:
        _write(self._history_file(suite), json.dumps(
            {"suite": suite, "title": title, "runs": [e.to_json() for e in history]}, ensure_ascii=False, indent=1))

    def _write_index(self) -> None:
        latest: dict[str, tuple[str, HistoryEntry | None]] = {}
        for path in sorted(Path(self.history_dir).glob("*.json")):
            document = json.loads(path.read_text(encoding="utf-8"))
            runs = document.get("runs") or []
            latest[document["suite"]] = (document.get("title") or document["suite"],
                                         HistoryEntry.from_json(runs[0]) if runs else None)
        _write(Path(self.site_root) / HISTORY_FOLDER / "index.html", render_resources_index(latest))


def _failed(result: Any, *, critical: bool) -> int:
    def is_critical(r: Any) -> bool:
        return str(getattr(r.expectation_config.severity, "value", r.expectation_config.severity)) == "critical"

    return sum(1 for r in result.results if not r.success and is_critical(r) == critical)


def _describe(r: Any) -> str:
    cfg = r.expectation_config
    column = (cfg.kwargs or {}).get("column")
    observed = (r.result or {}).get("observed_value", (r.result or {}).get("unexpected_count", ""))
    return f"{cfg.type}({column or ''}) → {observed}"


def _relative_page(urls: dict[str, str], site: Path) -> str:
    """The GX page of the run relative to the site root, from the file:// URL `UpdateDataDocsAction` gave."""
    for url in urls.values():
        path = Path(unquote(urlparse(url).path))
        try:
            return path.resolve().relative_to(site.resolve()).as_posix()
        except ValueError:
            continue
    return ""


def _write(path: Path, text: str) -> None:
    """Write through a temporary file and rename, so a reader never sees half a page."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


__all__ = ["HISTORY_FOLDER", "ResourceHistoryAction", "UpdateDataDocsAction"]
