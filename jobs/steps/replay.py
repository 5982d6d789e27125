"""Replay: judge a resource's bronze batches again under the catalog as it is now (after a rule fix).

Each original batch B gets a replay batch `<B>-r<mark>`, where the mark is a digest of the resource's
catalog entry and expectation suite: the replay is conformed (`conform_one` reading B's bronze rows) and
validated like any batch, so the ledger shows it as its own entries and rows read = accepted +
quarantined holds for it. Once promoted it supersedes B (`validate.supersede`): its accepted rows are
MERGEd into silver (the newer-than rule keeps later batches' values), B's rows it now rejects leave
silver where B still holds them, and B's open quarantine records are marked re-judged. An append-only
resource's replayed rows replace B's in one commit.

Exactly once: a replay under the same catalog finds its batch ids in the ledger and does nothing; a
replay interrupted between conform and validate finishes what is missing. After another fix of the
entry, the mark differs and the next replay judges again. A snapshot resource (`write_mode: overwrite`)
replays only its latest batch (silver is that snapshot).
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from pathlib import Path

from jobs.catalog.model import Resource
from jobs.errors import NotReady
from jobs.io import ops
from jobs.settings import Settings
from jobs.steps.conform import conform_one, division_index, referenced_values, silver_values
from jobs.steps.runtime import log, runtime
from jobs.steps.validate import suite_for, validate_batches


def catalog_mark(res: Resource, settings: Settings) -> str:
    """A digest of what judges the resource's rows: its catalog entry and its expectation suite."""
    digest = hashlib.sha256()
    for path in (Path(res.file), suite_for(settings, res)[0]):
        digest.update(path.read_bytes() if path.is_file() else b"")
    return digest.hexdigest()[:8]


def replay_id(batch: str, mark: str) -> str:
    return f"{batch}-r{mark}"


def replay(resource: str, *, since: date | None = None, settings: Settings | None = None,
           now: datetime | None = None) -> list[dict]:
    """Replay the resource's bronze batches ingested on or after `since` (all without it), oldest first.

    Returns:
        One dict per original batch: its replay batch id, what conform and validate made of it now, or
        `status: "done before"` when this catalog already replayed it.

    Raises:
        NotReady: the resource has no ingested batch (on or after `since`).
        ValidationFailed / DirtyBatch: as validate and conform; the failing replay stays out of silver.
    """
    rt = runtime(settings, now)
    res = rt.resource(resource)
    settings = rt.settings
    batches = [b for b in ops.ingested_batches(settings, res.name) if since is None or b.ingested_on >= since]
    if res.write_mode == "overwrite":
        batches = batches[-1:]
    if not batches:
        raise NotReady(f"{res.name}: no ingested batch" + (f" since {since}" if since else "") + " to replay")
    mark = catalog_mark(res, settings)
    replays = {replay_id(b.batch_id, mark): b for b in batches}
    conformed = ops.batches_done(settings, res.name, "conform")
    todo = [(r, b) for r, b in replays.items() if r not in conformed]
    lookups = {"existing": silver_values(rt, res), "divisions": division_index(rt, res),
               "referenced": referenced_values(rt, res)} if todo else {}
    judged = {r: conform_one(rt, res, ops.IngestedBatch(r, b.source_file, b.rows_read, b.ingested_on), lookups,
                             replay_of=b.batch_id) for r, b in todo}
    ok = ops.batches_ok(settings, res.name, "conform")
    validated = ops.batches_done(settings, res.name, "validate")
    pending = [(r, b.source_file) for r, b in replays.items() if r in ok and r not in validated]
    promoted = {v["batch_id"]: v for v in validate_batches(rt, res, pending,
                                                           replay_of={r: replays[r].batch_id for r, _ in pending})}
    out: list[dict] = []
    for r, b in replays.items():
        if r not in judged and r not in promoted:
            out.append({"batch_id": b.batch_id, "replay": r, "status": "done before"})
            continue
        conformed_now = judged.get(r, {})
        out.append({"batch_id": b.batch_id, "replay": r, "status": "replayed",
                    "rows_read": conformed_now.get("rows_read"), "rows_accepted": conformed_now.get("rows_accepted"),
                    "rows_quarantined": conformed_now.get("rows_quarantined"),
                    "silver": promoted.get(r, {}).get("silver", "not promoted (see the ledger)")})
    log.info("replay %s under catalog %s: %d batch(es) replayed, %d done before", res.name, mark,
             sum(o["status"] == "replayed" for o in out), sum(o["status"] == "done before" for o in out))
    return out
