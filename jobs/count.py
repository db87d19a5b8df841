"""Stage `count`: per-question relevant-document counts (the heuristic in longtail.qa.heuristic).

spark-submit jobs/count.py --out OUT [--exclude-countries [--countries FILE]]

Only the (question entity, salient answer entity) pairs that some question needs are counted
(longtail.indexes.pair_counts), one doc_entities file per task: no shuffle, and work that grows
with the corpus, not with the square of its entity vocabulary.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
from longtail import stage_args
from longtail.errors import UsageError
from longtail.indexes.pair_counts import (
    PairIndex,
    count_pairs,
    count_pairs_in_file,
    doc_ranges_disjoint,
)
from longtail.jobs.session import spark_session
from longtail.jobs.tables import read_table
from longtail.linking.annotation import entity_id
from longtail.manifest import record_stage
from longtail.output import OutputFolder
from longtail.progress import stage_line
from longtail.qa.countries import load_countries
from longtail.qa.relevant import QAEntityLists, relevant_docs_table, status_counts
from pyspark.sql import SparkSession

STAGE = "count"
_ROWS = pa.schema([("doc_id", pa.int64()), ("entity_id", pa.int64())])


def run_count(
    spark: SparkSession,
    out_root: str,
    *,
    exclude_countries: bool = False,
    countries: str | None = None,
) -> dict:
    started = time.perf_counter()
    out = OutputFolder(out_root)
    for table, stage in (("doc_entities", "index"), ("entities", "index"),
                         ("qa_questions", "qa")):
        if not out.has_table(table):
            raise UsageError(f"no {table} under {out.root}: run `longtail {stage}` first")
    excluded = ({entity_id(u) for u in load_countries(countries)}
                if exclude_countries else set())
    qa = QAEntityLists.load(out, excluded)
    wanted = qa.entity_ids()
    entities = ds.dataset(str(out.table_dir("entities")), format="parquet").to_table(
        columns=["entity_id", "uri", "doc_count"],
        filter=pc.field("entity_id").isin(sorted(wanted)))
    ids = entities["entity_id"].to_pylist()
    doc_count = dict(zip(ids, entities["doc_count"].to_pylist(), strict=True))
    uris = dict(zip(ids, entities["uri"].to_pylist(), strict=True))
    index = PairIndex.build(sorted(qa.needed_pairs()))

    pair_docs: dict[tuple[int, int], int] = {}
    if len(index):
        totals = _count_pairs(spark, out, index)
        pair_docs = {(int(q), int(a)): int(n)
                     for (q, a), n in zip(index.pairs, totals, strict=True) if n}

    table = relevant_docs_table(qa, pair_docs, doc_count, uris)
    out.clear_stage(STAGE, ["relevant_docs"])
    out.write_part("relevant_docs", STAGE, "all", table)
    stats = {"questions": table.num_rows, "entity_pairs": len(index),
             "status": status_counts(table), "excluded_countries": len(excluded)}
    seconds = time.perf_counter() - started
    record_stage(out, STAGE, inputs={"doc_entities": str(out.table_dir("doc_entities")),
                                     "qa_entities": str(out.table_dir("qa_entities"))},
                 parameters={"exclude_countries": exclude_countries, "countries": countries},
                 stats=stats, seconds=seconds)
    print(stage_line(STAGE, seconds, questions=stats["questions"], **{
        k.replace(" ", "_"): v for k, v in stats["status"].items()}), file=sys.stderr)
    return stats


def _count_pairs(spark: SparkSession, out: OutputFolder, index: PairIndex) -> np.ndarray:
    """Documents per wanted pair, one task per file when files hold disjoint document ranges
    (as the index stage writes them), else after grouping the rows by document."""
    files = sorted(str(p) for p in out.table_dir("doc_entities").glob("*.parquet"))
    sc = spark.sparkContext
    sc.setJobDescription(f"count: {len(index):,} entity pairs")
    shared = sc.broadcast(index)
    try:
        if doc_ranges_disjoint(files):
            return sc.parallelize(files, len(files)).map(
                lambda path: count_pairs_in_file(path, shared.value)).treeReduce(np.add)

        def per_partition(batches):
            table = pa.Table.from_batches(list(batches), schema=_ROWS)
            counts = count_pairs(table["doc_id"].to_numpy(), table["entity_id"].to_numpy(),
                                 shared.value)
            yield pa.RecordBatch.from_pydict({"counts": [counts.tolist()]})

        rows = (read_table(spark, out, "doc_entities").select("doc_id", "entity_id")
                .repartitionByRange("doc_id").mapInArrow(per_partition, "counts array<long>"))
        return np.sum([np.array(r["counts"], dtype=np.int64) for r in rows.collect()]
                      or [np.zeros(len(index), dtype=np.int64)], axis=0)
    finally:
        shared.destroy()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="jobs/count.py", description=__doc__.splitlines()[0])
    stage_args.add_count_args(parser)
    args = parser.parse_args(argv)
    spark = spark_session("longtail count", args.master)
    run_count(spark, args.out, exclude_countries=args.exclude_countries, countries=args.countries)
    return 0


if __name__ == "__main__":
    sys.exit(main())
