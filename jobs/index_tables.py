"""The index stage's tables from committed mentions, on Spark: doc_entities, entity_docs,
entities and cooccurrence, written as files of the stage's one commit."""

from __future__ import annotations

from pyspark.sql import Window
from pyspark.sql import functions as F

from longtail.indexes.postings import ROW_GROUP_ROWS as POSTINGS_ROW_GROUP_ROWS
from longtail.indexes.postings import file_count as postings_files
from longtail.jobs.tables import read_files, write_commit
from longtail.output.folder import OutputFolder
from longtail.output.runner import WholeStage

TABLES = ["entities", "doc_entities", "entity_docs", "cooccurrence"]


def build_index_tables(spark, out: OutputFolder, run: WholeStage, config) -> dict:
    """Write the four tables through `run`'s writer; returns the stage's stats."""
    readers = sorted(run.upstream)  # the stage(s) that linked the corpus
    mentions = read_files(spark, out, "mentions", run.committed_files("mentions", readers))
    uris = read_files(spark, out, "entity_uris", run.committed_files("entity_uris", readers))

    spark.sparkContext.setJobDescription("index: doc_entities")
    # Files hold disjoint, sorted ranges of documents: the count stage needs no shuffle.
    doc_entities = (mentions.groupBy("doc_id", "entity_id")
                    .agg(F.count("*").alias("mentions"))
                    .repartitionByRange("doc_id").sortWithinPartitions("doc_id", "entity_id"))
    written = write_commit(doc_entities, run.writer, "doc_entities")
    doc_entities = read_files(spark, out, "doc_entities", written).cache()

    spark.sparkContext.setJobDescription("index: entity_docs")
    n_rows = sum(f.rows for f in written)
    postings = (doc_entities.select("entity_id", "doc_id")
                .repartitionByRange(postings_files(n_rows), "entity_id")
                .sortWithinPartitions("entity_id", "doc_id"))
    write_commit(postings, run.writer, "entity_docs", POSTINGS_ROW_GROUP_ROWS)

    spark.sparkContext.setJobDescription("index: entities")
    collisions = (uris.groupBy("entity_id").agg(F.countDistinct("uri").alias("n"))
                  .where("n > 1").count())
    if collisions:
        raise RuntimeError(f"{collisions} entity ids are shared by different URIs")
    names = uris.groupBy("entity_id").agg(
        F.first("uri").alias("uri"), F.max("support").alias("support"),
        F.first("types").alias("types"))
    counts = doc_entities.groupBy("entity_id").agg(
        F.count("*").alias("doc_count"), F.sum("mentions").alias("mention_count"))
    # sorted by URI, so that a lookup by URI reads one row group (entity_ref() in DuckDB)
    entities = (names.join(counts, "entity_id", "left")
                .fillna(0, subset=["doc_count", "mention_count"]).orderBy("uri"))
    write_commit(entities, run.writer, "entities", POSTINGS_ROW_GROUP_ROWS)

    spark.sparkContext.setJobDescription("index: cooccurrence")
    cap = config.max_entities_per_doc
    per_doc = doc_entities
    cap_stats = {"docs_capped": 0, "entities_left_out_of_pairs": 0}
    if cap:
        order = Window.partitionBy("doc_id").orderBy(F.desc("mentions"), F.asc("entity_id"))
        ranked = doc_entities.withColumn("rank", F.row_number().over(order))
        per_doc = ranked.where(F.col("rank") <= cap).drop("rank")
        over = (doc_entities.groupBy("doc_id").count().where(F.col("count") > cap)
                .agg(F.count("*").alias("docs"),
                     F.sum(F.col("count") - cap).alias("left_out"))
                .collect()[0])
        cap_stats = {"docs_capped": int(over["docs"] or 0),
                     "entities_left_out_of_pairs": int(over["left_out"] or 0)}
    a = per_doc.select("doc_id", F.col("entity_id").alias("entity_a"))
    b = per_doc.select("doc_id", F.col("entity_id").alias("entity_b"))
    pairs = (a.join(b, "doc_id").where(F.col("entity_a") < F.col("entity_b"))
             .groupBy("entity_a", "entity_b").agg(F.count("*").alias("doc_count"))
             .where(F.col("doc_count") >= config.min_cooccurrence))
    write_commit(pairs, run.writer, "cooccurrence")
    doc_entities.unpersist()

    rows = {t: sum(f.rows for f in run.writer.files if f.table == t) for t in TABLES}
    return {
        "entities": rows["entities"],
        "doc_entities": rows["doc_entities"],
        "cooccurrence_pairs": rows["cooccurrence"],
        "max_entities_per_doc": cap,
        **cap_stats,
    }
