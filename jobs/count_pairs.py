"""The count stage's Spark part: documents per wanted (question, answer) entity pair."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from longtail.indexes.pair_counts import (
    PairIndex,
    count_pairs,
    count_pairs_in_file,
    doc_ranges_disjoint,
)
from longtail.jobs.tables import read_files
from longtail.output.folder import FileEntry, OutputFolder

_ROWS = pa.schema([("doc_id", pa.int64()), ("entity_id", pa.int64())])


def count_pair_docs(spark, out: OutputFolder, files: list[FileEntry],
                 index: PairIndex) -> np.ndarray:
    """Documents per wanted pair, one task per file when files hold disjoint document ranges
    (as the index stage writes them), else after grouping the rows by document."""
    paths = [f.path for f in files]
    sc = spark.sparkContext
    sc.setJobDescription(f"count: {len(index):,} entity pairs")
    shared = sc.broadcast(index)
    try:
        if doc_ranges_disjoint(out, paths):
            return sc.parallelize(paths, len(paths)).map(
                lambda path: count_pairs_in_file(out, path, shared.value)).treeReduce(np.add)

        def per_partition(batches):
            batches = list(batches)
            table = (pa.Table.from_batches(batches).select(_ROWS.names).cast(_ROWS)
                     if batches else _ROWS.empty_table())
            counts = count_pairs(table["doc_id"].to_numpy(), table["entity_id"].to_numpy(),
                                 shared.value)
            yield pa.RecordBatch.from_pydict({"counts": [counts.tolist()]})

        rows = (read_files(spark, out, "doc_entities", files).select("doc_id", "entity_id")
                .repartitionByRange("doc_id").mapInArrow(per_partition, "counts array<long>"))
        return np.sum([np.array(r["counts"], dtype=np.int64) for r in rows.collect()]
                      or [np.zeros(len(index), dtype=np.int64)], axis=0)
    finally:
        shared.destroy()
