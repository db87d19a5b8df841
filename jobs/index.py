"""Stage `index`: entities, doc_entities and cooccurrence from the linked mentions.

spark-submit jobs/index.py --out OUT [--min-cooccurrence N] [--max-entities-per-doc K]
"""

from __future__ import annotations

import argparse

from longtail import stage_config
from longtail.jobs.errors import job_main
from longtail.jobs.index_tables import TABLES, build_index_tables
from longtail.jobs.session import spark_session
from longtail.output.folder import OutputFolder
from longtail.output.runner import StageSpec, WholeStage, say_on_stderr
from longtail.progress import stage_line
from longtail.stage_config import IndexConfig

STAGE = "index"


def run_index(spark, config: IndexConfig, out: str | OutputFolder, *,
              say=say_on_stderr) -> dict:
    out = out if isinstance(out, OutputFolder) else OutputFolder(out)
    spec = StageSpec(STAGE, TABLES, stage_config.parameters(config))
    with WholeStage(out, spec, reads=["mentions"], say=say) as run:
        run.stats.update(build_index_tables(spark, out, run, config))
    stats = run.record["stats"]
    say(stage_line(STAGE, run.record["seconds"], entities=stats["entities"],
                   doc_entities=stats["doc_entities"], pairs=stats["cooccurrence_pairs"],
                   docs_capped=stats["docs_capped"]))
    return stats


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="jobs/index.py", description=__doc__.splitlines()[0])
    stage_config.add_index_args(parser)
    args = parser.parse_args(argv)
    stage_config.apply_storage(args)
    config = stage_config.from_args(IndexConfig, args)
    run_index(spark_session("longtail index", args.master), config, args.out)
    return 0


if __name__ == "__main__":
    job_main(main)
