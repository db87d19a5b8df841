"""All stages in one go: link, index, qa, count (one Spark session).

spark-submit jobs/run.py --corpus PATH... --qa PATH --qa-format nq-open --model DIR --out OUT

link and qa resume: finished shards whose files check out are kept. index and count run only
when they are stale (their input changed since they ran), missing, or asked for with other
parameters than they ran with; otherwise they are reported up to date.
"""

from __future__ import annotations

import argparse

from longtail import stage_config
from longtail.jobs.count import STAGE as COUNT
from longtail.jobs.count import run_count
from longtail.jobs.errors import job_main
from longtail.jobs.index import STAGE as INDEX
from longtail.jobs.index import run_index
from longtail.jobs.link import run_link
from longtail.jobs.qa import run_qa
from longtail.jobs.session import spark_session
from longtail.lineage import Lineage
from longtail.output import OutputFolder
from longtail.runner import say_on_stderr
from longtail.stage_config import CorpusConfig, CountConfig, IndexConfig, QAConfig


def up_to_date(out: OutputFolder, stage: str, parameters: dict) -> bool:
    """Fresh, and run with these parameters."""
    lineage = Lineage(out)
    record = lineage.records.get(stage)
    return (record is not None and record.get("parameters") == parameters
            and lineage.freshness(stage).fresh)


def run_all(spark, args: argparse.Namespace, say=say_on_stderr) -> dict:
    spec = stage_config.linker_spec(args)
    out = OutputFolder(args.out)
    results = {"link": run_link(spark, stage_config.from_args(CorpusConfig, args), spec, out,
                                overwrite=args.overwrite, say=say)}
    index = stage_config.from_args(IndexConfig, args)
    if up_to_date(out, INDEX, stage_config.parameters(index)):
        say("[longtail] index    up to date (its mentions have not changed since it ran)")
        results["index"] = out.record(INDEX)["stats"]
    else:
        results["index"] = run_index(spark, index, out, say=say)
    results["qa"] = run_qa(spark, stage_config.from_args(QAConfig, args), spec, out,
                           overwrite=args.overwrite, say=say)
    count = stage_config.from_args(CountConfig, args)
    if up_to_date(out, COUNT, stage_config.parameters(count)):
        say("[longtail] count    up to date (its inputs have not changed since it ran)")
        results["count"] = out.record(COUNT)["stats"]
    else:
        results["count"] = run_count(spark, count, out, say=say)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="jobs/run.py", description=__doc__.splitlines()[0])
    stage_config.add_run_args(parser)
    args = parser.parse_args(argv)
    stage_config.apply_storage(args)
    run_all(spark_session("longtail run", args.master), args)
    return 0


if __name__ == "__main__":
    job_main(main)
