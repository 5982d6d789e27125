"""Dependencies point down: nothing in jobs/ imports Airflow; parsing the DAGs imports no Spark."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from jobs.settings import DAGS_DIR, REPO_ROOT

JOBS = REPO_ROOT / "jobs"


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_no_airflow_import_in_jobs():
    offenders = [str(p) for p in JOBS.rglob("*.py") if any(m.split(".")[0] == "airflow" for m in imported_modules(p))]
    assert offenders == []


def test_only_settings_reads_the_environment():
    offenders = [str(p.relative_to(REPO_ROOT)) for p in JOBS.rglob("*.py")
                 if "os.environ" in p.read_text(encoding="utf-8") or "getenv" in p.read_text(encoding="utf-8")]
    assert offenders == ["jobs/settings.py"]


def test_dag_parse_imports_no_spark_or_pandas():
    code = (
        "import sys, runpy; runpy.run_path(sys.argv[1]);"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('pyspark', 'pandas', 'great_expectations'));"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code, str(DAGS_DIR / "departments.py")],
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_a_sensor_poke_imports_no_spark():
    """Every reschedule poke is a fresh task process; it must stay a landing listing, not a pyspark import."""
    code = (
        "import sys; from jobs.io.landing import complete_exports;"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('pyspark', 'pandas', 'great_expectations'));"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_rules_are_built_without_spark():
    """Rules are SQL text: building every catalog rule of every resource's pass imports no pyspark, so the
    rule library is pure logic (and cannot fall back to per-Column py4j calls unnoticed)."""
    code = (
        "import sys; from datetime import date; from jobs.catalog import load_catalog;"
        "from jobs.settings import BUILTIN_CATALOG; from jobs.rules import builtin as registry;"
        "catalog = load_catalog([BUILTIN_CATALOG]); built = 0\n"
        "for res in catalog.resources.values():\n"
        "    ctx = registry.RuleContext(columns={i.name: f'`{i.name}`' for i in res.items}, as_of=date(2026, 1, 1),"
        " types={i.name: i.type for i in res.items})\n"
        "    for item in res.items:\n"
        "        for ref in item.rules:\n"
        "            assert registry.build(ref.rule, f'`{item.name}`', ctx, ref.params).strip(); built += 1\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('pyspark', 'pandas', 'great_expectations'));"
        "print(built, ','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    built, heavy = (out.stdout.strip().split(" ") + [""])[:2]
    assert int(built) > 20 and heavy == ""


def test_every_rule_spec_has_a_rule_and_every_rule_a_spec():
    """The catalog accepts the names in RULE_SPECS and conform builds them from the registry: the two lists
    are one (the implicit checks, `type`, `malformed_record`, `duplicate_key`, are conform's own)."""
    from jobs.rules.builtin import RULES
    from jobs.rules.specs import IMPLICIT_RULES, RULE_SPECS

    assert set(RULE_SPECS) == set(RULES), (set(RULE_SPECS) ^ set(RULES))
    assert not set(IMPLICIT_RULES) & set(RULES)


def test_the_rule_registry_imports_no_rule_module():
    """A leaf registry: rule modules import it to register themselves, never the other way round."""
    import ast
    from pathlib import Path

    import jobs.rules.registry as registry

    tree = ast.parse(Path(registry.__file__).read_text(encoding="utf-8"))
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    imported |= {f"{node.module}.{a.name}" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                 and node.module for a in node.names}
    assert not {m for m in imported if m.startswith(("jobs.rules.generic", "jobs.rules.cn_identifiers",
                                                      "jobs.rules.builtin"))}, imported
