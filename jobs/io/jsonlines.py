"""Reading a JSON-lines export (one object per line, e.g. IoT readings) into a staged Parquet file.

Keys are matched to data items by title or name as the catalog's `source.header` says; a missing key
is a missing value. A line that is not a JSON object is kept with `_parse_error` (it will be
quarantined) and the raw line in `_rescued["_line"]`. Keys the catalog does not know are drift: the
keys seen over the whole file are judged by the resource's drift policy like a CSV header, and under
`rescue`/`evolve` their values are kept in `_rescued`. Values are staged as their JSON text (strings
without quotes), like CSV cells.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jobs.catalog.drift import BOM, label_of, plan_columns
from jobs.catalog.model import Resource
from jobs.io.decoding import decoded_lines, detect_encoding
from jobs.io.exports import StagedExport, StagingWriter


def _cell(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def stage_jsonl(path: Path, resource: Resource, staged: Path) -> StagedExport:
    """Stage every non-blank line of `path`; see the module docstring for what happens to bad lines.

    Raises:
        ExportRejected: undecodable bytes, or keys the drift policy refuses.
    """
    by_label = {label_of(i, resource): i.name for i in resource.items}
    names = list(resource.item_names)
    out = StagingWriter(staged, resource)
    seen: dict[str, int] = {}  # every key in first-seen order, with the line it first appeared on
    encoding = detect_encoding(path, resource.source.encoding)
    try:
        for number, line in enumerate(decoded_lines(path, encoding), 1):
            text = line.lstrip(BOM) if number == 1 else line
            if not text.strip():
                continue
            try:
                record = json.loads(text)
            except json.JSONDecodeError as exc:
                out.add(number, [None] * len(names), f"line {number} is not valid JSON: {exc.msg} "
                        f"at column {exc.colno}", {"_line": text.rstrip("\r\n")})
                continue
            if not isinstance(record, dict):
                out.add(number, [None] * len(names), f"line {number} is a JSON {type(record).__name__}, "
                        "not an object", {"_line": text.rstrip("\r\n")})
                continue
            for key in record:
                seen.setdefault(key, number)
            values = {by_label[k]: _cell(v) for k, v in record.items() if k in by_label}
            unknown = {k: _cell(v) for k, v in record.items() if k not in by_label}
            out.add(number, [values.get(n) for n in names], None, unknown)
        unknown_lines = [n for k, n in seen.items() if k not in by_label]
        plan = plan_columns(list(seen), resource, str(path), line=min(unknown_lines, default=1),
                            absent_is_null=True)
    except BaseException:
        out.abort()
        raise
    return out.close(list(seen), plan.report, encoding)
