"""The index stage's tables from committed mentions: doc_entities, entity_docs, entities and
cooccurrence, written as files of the stage's one commit.

Up to `IN_TASK_MENTIONS` mentions, one Spark task builds all four in one DuckDB pass
(`longtail.indexes.tables`): one Spark job instead of some twenty, each with its stages,
shuffles and round trips between Python and the JVM. Larger indexes take the Spark plan.
Both give the same rows.
"""

from __future__ import annotations

import pyarrow as pa
from pyspark import TaskContext
from pyspark.sql import Window
from pyspark.sql import functions as F

from longtail.indexes.postings import ROW_GROUP_ROWS as POSTINGS_ROW_GROUP_ROWS
from longtail.indexes.postings import file_count as postings_files
from longtail.indexes.tables import build_index
from longtail.jobs.tables import read_files, write_commit
from longtail.output.folder import FileEntry, OutputFolder
from longtail.output.runner import WholeStage
from longtail.schemas import ALL_TABLES

TABLES = ["entities", "doc_entities", "entity_docs", "cooccurrence"]
IN_TASK_MENTIONS = 30_000_000  # about 3 GB of corpus text; a task then holds about 2 GB
ROW_GROUPS = {"entity_docs": POSTINGS_ROW_GROUP_ROWS, "entities": POSTINGS_ROW_GROUP_ROWS}


def build_index_tables(spark, out: OutputFolder, run: WholeStage, config,
                       in_task: bool | None = None) -> dict:
    """Write the four tables through `run`'s writer; returns the stage's stats.

    `in_task`: one DuckDB task (True), the Spark plan (False), or by the number of mentions
    (None)."""
    readers = sorted(run.upstream)  # the stage(s) that linked the corpus
    mention_files = run.committed_files("mentions", readers)
    uri_files = run.committed_files("entity_uris", readers)
    if in_task is None:
        in_task = sum(f.rows for f in mention_files) <= IN_TASK_MENTIONS
    if in_task:
        return _in_one_task(spark, out, run, config, mention_files, uri_files)
    mentions = read_files(spark, out, "mentions", mention_files)
    uris = read_files(spark, out, "entity_uris", uri_files)

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


def _in_one_task(spark, out: OutputFolder, run: WholeStage, config,
                 mention_files: list[FileEntry], uri_files: list[FileEntry]) -> dict:
    """All four tables by one task (`build_index`), written where the task runs."""
    sc = spark.sparkContext
    sc.setJobDescription("index: all tables in one task")
    stem = run.writer.file_name().removesuffix(".parquet")
    folders = {table: run.writer.table_dir(table) for table in TABLES}
    parts = max(1, sc.defaultParallelism)
    mention_paths = [f.path for f in mention_files]
    uri_paths = [f.path for f in uri_files]
    cap, least = config.max_entities_per_doc, config.min_cooccurrence

    def task(_):
        attempt = TaskContext.get().attemptNumber()
        columns = ["doc_id", "entity_id"]
        mentions = _concat([out.read_file(p, columns) for p in mention_paths], "mentions",
                           columns)
        uris = _concat([out.read_file(p) for p in uri_paths], "entity_uris")
        built = build_index(mentions, uris, min_cooccurrence=least, max_entities_per_doc=cap,
                            doc_entity_files=parts)
        if built.collisions:
            return {"collisions": built.collisions, "files": [], "stats": {}}
        entries = []
        for table, data in (("doc_entities", built.doc_entities),
                            ("entity_docs", built.entity_docs),
                            ("entities", [built.entities]),
                            ("cooccurrence", [built.cooccurrence])):
            for i, part in enumerate(data):
                entries.append(out.write_table_file(
                    table, f"{folders[table]}/{stem}-p{i:05d}-a{attempt}.parquet", part,
                    ROW_GROUPS.get(table)).to_json())
        return {"collisions": 0, "files": entries, "stats": built.stats}

    [result] = sc.parallelize([0], 1).map(task).collect()
    if result["collisions"]:
        raise RuntimeError(f"{result['collisions']} entity ids are shared by different URIs")
    run.add(FileEntry.from_json(e) for e in result["files"])
    return result["stats"]


def _concat(tables: list[pa.Table], table: str, columns: list[str] | None = None) -> pa.Table:
    schema = ALL_TABLES[table]
    if columns is not None:
        schema = pa.schema([schema.field(c) for c in columns])
    return pa.concat_tables([t.select(schema.names).cast(schema) for t in tables]) \
        if tables else schema.empty_table()
