"""Stage `link`: entity-link a corpus into docs, mentions, entity_uris and failures.

spark-submit jobs/submit.py link --corpus PATH... (--model DIR | --spotlight URL...) --out OUT
"""

from __future__ import annotations

from longtail.corpus import plan_shards, rows_per_file
from longtail.corpus.shards import Shard
from longtail.jobs.executor import SparkExecutor
from longtail.linking.shard import STAGE, link_shard
from longtail.output.context import StageContext
from longtail.output.records import StageRecord
from longtail.preflight import CorpusInput
from longtail.progress import stage_line
from longtail.stage_config import CorpusConfig


def run_link(ctx: StageContext, config: CorpusConfig) -> StageRecord:
    """Link every shard without a verified commit; returns the stage's record. Shards are
    planned by bytes for the cluster's parallelism when the run starts, and the plan is
    recorded: a resumed run keeps it on a cluster of any size."""
    corpus: CorpusInput = ctx.prepared
    for warning in corpus.warnings:
        ctx.say(f"link: {warning}")
    files = corpus.files
    paths = [f.path for f in files]
    stage = ctx.sharded(config, {"corpus": paths})
    stage.prepare(ctx.overwrite)
    stage.fingerprint_inputs(paths)
    sizes = {p: f.size or 0 for p, f in zip(paths, stage.fingerprints["corpus"], strict=True)}
    plan = stage.shard_plan(
        lambda: plan_shards(files, config.rows_per_shard, target_bytes=config.shard_bytes,
                            parallelism=ctx.spark.sparkContext.defaultParallelism,
                            executor=SparkExecutor(ctx.spark, "link: count rows"),
                            sizes=sizes),
        Shard.to_json, Shard.from_json)
    stage.record_rows(rows_per_file(plan))
    shards = {s.shard_id: s for s in plan}
    spec, out = ctx.linker, ctx.out
    text_field, id_field = config.text_field, config.id_field
    record = stage.run(
        shards, lambda item: link_shard(item[1], spec, out, text_field, id_field),
        SparkExecutor(ctx.spark, "link"))
    totals = record.stats
    ctx.say(stage_line(STAGE, record.seconds, documents=totals.get("documents_in", 0),
                       linked=totals.get("linked", 0), empty=totals.get("empty", 0),
                       failed=totals.get("failed", 0), mentions=totals.get("mentions", 0)))
    if totals.get("linked", 0) and not totals.get("mentions", 0):
        ctx.warn(f"link found no entity in {totals['linked']:,} linked documents: check "
                 "--confidence, --support and the model (the stage is committed; index and "
                 "count would count nothing)")
    return record
