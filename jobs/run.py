"""All stages in one go: link, index, qa, count (one Spark session).

spark-submit jobs/run.py --corpus PATH... --qa PATH --qa-format nq-open --model DIR --out OUT
"""

from __future__ import annotations

import argparse
import sys

from longtail import stage_args
from longtail.jobs.count import run_count
from longtail.jobs.index import run_index
from longtail.jobs.link import run_link
from longtail.jobs.qa import run_qa
from longtail.jobs.session import spark_session
from pyspark.sql import SparkSession


def run_all(spark: SparkSession, args: argparse.Namespace) -> dict:
    spec = stage_args.linker_spec(args)
    return {
        "link": run_link(spark, args.corpus, spec, args.out, corpus_format=args.corpus_format,
                         text_field=args.text_field, id_field=args.id_field,
                         rows_per_shard=args.rows_per_shard, overwrite=args.overwrite),
        "index": run_index(spark, args.out, min_cooccurrence=args.min_cooccurrence,
                           max_entities_per_doc=args.max_entities_per_doc),
        "qa": run_qa(spark, args.qa, args.qa_format, spec, args.out,
                     question_field=args.question_field, answers_field=args.answers_field,
                     rows_per_shard=args.qa_rows_per_shard, overwrite=args.overwrite),
        "count": run_count(spark, args.out, exclude_countries=args.exclude_countries,
                           countries=args.countries),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="jobs/run.py", description=__doc__.splitlines()[0])
    stage_args.add_run_args(parser)
    args = parser.parse_args(argv)
    run_all(spark_session("longtail run", args.master), args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
