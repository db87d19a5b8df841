"""Stage `index`: entities, doc_entities and cooccurrence from the linked mentions.

spark-submit jobs/index.py --out OUT [--min-cooccurrence N] [--max-entities-per-doc K]
"""

from __future__ import annotations

import argparse
import sys
import time

from longtail import stage_args
from longtail.errors import UsageError
from longtail.jobs.session import spark_session
from longtail.jobs.tables import read_table, write_table
from longtail.manifest import record_stage
from longtail.output import OutputFolder
from longtail.progress import stage_line
from pyspark.sql import SparkSession, Window
from pyspark.sql import functions as F

STAGE = "index"


def run_index(
    spark: SparkSession,
    out_root: str,
    *,
    min_cooccurrence: int = stage_args.DEFAULT_MIN_COOCCURRENCE,
    max_entities_per_doc: int = stage_args.DEFAULT_MAX_ENTITIES_PER_DOC,
) -> dict:
    started = time.perf_counter()
    out = OutputFolder(out_root)
    if not out.has_table("mentions"):
        raise UsageError(f"no mentions under {out.root}: run `longtail link` first")
    if min_cooccurrence < 1:
        raise UsageError("--min-cooccurrence must be at least 1")
    if max_entities_per_doc < 0:
        raise UsageError("--max-entities-per-doc must be 0 (no cap) or more")

    spark.sparkContext.setJobDescription("index: doc_entities")
    mentions = read_table(spark, out, "mentions")
    # Files hold disjoint, sorted ranges of documents: the count stage then needs no shuffle.
    doc_entities = (mentions.groupBy("doc_id", "entity_id").agg(F.count("*").alias("mentions"))
                    .repartitionByRange("doc_id").sortWithinPartitions("doc_id", "entity_id"))
    write_table(doc_entities, out, "doc_entities")
    doc_entities = read_table(spark, out, "doc_entities")

    spark.sparkContext.setJobDescription("index: entities")
    uris = read_table(spark, out, "entity_uris")
    collisions = (uris.groupBy("entity_id").agg(F.countDistinct("uri").alias("n"))
                  .where("n > 1").count())
    if collisions:
        raise RuntimeError(f"{collisions} entity ids are shared by different URIs")
    names = uris.groupBy("entity_id").agg(
        F.first("uri").alias("uri"), F.max("support").alias("support"),
        F.first("types").alias("types"))
    counts = doc_entities.groupBy("entity_id").agg(
        F.count("*").alias("doc_count"), F.sum("mentions").alias("mention_count"))
    entities = (names.join(counts, "entity_id", "left")
                .fillna(0, subset=["doc_count", "mention_count"]))
    write_table(entities, out, "entities")

    spark.sparkContext.setJobDescription("index: cooccurrence")
    per_doc = doc_entities
    cap_stats = {"docs_capped": 0, "entities_left_out_of_pairs": 0}
    if max_entities_per_doc:
        order = Window.partitionBy("doc_id").orderBy(F.desc("mentions"), F.asc("entity_id"))
        ranked = doc_entities.withColumn("rank", F.row_number().over(order))
        per_doc = ranked.where(F.col("rank") <= max_entities_per_doc).drop("rank")
        over = (doc_entities.groupBy("doc_id").count()
                .where(F.col("count") > max_entities_per_doc)
                .agg(F.count("*").alias("docs"),
                     F.sum(F.col("count") - max_entities_per_doc).alias("left_out"))
                .collect()[0])
        cap_stats = {"docs_capped": int(over["docs"] or 0),
                     "entities_left_out_of_pairs": int(over["left_out"] or 0)}
    a = per_doc.select("doc_id", F.col("entity_id").alias("entity_a"))
    b = per_doc.select("doc_id", F.col("entity_id").alias("entity_b"))
    pairs = (a.join(b, "doc_id").where(F.col("entity_a") < F.col("entity_b"))
             .groupBy("entity_a", "entity_b").agg(F.count("*").alias("doc_count"))
             .where(F.col("doc_count") >= min_cooccurrence))
    write_table(pairs, out, "cooccurrence")

    stats = {
        "entities": out.row_count("entities"),
        "doc_entities": out.row_count("doc_entities"),
        "cooccurrence_pairs": out.row_count("cooccurrence"),
        "max_entities_per_doc": max_entities_per_doc,
        **cap_stats,
    }
    seconds = time.perf_counter() - started
    record_stage(out, STAGE, inputs={"mentions": str(out.table_dir("mentions"))},
                 parameters={"min_cooccurrence": min_cooccurrence,
                             "max_entities_per_doc": max_entities_per_doc},
                 stats=stats, seconds=seconds)
    print(stage_line(STAGE, seconds, entities=stats["entities"],
                     doc_entities=stats["doc_entities"], pairs=stats["cooccurrence_pairs"],
                     docs_capped=stats["docs_capped"]), file=sys.stderr)
    return stats


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="jobs/index.py", description=__doc__.splitlines()[0])
    stage_args.add_index_args(parser)
    args = parser.parse_args(argv)
    spark = spark_session("longtail index", args.master)
    run_index(spark, args.out, min_cooccurrence=args.min_cooccurrence,
              max_entities_per_doc=args.max_entities_per_doc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
