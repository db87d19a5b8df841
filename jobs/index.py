"""Stage `index`: entities, doc_entities, entity_docs and cooccurrence from the mentions.

spark-submit jobs/submit.py index --out OUT [--min-cooccurrence N] [--max-entities-per-doc K]
"""

from __future__ import annotations

from longtail.jobs.index_tables import build_index_tables
from longtail.output.context import StageContext
from longtail.output.records import StageRecord
from longtail.progress import stage_line
from longtail.stage_config import IndexConfig


def run_index(ctx: StageContext, config: IndexConfig) -> StageRecord:
    with ctx.whole(config) as run:
        run.stats.update(build_index_tables(ctx.spark, ctx.out, run, config))
    stats = run.record.stats
    ctx.say(stage_line("index", run.record.seconds, entities=stats["entities"],
                       doc_entities=stats["doc_entities"], pairs=stats["cooccurrence_pairs"],
                       docs_capped=stats["docs_capped"]))
    return run.record
