"""Stage `qa`: entity-link a QA dataset into qa_questions and qa_entities.

spark-submit jobs/submit.py qa --qa PATH --qa-format nq-open (--model DIR | --spotlight URL...)
    --out OUT
"""

from __future__ import annotations

from longtail.jobs.executor import SparkExecutor
from longtail.output.context import StageContext
from longtail.output.records import StageRecord
from longtail.preflight import id_duplicates
from longtail.progress import stage_line
from longtail.qa.linking import READ_SHARD, STAGE, link_qa_shard, write_read_failures
from longtail.qa.preflight import QAPreflight, linked_questions_problem
from longtail.stage_config import QAConfig


def run_qa(ctx: StageContext, config: QAConfig) -> StageRecord:
    qa: QAPreflight = ctx.prepared
    stage = ctx.sharded(config, {"qa": qa.files}, digest=("qa",))
    stage.prepare(ctx.overwrite)
    stage.fingerprint_inputs(qa.files)
    duplicates = id_duplicates(qa)
    if duplicates["duplicate_ids"]:
        ctx.say(f"qa: {duplicates['duplicate_ids']:,} question ids are shared by "
                f"{duplicates['records_with_duplicate_ids']:,} records (e.g. "
                f"{', '.join(map(repr, duplicates['duplicate_id_examples'][:3]))}); each record "
                "is counted as its own question")
    size = config.qa_rows_per_shard
    shards: dict[str, object] = {READ_SHARD: qa.failures}
    shards.update({f"{start // size:06d}": qa.pairs[start:start + size]
                   for start in range(0, len(qa.pairs), size)})
    spec, out = ctx.linker, ctx.out

    def work(item):
        shard_id, payload = item
        if shard_id == READ_SHARD:
            return write_read_failures(out, payload)
        return link_qa_shard(shard_id, payload, spec, out)

    record = stage.run(shards, work, SparkExecutor(ctx.spark, "qa"), extra_stats=duplicates)
    totals = record.stats
    ctx.say(stage_line(STAGE, record.seconds, records=totals.get("records_in", 0),
                       linked=totals.get("linked", 0),
                       failed=totals.get("unreadable", 0) + totals.get("link_failed", 0),
                       question_mentions=totals.get("question_mentions", 0),
                       answer_mentions=totals.get("answer_mentions", 0),
                       duplicate_ids=duplicates["duplicate_ids"]))
    problem = linked_questions_problem(totals)
    if problem:
        ctx.warn(problem)
    return record
