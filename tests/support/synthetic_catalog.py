"""A synthetic catalog at the reference city's scale: 643 resources across 225 source systems.

Written as YAML files exactly like `schemas/` (a `departments.yaml` and one file per resource), so the
scale test and `make bench-dags` load it through the same loader and DAG factory as the real catalog.
Deterministic: resource k of system d always looks the same.
"""

from __future__ import annotations

from pathlib import Path

import yaml

CYCLES = ("daily", "daily", "daily", "hourly", "weekly", "monthly", "realtime")
OPEN_TYPES = ("无条件开放", "有条件开放", "不予开放")
FORMATS = ("csv", "csv", "jsonl", "xlsx")



def _department_code(n: int) -> str:
    """A valid unified social credit code of a government body (the loader checks it)."""
    from jobs.rules.identifiers import uscc_check_char

    body = f"1151010000{n:07d}"
    return body + uscc_check_char(body)

def _items(k: int) -> list[dict]:
    items = [
        {"name": "record_id", "title": "记录编号", "required": True, "length": 32},
        {"name": "district_code", "title": "区县代码", "rules": [{"rule": "cn_division", "level": "county",
                                                                 "within": "5101"}]},
        {"name": "recorded_at", "title": "记录时间", "type": "timestamp", "formats": ["yyyy-MM-dd HH:mm:ss"],
         "required": True},
        {"name": "amount", "title": "数值", "type": "decimal", "precision": 18, "scale": 2,
         "rules": [{"rule": "range", "min": 0}]},
        {"name": "status", "title": "状态", "rules": [{"rule": "in_set", "values": ["正常", "注销", "变更"]}]},
    ]
    if k % 3 == 0:
        items.append({"name": "contact_phone", "title": "联系电话", "pii": "phone", "publish": "mask",
                      "rules": ["cn_mobile"]})
    if k % 5 == 0:
        items.append({"name": "id_no", "title": "身份证号码", "pii": "resident_id", "publish": "drop",
                      "rules": ["cn_resident_id"]})
    items += [{"name": f"attr_{n}", "title": f"属性{n}"} for n in range(k % 7 + 3)]
    return items


def write_catalog(root: Path, *, systems: int = 225, resources: int = 643) -> Path:
    """Write the synthetic catalog under `root` and return it (a folder usable as CITYLAKE_CATALOG)."""
    root.mkdir(parents=True, exist_ok=True)
    departments = [{"key": f"dept_{d:03d}", "code": _department_code(d), "name": f"模拟委办局{d:03d}",
                    "name_en": f"Synthetic department {d:03d}", "system": f"模拟业务系统{d:03d}"}
                   for d in range(systems)]
    (root / "departments.yaml").write_text(yaml.safe_dump({"departments": departments}, allow_unicode=True),
                                           encoding="utf-8")
    for k in range(resources):
        dept = departments[k % systems]["key"]
        fmt = FORMATS[k % len(FORMATS)]
        entry = {
            "name": f"synthetic_{k:04d}", "code": f"510100/9{k % systems:03d}-{k:05d}",
            "title": f"模拟信息资源{k:04d}", "title_en": f"Synthetic resource {k:04d}", "provider": dept,
            "summary": "规模测试用的模拟信息资源。", "theme": "综合政务", "update_cycle": CYCLES[k % len(CYCLES)],
            "share": {"type": "有条件共享"}, "open_type": OPEN_TYPES[k % len(OPEN_TYPES)],
            "source": {"format": fmt, "encoding": "utf-8" if fmt != "csv" else "gb18030",
                       "file_pattern": f"synthetic_{k:04d}_*.{fmt}"},
            "primary_key": ["record_id"], "items": _items(k),
        }
        folder = root / dept
        folder.mkdir(exist_ok=True)
        (folder / f"{entry['name']}.yaml").write_text(yaml.safe_dump(entry, allow_unicode=True, sort_keys=False),
                                                      encoding="utf-8")
    return root
