"""Count, for a fixed list of entity pairs, the documents that contain both entities.

The count stage needs co-occurrence only for the (question entity, salient answer entity)
pairs some question asks about. Within each document, every row whose entity is the question
side of some pair is crossed with the rows whose entity is the answer side of some pair, and
the crossings that are wanted pairs are counted. Entities are renumbered densely so a crossing
is one integer looked up in a small sorted array that stays in cache. The work is the sum
over documents of |question-side rows| x |answer-side rows|, done with numpy on one file of
doc_entities at a time when each file holds all rows of its documents (the index stage writes
files of disjoint document ranges; `doc_ranges_disjoint` checks it from the footers).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow.parquet as pq

from longtail.output.folder import OutputFolder

MAX_CROSSINGS = 4_000_000  # crossings expanded at once; bounds a task's memory
# One-hash Bloom filters in front of the sorted lookups: most rows of doc_entities are not
# entities of any wanted pair, and most crossings are not wanted pairs; a bit test rules
# them out before the binary search, which then runs on the few that may be.
ENTITY_FILTER_BITS = 22
KEY_FILTER_BITS = 24
_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)  # Fibonacci hashing


def filter_slots(values: np.ndarray, bits: int) -> np.ndarray:
    """A slot in [0, 2**bits) for each int64 value (the top bits of a multiplicative hash)."""
    with np.errstate(over="ignore"):
        return ((values.astype(np.uint64) * _MULTIPLIER) >> np.uint64(64 - bits)).astype(
            np.int64)


def bit_filter(values: np.ndarray, bits: int) -> np.ndarray:
    table = np.zeros(1 << bits, dtype=bool)
    table[filter_slots(values, bits)] = True
    return table


@dataclass(frozen=True)
class PairIndex:
    """The wanted (q, a) pairs as sorted dense keys q_rank * len(entities) + a_rank."""

    pairs: np.ndarray  # (n, 2) int64, sorted: q, a
    entities: np.ndarray  # sorted unique entity ids of all pairs
    keys: np.ndarray  # sorted dense keys
    key_pair: np.ndarray  # pair index of each key
    is_question: np.ndarray  # by entity rank: the q side of some pair
    is_answer: np.ndarray  # by entity rank: the a side of some pair
    entity_filter: np.ndarray  # bit filter of the entity ids
    key_filter: np.ndarray  # bit filter of the keys

    @classmethod
    def build(cls, pairs: Sequence[tuple[int, int]]) -> PairIndex:
        arr = np.array(sorted(set(pairs)), dtype=np.int64).reshape(-1, 2)
        entities = np.unique(arr)
        q = np.searchsorted(entities, arr[:, 0])
        a = np.searchsorted(entities, arr[:, 1])
        keys = q * np.int64(len(entities)) + a
        order = np.argsort(keys)
        is_question = np.zeros(len(entities), dtype=bool)
        is_question[q] = True
        is_answer = np.zeros(len(entities), dtype=bool)
        is_answer[a] = True
        return cls(arr, entities, keys[order], order, is_question, is_answer,
                   bit_filter(entities, ENTITY_FILTER_BITS), bit_filter(keys, KEY_FILTER_BITS))

    def __len__(self) -> int:
        return len(self.pairs)


def count_pairs(doc_ids: np.ndarray, entity_ids: np.ndarray, index: PairIndex) -> np.ndarray:
    """Documents per pair (aligned with `index.pairs`) among these (doc, entity) rows.

    Rows must be distinct (doc, entity) pairs holding every row of each document present;
    their order does not matter.
    """
    counts = np.zeros(len(index), dtype=np.int64)
    if len(doc_ids) == 0 or len(index) == 0:
        return counts
    entity_ids = np.asarray(entity_ids, dtype=np.int64)
    maybe = index.entity_filter[filter_slots(entity_ids, ENTITY_FILTER_BITS)]
    entity_ids = entity_ids[maybe]
    rank = np.searchsorted(index.entities, entity_ids)
    rank[rank == len(index.entities)] = 0
    wanted = index.entities[rank] == entity_ids
    docs = np.asarray(doc_ids, dtype=np.int64)[maybe][wanted]
    rank = rank[wanted]
    if len(rank) == 0:
        return counts

    # Rows grouped by document, answer-side rows first within each document.
    order = np.lexsort((~index.is_answer[rank], docs))
    docs, rank = docs[order], rank[order]
    first = np.r_[True, docs[1:] != docs[:-1]]
    doc_start = np.flatnonzero(first)
    doc_of_row = np.cumsum(first) - 1
    answers_in_doc = np.add.reduceat(index.is_answer[rank].astype(np.int64), doc_start)

    q_rows = np.flatnonzero(index.is_question[rank])
    crossings = answers_in_doc[doc_of_row[q_rows]]
    width = np.int64(len(index.entities))
    for part in _chunks(crossings):
        rows, n = q_rows[part], crossings[part]
        if n.sum() == 0:
            continue
        q_row = np.repeat(rows, n)
        a_row = np.repeat(doc_start[doc_of_row[rows]], n) + (
            np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n))
        keys = rank[q_row] * width + rank[a_row]
        keys = keys[index.key_filter[filter_slots(keys, KEY_FILTER_BITS)]]
        at = np.searchsorted(index.keys, keys)
        at[at == len(index.keys)] = 0
        hit = index.keys[at] == keys
        counts += np.bincount(index.key_pair[at[hit]], minlength=len(index))
    return counts


def _chunks(sizes: np.ndarray) -> list[slice]:
    """Slices of rows whose crossings stay under MAX_CROSSINGS each (one row may exceed it)."""
    total = np.cumsum(sizes)
    bounds = [0]
    while bounds[-1] < len(sizes):
        done = total[bounds[-1] - 1] if bounds[-1] else 0
        nxt = int(np.searchsorted(total, done + MAX_CROSSINGS, side="right"))
        bounds.append(max(nxt, bounds[-1] + 1))
    return [slice(a, b) for a, b in zip(bounds, bounds[1:], strict=False)]


def count_pairs_in_file(out: OutputFolder, path: str, index: PairIndex) -> np.ndarray:
    """`count_pairs` over one doc_entities Parquet file of OUT."""
    table = out.read_file(path, columns=["doc_id", "entity_id"])
    return count_pairs(table["doc_id"].to_numpy(), table["entity_id"].to_numpy(), index)


def doc_ranges_disjoint(out: OutputFolder, paths: Sequence[str]) -> bool:
    """Whether the files' doc_id ranges (from Parquet statistics) do not overlap."""
    ranges = []
    for path in paths:
        with out.storage.open_input(path) as handle:
            meta = pq.ParquetFile(handle).metadata
        column = meta.schema.to_arrow_schema().get_field_index("doc_id")
        lows, highs = [], []
        for g in range(meta.num_row_groups):
            stats = meta.row_group(g).column(column).statistics
            if meta.row_group(g).num_rows == 0:
                continue
            if stats is None or not stats.has_min_max:
                return False
            lows.append(stats.min)
            highs.append(stats.max)
        if lows:
            ranges.append((min(lows), max(highs)))
    ranges.sort()
    return all(prev[1] < nxt[0] for prev, nxt in zip(ranges, ranges[1:], strict=False))
