"""Stage `link`: entity-link a corpus into docs, mentions, entity_uris and failures.

spark-submit jobs/link.py --corpus PATH... (--model DIR | --spotlight URL...) --out OUT
"""

from __future__ import annotations

import argparse
import sys
import time

from longtail import stage_args
from longtail.corpus import count_rows, plan_shards, resolve_inputs
from longtail.jobs.session import spark_session
from longtail.linking.shard import STAGE, TABLES, link_shard, sum_shard_stats
from longtail.linking.spec import LinkerSpec
from longtail.manifest import record_stage
from longtail.output import OutputFolder
from longtail.progress import stage_line
from pyspark.sql import SparkSession


def run_link(
    spark: SparkSession,
    corpus: list[str],
    spec: LinkerSpec,
    out_root: str,
    *,
    corpus_format: str | None = None,
    text_field: str = "text",
    id_field: str | None = None,
    rows_per_shard: int = stage_args.DEFAULT_ROWS_PER_SHARD,
    overwrite: bool = False,
) -> dict:
    """Link every shard not yet finished; returns the stage's totals (also in the manifest)."""
    started = time.perf_counter()
    out = OutputFolder(out_root)
    files = resolve_inputs(corpus, corpus_format)
    parameters = {"corpus_format": corpus_format, "text_field": text_field, "id_field": id_field,
                  "rows_per_shard": rows_per_shard, **spec.describe()}
    inputs = {"corpus": [f.path for f in files]}
    if overwrite:
        out.clear_stage(STAGE, TABLES)
    out.check_plan(STAGE, {"inputs": inputs, "parameters": parameters})
    out.remove_stale_temporaries(TABLES)

    row_counts = out.cached_row_counts(STAGE, files)
    if row_counts is None:
        sc = spark.sparkContext
        sc.setJobDescription("link: count rows")
        rows = sc.parallelize(files, max(1, len(files))).map(count_rows).collect()
        row_counts = dict(zip([f.path for f in files], rows, strict=True))
        out.cache_row_counts(STAGE, files, row_counts)
    shards = plan_shards(files, rows_per_shard, row_counts=row_counts)
    finished = out.shard_stats(STAGE)
    todo = [s for s in shards if s.shard_id not in finished]
    print(f"link: {len(shards)} shards, {len(shards) - len(todo)} already done, "
          f"{len(todo)} to link", file=sys.stderr)
    if todo:
        sc = spark.sparkContext
        sc.setJobDescription(f"link: {len(todo)} shards")
        out_path = str(out.root)
        sc.parallelize(todo, len(todo)).map(
            lambda shard: link_shard(shard, spec, out_path, text_field, id_field)
        ).collect()
    finished = out.shard_stats(STAGE)
    totals = sum_shard_stats([finished[s.shard_id] for s in shards])
    totals["shards_skipped"] = len(shards) - len(todo)
    seconds = time.perf_counter() - started
    record_stage(out, STAGE, inputs=inputs, parameters=parameters, stats=totals, seconds=seconds)
    print(stage_line(STAGE, seconds, documents=totals["documents_in"], linked=totals["linked"],
                     empty=totals["empty"], failed=totals["failed"],
                     mentions=totals["mentions"]), file=sys.stderr)
    return totals


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="jobs/link.py", description=__doc__.splitlines()[0])
    stage_args.add_link_args(parser)
    args = parser.parse_args(argv)
    spark = spark_session("longtail link", args.master)
    run_link(spark, args.corpus, stage_args.linker_spec(args), args.out,
             corpus_format=args.corpus_format, text_field=args.text_field,
             id_field=args.id_field, rows_per_shard=args.rows_per_shard,
             overwrite=args.overwrite)
    return 0


if __name__ == "__main__":
    sys.exit(main())
