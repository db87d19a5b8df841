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
from longtail.output.folder import OutputFolder
from longtail.output.lineage import Lineage
from longtail.output.runner import say_on_stderr
from longtail.stage_config import CorpusConfig, CountConfig, IndexConfig, QAConfig


def up_to_date(out: OutputFolder, stage: str, parameters: dict) -> bool:
    """Fresh, and run with these parameters."""
    lineage = Lineage(out)
    record = lineage.records.get(stage)
    return (record is not None and record.get("parameters") == parameters
            and lineage.freshness(stage).fresh)


def run_if_stale(out: OutputFolder, stage: str, config, run, say) -> dict:
    """`run()` a whole stage unless it is fresh and ran with these parameters; its stats."""
    if up_to_date(out, stage, stage_config.parameters(config)):
        say(f"[longtail] {stage:<8} up to date (nothing it reads changed since it ran)")
        return out.record(stage)["stats"]
    return run()


def run_all(spark, args: argparse.Namespace, say=say_on_stderr) -> dict:
    spec = stage_config.linker_spec(args)
    out = OutputFolder(args.out)
    index = stage_config.from_args(IndexConfig, args)
    count = stage_config.from_args(CountConfig, args)
    results = {"link": run_link(spark, stage_config.from_args(CorpusConfig, args), spec, out,
                                overwrite=args.overwrite, say=say)}
    results["index"] = run_if_stale(out, INDEX, index,
                                    lambda: run_index(spark, index, out, say=say), say)
    results["qa"] = run_qa(spark, stage_config.from_args(QAConfig, args), spec, out,
                           overwrite=args.overwrite, say=say)
    results["count"] = run_if_stale(out, COUNT, count,
                                    lambda: run_count(spark, count, out, say=say), say)
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
