"""Stage `count`: per-question relevant-document counts (the heuristic in pipeline.qa.heuristic).

spark-submit jobs/count.py --out OUT [--exclude-countries [--countries FILE]]

Only the (question entity, salient answer entity) pairs that some question needs are counted:
doc_entities is cut down to the QA entities, joined with itself on doc_id and filtered to the
needed pairs, so the work grows with the corpus, not with the square of its entity vocabulary.
"""

from __future__ import annotations

import argparse
import sys
import time

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from jobs.session import spark_session
from jobs.tables import read_table
from pipeline import stage_args
from pipeline.errors import UsageError
from pipeline.linking.annotation import entity_id
from pipeline.manifest import record_stage
from pipeline.output import OutputFolder
from pipeline.progress import stage_line
from pipeline.qa.countries import load_countries
from pipeline.qa.relevant import QAEntityLists, relevant_docs_table, status_counts

STAGE = "count"


def run_count(
    spark: SparkSession,
    out_root: str,
    *,
    exclude_countries: bool = False,
    countries: str | None = None,
) -> dict:
    started = time.perf_counter()
    out = OutputFolder(out_root)
    for table, stage in (("doc_entities", "index"), ("qa_questions", "qa")):
        if not out.has_table(table):
            raise UsageError(f"no {table} under {out.root}: run `longtail {stage}` first")
    excluded = ({entity_id(u) for u in load_countries(countries)}
                if exclude_countries else set())
    qa = QAEntityLists.load(out, excluded)
    needed = qa.needed_pairs()
    wanted = qa.entity_ids()

    sc = spark.sparkContext
    sc.setJobDescription("count: QA entities in documents")
    wanted_df = F.broadcast(spark.createDataFrame([(e,) for e in sorted(wanted)], "entity_id long"))
    de = read_table(spark, out, "doc_entities").select("doc_id", "entity_id").join(
        wanted_df, "entity_id")
    de.cache()
    doc_count = {r["entity_id"]: r["n"] for r in
                 de.groupBy("entity_id").agg(F.count("*").alias("n")).collect()}

    sc.setJobDescription(f"count: {len(needed):,} entity pairs")
    pair_docs: dict[tuple[int, int], int] = {}
    if needed:
        pairs_df = F.broadcast(spark.createDataFrame(sorted(needed), "q long, a long"))
        q_side = de.join(pairs_df.select(F.col("q").alias("entity_id")).distinct(), "entity_id")
        a_side = de.join(pairs_df.select(F.col("a").alias("entity_id")).distinct(), "entity_id")
        joined = (q_side.select("doc_id", F.col("entity_id").alias("q"))
                  .join(a_side.select("doc_id", F.col("entity_id").alias("a")), "doc_id")
                  .join(pairs_df, ["q", "a"])
                  .groupBy("q", "a").agg(F.count("*").alias("n")))
        pair_docs = {(r["q"], r["a"]): r["n"] for r in joined.collect()}
    de.unpersist()

    sc.setJobDescription("count: entity URIs")
    uri_rows = (read_table(spark, out, "entity_uris").select("entity_id", "uri")
                .join(wanted_df, "entity_id").dropDuplicates(["entity_id"]).collect())
    uris = {r["entity_id"]: r["uri"] for r in uri_rows}

    table = relevant_docs_table(qa, pair_docs, doc_count, uris)
    out.clear_stage(STAGE, ["relevant_docs"])
    out.write_part("relevant_docs", STAGE, "all", table)
    stats = {"questions": table.num_rows, "entity_pairs": len(needed),
             "status": status_counts(table), "excluded_countries": len(excluded)}
    seconds = time.perf_counter() - started
    record_stage(out, STAGE, inputs={"doc_entities": str(out.table_dir("doc_entities")),
                                     "qa_entities": str(out.table_dir("qa_entities"))},
                 parameters={"exclude_countries": exclude_countries, "countries": countries},
                 stats=stats, seconds=seconds)
    print(stage_line(STAGE, seconds, questions=stats["questions"], **{
        k.replace(" ", "_"): v for k, v in stats["status"].items()}), file=sys.stderr)
    return stats


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="jobs/count.py", description=__doc__.splitlines()[0])
    stage_args.add_count_args(parser)
    args = parser.parse_args(argv)
    spark = spark_session("longtail count", args.master)
    run_count(spark, args.out, exclude_countries=args.exclude_countries, countries=args.countries)
    return 0


if __name__ == "__main__":
    sys.exit(main())
