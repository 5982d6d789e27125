"""The run summary: what came in, what was accepted, quarantined, validated and published, and where
everything is. Read from the ops tables, so it describes what happened, not what was intended."""

from __future__ import annotations

from pyspark.sql import functions as F

from jobs.io import delta, ops
from jobs.io.frames import single_row
from jobs.io.quality import site_root
from jobs.settings import Settings
from jobs.steps.runtime import runtime
from jobs.steps.scorecard import scorecard
from jobs.transforms.validation_history import HISTORY_FOLDER


def summary(resources: list[str] | None = None, *, settings: Settings | None = None) -> str:
    rt = runtime(settings)
    spark, settings = rt.spark, rt.settings
    names = resources or sorted(rt.catalog.resources)
    lines = [f"citylake summary — lake at {settings.lake_uri}", ""]
    for name in names:
        res = rt.resource(name)
        lines.append(f"== {res.name} ({res.title}, {res.code}) ==")
        manifest = ops.read(spark, settings, "manifest", name).orderBy("recorded_at").collect()
        lines.append(f"files: {len(manifest)}")
        for m in manifest:
            extra = f" — {m.detail}" if m.detail else ""
            lines.append(f"  {m.status:9} {m.file} batch {m.batch_id} rows {m.rows_read}{extra}")
        ledger = ops.read(spark, settings, "ledger", name)
        conf = single_row(ledger.where(F.col("step") == "conform").agg(
            F.sum("rows_read").alias("read"), F.sum("rows_accepted").alias("acc"),
            F.sum("rows_quarantined").alias("q"), F.sum("rows_warned").alias("w")))
        read, acc, q = int(conf.read or 0), int(conf.acc or 0), int(conf.q or 0)
        balanced = "balanced" if read == acc + q else "NOT BALANCED"
        lines.append(f"rows read {read} = accepted {acc} + quarantined {q} ({balanced}); warned {int(conf.w or 0)}")
        for bad in ledger.where((F.col("step") == "conform") & (F.col("status") == "failed")).collect():
            lines.append(f"  batch {bad.batch_id} NOT merged into silver: {bad.detail}")
        for d in ops.read(spark, settings, "drift", name).orderBy("recorded_at").collect():
            lines.append(f"  column drift in {d.file} (policy {d.policy}, {d.action}): added {d.added}, "
                         f"missing {d.missing}, renamed {d.renamed}, retyped {d.retyped}")
        qpath = settings.table_path("quarantine", name)
        if delta.exists(spark, qpath):
            reasons = (delta.read(spark, qpath).select(F.explode("reasons").alias("r"))
                       .groupBy("r.rule", "r.field").count().orderBy(F.desc("count")).collect())
            for r in reasons:
                lines.append(f"  quarantine reason {r.rule} on {r.field}: {r['count']}")
        vals = ops.read(spark, settings, "validations", name)
        if vals.take(1):
            v = single_row(vals.agg(F.count(F.lit(1)).alias("n"), F.count_if(~F.col("success")).alias("failed"),
                                    F.countDistinct("batch_id").alias("batches")))
            lines.append(f"expectations: {v.n} evaluated over {v.batches} batch(es), {v.failed} failed")
        published = ledger.where(F.col("step") == "publish")
        last = single_row(published.agg(F.max("recorded_at")))[0]
        for entry in published.where(F.col("recorded_at") == last).orderBy("detail").collect() if last else []:
            lines.append(f"published: {entry.rows_published} rows, {entry.detail}")
        lines.append("")
    lines.append("department scorecard (`citylake scorecard` records it in ops.scorecard):")
    lines += [f"  {card.describe()}" for card in scorecard(names, settings=settings, now=rt.now, record=False)]
    lines.append("")
    lines += [
        "where to look:",
        f"  lake tables (Delta)  {settings.lake_uri}/{{bronze,silver,quarantine,open,ops}}/<table>",
        "  quarantine           citylake sql \"select * from quarantine.<resource>\"",
        "  ledger               citylake sql \"select * from ops.ledger\"",
        "  correction files     citylake quarantine <resource> --export DIR  (or --department D)",
        f"  drift reports        {settings.ops / 'drift'}/<department>/<resource>/<batch>.json",
        f"  Data Docs            {site_root(settings.ops) / 'index.html'}",
        f"  validation history   {site_root(settings.ops) / HISTORY_FOLDER / 'index.html'} (a page per resource)",
        f"  lineage (OpenLineage) {settings.home / 'lineage'}/event-*.json, one per task event",
        f"  open data portal     {settings.open_uri}/portal/index.html",
        f"  open catalog         {settings.open_uri}/catalog.json, catalog.jsonld (DCAT-AP 3.0), "
        "citylake sql \"select * from open.catalog\"",
        f"  downloads            {settings.open_uri}/datasets/<dataset>/latest/ (CSV, JSON, Parquet, XLSX, fields)",
        f"  restricted zone      {settings.restricted_uri} (有条件开放; never public)",
        "  CKAN-compatible API  citylake serve  ->  /api/3/action/package_list",
    ]
    return "\n".join(lines)
