"""Stage `qa`: entity-link a QA dataset into qa_questions and qa_entities.

spark-submit jobs/qa.py --qa PATH --format nq-open (--model DIR | --spotlight URL...) --out OUT
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter

from longtail import stage_args
from longtail.failures import FailureRecord, failures_table
from longtail.jobs.session import spark_session
from longtail.linking.spec import LinkerSpec
from longtail.manifest import record_stage
from longtail.output import OutputFolder
from longtail.progress import stage_line
from longtail.qa.linking import STAGE, TABLES, link_qa_shard
from longtail.qa.readers import QAPair, read_qa, resolve_qa_paths
from pyspark.sql import SparkSession

READ_SHARD = "read"


def run_qa(
    spark: SparkSession,
    qa: list[str],
    qa_format: str,
    spec: LinkerSpec,
    out_root: str,
    *,
    question_field: str = "question",
    answers_field: str = "answer",
    rows_per_shard: int = stage_args.DEFAULT_QA_ROWS_PER_SHARD,
    overwrite: bool = False,
) -> dict:
    started = time.perf_counter()
    out = OutputFolder(out_root)
    paths = [str(p) for p in resolve_qa_paths(qa)]
    inputs = {"qa": paths}
    parameters = {"format": qa_format, "question_field": question_field,
                  "answers_field": answers_field, "rows_per_shard": rows_per_shard,
                  **spec.describe()}
    if overwrite:
        out.clear_stage(STAGE, TABLES)
    out.check_plan(STAGE, {"inputs": inputs, "parameters": parameters})
    out.remove_stale_temporaries(TABLES)

    pairs: list[QAPair] = []
    read_failures: list[FailureRecord] = []
    for record in read_qa(paths, qa_format, question_field, answers_field):
        (read_failures if isinstance(record, FailureRecord) else pairs).append(record)
    out.write_part("failures", STAGE, READ_SHARD, failures_table(read_failures))

    shards = {f"{start // rows_per_shard:06d}": pairs[start:start + rows_per_shard]
              for start in range(0, len(pairs), rows_per_shard)}
    finished = out.shard_stats(STAGE)
    todo = [(sid, chunk) for sid, chunk in shards.items() if sid not in finished]
    print(f"qa: {len(pairs):,} pairs in {len(shards)} shards, {len(shards) - len(todo)} "
          f"already done", file=sys.stderr)
    if todo:
        sc = spark.sparkContext
        sc.setJobDescription(f"qa: {len(todo)} shards")
        out_path = str(out.root)
        sc.parallelize(todo, len(todo)).map(
            lambda item: link_qa_shard(item[0], item[1], spec, out_path)
        ).collect()
    finished = out.shard_stats(STAGE)
    per_shard = [finished[sid] for sid in shards]
    reasons: Counter = Counter(f.reason for f in read_failures)
    for s in per_shard:
        reasons.update(s["failure_reasons"])
    totals = {
        "records_in": len(pairs) + len(read_failures),
        "pairs": len(pairs),
        "unreadable": len(read_failures),
        "linked": sum(s["linked"] for s in per_shard),
        "link_failed": sum(s["failed"] for s in per_shard),
        "question_mentions": sum(s["question_mentions"] for s in per_shard),
        "answer_mentions": sum(s["answer_mentions"] for s in per_shard),
        "failure_reasons": dict(reasons),
        "shards": len(shards),
        "shards_skipped": len(shards) - len(todo),
    }
    seconds = time.perf_counter() - started
    record_stage(out, STAGE, inputs=inputs, parameters=parameters, stats=totals, seconds=seconds)
    print(stage_line(STAGE, seconds, records=totals["records_in"], linked=totals["linked"],
                     failed=totals["unreadable"] + totals["link_failed"],
                     question_mentions=totals["question_mentions"],
                     answer_mentions=totals["answer_mentions"]), file=sys.stderr)
    return totals


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="jobs/qa.py", description=__doc__.splitlines()[0])
    stage_args.add_qa_args(parser)
    args = parser.parse_args(argv)
    spark = spark_session("longtail qa", args.master)
    run_qa(spark, args.qa, args.qa_format, stage_args.linker_spec(args), args.out,
           question_field=args.question_field, answers_field=args.answers_field,
           rows_per_shard=args.qa_rows_per_shard, overwrite=args.overwrite)
    return 0


if __name__ == "__main__":
    sys.exit(main())
