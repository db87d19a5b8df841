"""Stage `link`: entity-link a corpus into docs, mentions, entity_uris and failures.

spark-submit jobs/link.py --corpus PATH... (--model DIR | --spotlight URL...) --out OUT
"""

from __future__ import annotations

import argparse

from longtail import stage_config
from longtail.corpus import plan_shards, resolve_inputs
from longtail.jobs.errors import job_main
from longtail.jobs.executor import SparkExecutor
from longtail.jobs.session import spark_session
from longtail.linking.shard import STAGE, TABLES, link_shard
from longtail.linking.spec import LinkerSpec
from longtail.output.folder import OutputFolder
from longtail.output.runner import ShardedStage, say_on_stderr
from longtail.progress import stage_line
from longtail.stage_config import CorpusConfig


def run_link(spark, config: CorpusConfig, spec: LinkerSpec, out: str | OutputFolder, *,
             overwrite: bool = False, say=say_on_stderr) -> dict:
    """Link every shard without a verified commit; returns the stage's totals (also in its
    record and the manifest)."""
    out = out if isinstance(out, OutputFolder) else OutputFolder(out)
    files = resolve_inputs(config.corpus, config.corpus_format)
    paths = [f.path for f in files]
    stage = ShardedStage(
        out, stage_config.linking_stage_spec(STAGE, TABLES, config, spec, "corpus", paths),
        say=say)
    stage.prepare(overwrite)
    stage.fingerprint_inputs(paths)
    plan = plan_shards(files, config.rows_per_shard, target_bytes=config.shard_bytes,
                       parallelism=spark.sparkContext.defaultParallelism,
                       executor=SparkExecutor(spark, "link: count rows"),
                       sizes={fp["path"]: fp["size"] or 0 for fp in stage.fingerprints})
    shards = {s.shard_id: s for s in plan}
    text_field, id_field = config.text_field, config.id_field
    record = stage.run(
        shards, lambda item: link_shard(item[1], spec, out, text_field, id_field),
        SparkExecutor(spark, "link"))
    totals = record["stats"]
    say(stage_line(STAGE, record["seconds"], documents=totals.get("documents_in", 0),
                   linked=totals.get("linked", 0), empty=totals.get("empty", 0),
                   failed=totals.get("failed", 0), mentions=totals.get("mentions", 0)))
    return totals


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="jobs/link.py", description=__doc__.splitlines()[0])
    stage_config.add_link_args(parser)
    args = parser.parse_args(argv)
    stage_config.apply_storage(args)
    config = stage_config.from_args(CorpusConfig, args)
    spec = stage_config.linker_spec(args)
    run_link(spark_session("longtail link", args.master), config, spec, args.out,
             overwrite=args.overwrite)
    return 0


if __name__ == "__main__":
    job_main(main)
