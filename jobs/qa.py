"""Stage `qa`: entity-link a QA dataset into qa_questions and qa_entities.

spark-submit jobs/qa.py --qa PATH --qa-format nq-open (--model DIR | --spotlight URL...) --out OUT
"""

from __future__ import annotations

import argparse
from collections import Counter

from longtail import stage_config
from longtail.jobs.errors import job_main
from longtail.jobs.executor import SparkExecutor
from longtail.jobs.session import spark_session
from longtail.linking.spec import LinkerSpec
from longtail.output.failures import FailureRecord
from longtail.output.folder import OutputFolder
from longtail.output.runner import ShardedStage, say_on_stderr
from longtail.progress import stage_line
from longtail.qa.linking import READ_SHARD, STAGE, TABLES, link_qa_shard, write_read_failures
from longtail.qa.readers import QAPair, read_qa, resolve_qa_paths
from longtail.stage_config import QAConfig


def id_duplicates(pairs: list[QAPair]) -> dict:
    """How many question ids are shared by several records (each record is still its own
    question: questions are keyed by file and row)."""
    counts = Counter(p.question_id for p in pairs)
    repeated = {qid: n for qid, n in counts.items() if n > 1}
    return {"duplicate_ids": len(repeated), "records_with_duplicate_ids": sum(repeated.values()),
            "duplicate_id_examples": sorted(repeated)[:5]}


def run_qa(spark, config: QAConfig, spec: LinkerSpec, out: str | OutputFolder, *,
           overwrite: bool = False, say=say_on_stderr) -> dict:
    out = out if isinstance(out, OutputFolder) else OutputFolder(out)
    paths = resolve_qa_paths(config.qa)
    stage = ShardedStage(
        out, stage_config.linking_stage_spec(STAGE, TABLES, config, spec, "qa", paths), say=say)
    stage.prepare(overwrite)
    stage.fingerprint_inputs(paths)

    pairs: list[QAPair] = []
    read_failures: list[FailureRecord] = []
    for record in read_qa(paths, config.qa_format, config.question_field, config.answers_field,
                          config.dedupe_answers):
        (read_failures if isinstance(record, FailureRecord) else pairs).append(record)
    duplicates = id_duplicates(pairs)
    if duplicates["duplicate_ids"]:
        say(f"qa: {duplicates['duplicate_ids']:,} question ids are shared by "
            f"{duplicates['records_with_duplicate_ids']:,} records (e.g. "
            f"{', '.join(map(repr, duplicates['duplicate_id_examples'][:3]))}); each record is "
            "counted as its own question")
    size = config.qa_rows_per_shard
    shards: dict[str, object] = {READ_SHARD: read_failures}
    shards.update({f"{start // size:06d}": pairs[start:start + size]
                   for start in range(0, len(pairs), size)})

    def work(item):
        shard_id, payload = item
        if shard_id == READ_SHARD:
            return write_read_failures(out, payload)
        return link_qa_shard(shard_id, payload, spec, out)

    record = stage.run(shards, work, SparkExecutor(spark, "qa"), extra_stats=duplicates)
    totals = record["stats"]
    say(stage_line(STAGE, record["seconds"], records=totals.get("records_in", 0),
                   linked=totals.get("linked", 0),
                   failed=totals.get("unreadable", 0) + totals.get("link_failed", 0),
                   question_mentions=totals.get("question_mentions", 0),
                   answer_mentions=totals.get("answer_mentions", 0),
                   duplicate_ids=duplicates["duplicate_ids"]))
    return totals


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="jobs/qa.py", description=__doc__.splitlines()[0])
    stage_config.add_qa_args(parser)
    args = parser.parse_args(argv)
    stage_config.apply_storage(args)
    config = stage_config.from_args(QAConfig, args)
    spec = stage_config.linker_spec(args)
    run_qa(spark_session("longtail qa", args.master), config, spec, args.out,
           overwrite=args.overwrite)
    return 0


if __name__ == "__main__":
    job_main(main)
