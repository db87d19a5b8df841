"""Corpus order: a document's position is its index in reading order, the rows of earlier
files, then its row. Unreadable rows keep their place, as a training run reading the files
would. (The texts themselves: `longtail.corpus.linked.LinkedCorpus`.)
"""

from __future__ import annotations

import numpy as np

from longtail.corpus.ids import ROW_BITS
from longtail.output.folder import OutputFolder
from longtail.output.views import connect

_ROW_MASK = (1 << ROW_BITS) - 1


class CorpusOrder:
    """Maps doc ids to positions in corpus order (see the module docstring)."""

    def __init__(self, rows_per_file: dict[int, int]):
        n_files = max(rows_per_file, default=-1) + 1
        counts = np.array([rows_per_file.get(i, 0) for i in range(n_files)], dtype=np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        self.total = int(self.offsets[-1])

    @classmethod
    def load(cls, out: OutputFolder) -> CorpusOrder:
        """Rows per file from docs and failures (the last row seen in each file, plus one)."""
        queries = [
            f"SELECT doc_id >> {ROW_BITS} AS f, max(doc_id & {_ROW_MASK}) AS r FROM docs "
            "GROUP BY 1",
            f"SELECT doc_id >> {ROW_BITS} AS f, max(row) AS r FROM failures "
            "WHERE doc_id IS NOT NULL GROUP BY 1",
            # an unreadable rest of a file has no doc id: find its file by its source
            f"SELECT d.f, max(x.row) AS r FROM failures x JOIN (SELECT DISTINCT source, "
            f"doc_id >> {ROW_BITS} AS f FROM docs) d "
            "ON d.source = x.source WHERE x.doc_id IS NULL AND x.row IS NOT NULL GROUP BY 1"]
        sql = " UNION ALL ".join(queries)
        rows: dict[int, int] = {}
        with connect(out, reads=["docs"]) as con:
            for f, r in con.execute(sql).fetchall():
                rows[int(f)] = max(rows.get(int(f), 0), int(r) + 1)
        return cls(rows)

    def positions(self, doc_ids: np.ndarray) -> np.ndarray:
        doc_ids = np.asarray(doc_ids, dtype=np.int64)
        files = doc_ids >> ROW_BITS
        return self.offsets[files] + (doc_ids & _ROW_MASK)
