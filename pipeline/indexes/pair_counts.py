"""Count, for a fixed list of entity pairs, the documents that contain both entities.

The count stage needs co-occurrence only for the (question entity, salient answer entity)
pairs some question asks about. Within each document, every row whose entity is the question
side of some pair is crossed with the rows whose entity is the answer side of some pair, and
the crossings that are wanted pairs are counted. Entities are renumbered densely so a crossing
is one integer, looked up in a hash table a quarter full (`HashMap`) that stays mostly in cache.
The work is the sum
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
_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)  # Fibonacci hashing
_EMPTY = np.int64(-1)


def hash_slots(values: np.ndarray, bits: int) -> np.ndarray:
    """A slot in [0, 2**bits) for each int64 value (the top bits of a multiplicative hash)."""
    with np.errstate(over="ignore"):
        return ((values.view(np.uint64) * _MULTIPLIER) >> np.uint64(64 - bits)).view(np.int64)


@dataclass(frozen=True)
class HashMap:
    """Distinct int64 keys to their positions, in an open-addressing table at most a quarter
    full, looked up for whole arrays at once: most keys that are absent meet an empty slot at
    the first probe, and a present key is found in about one probe, where a binary search of a
    sorted array makes some twenty scattered reads per key."""

    keys: np.ndarray  # by slot, _EMPTY where none
    values: np.ndarray  # by slot: the key's position in the array it was built from (int32)
    bits: int

    @classmethod
    def build(cls, keys: np.ndarray) -> HashMap:
        bits = max(4, int(len(keys) * 4 - 1).bit_length())
        mask = (1 << bits) - 1
        table = np.full(1 << bits, _EMPTY, dtype=np.int64)
        values = np.zeros(1 << bits, dtype=np.int32)
        pending = np.arange(len(keys))
        slots = hash_slots(np.ascontiguousarray(keys, dtype=np.int64), bits)
        while len(pending):
            free = table[slots[pending]] == _EMPTY
            # of the keys wanting one free slot, the first takes it; the others probe on
            taken, first = np.unique(slots[pending[free]], return_index=True)
            placed = pending[free][first]
            table[taken] = keys[placed]
            values[taken] = placed
            pending = np.setdiff1d(pending, placed, assume_unique=True)
            slots[pending] = (slots[pending] + 1) & mask
        return cls(table, values, bits)

    def find(self, keys: np.ndarray) -> np.ndarray:
        """The position of each key, -1 for a key not in the map."""
        keys = np.ascontiguousarray(keys, dtype=np.int64)
        slots = hash_slots(keys, self.bits)
        seen = self.keys[slots]
        hit = seen == keys
        found = np.where(hit, self.values[slots], -1)
        # the few whose first slot holds another key probe on
        pending = np.flatnonzero(~hit & (seen != _EMPTY))
        mask = (1 << self.bits) - 1
        slots[pending] = (slots[pending] + 1) & mask
        while len(pending):
            at = slots[pending]
            seen = self.keys[at]
            hit = seen == keys[pending]
            found[pending[hit]] = self.values[at[hit]]
            pending = pending[~hit & (seen != _EMPTY)]
            slots[pending] = (slots[pending] + 1) & mask
        return found


@dataclass(frozen=True)
class PairIndex:
    """The wanted (q, a) pairs as dense keys q_rank * len(entities) + a_rank."""

    pairs: np.ndarray  # (n, 2) int64, sorted: q, a
    entities: np.ndarray  # sorted unique entity ids of all pairs
    entity_rank: HashMap  # entity id -> rank in `entities`
    key_pair: HashMap  # dense key -> pair index
    is_question: np.ndarray  # by entity rank: the q side of some pair
    is_answer: np.ndarray  # by entity rank: the a side of some pair

    @classmethod
    def build(cls, pairs: Sequence[tuple[int, int]] | np.ndarray) -> PairIndex:
        arr = np.unique(np.asarray(pairs, dtype=np.int64).reshape(-1, 2), axis=0)
        entities = np.unique(arr)
        q = np.searchsorted(entities, arr[:, 0])
        a = np.searchsorted(entities, arr[:, 1])
        is_question = np.zeros(len(entities), dtype=bool)
        is_question[q] = True
        is_answer = np.zeros(len(entities), dtype=bool)
        is_answer[a] = True
        return cls(arr, entities, HashMap.build(entities),
                   HashMap.build(q * np.int64(len(entities)) + a), is_question, is_answer)

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
    rank = index.entity_rank.find(entity_ids)
    wanted = rank >= 0
    docs = np.asarray(doc_ids, dtype=np.int64)[wanted]
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
    q_rows, crossings = q_rows[crossings > 0], crossings[crossings > 0]
    width = np.int64(len(index.entities))
    for part in _chunks(crossings):
        rows, n = q_rows[part], crossings[part]
        total = int(n.sum())
        # each q row meets the answer rows of its document, which come first in it
        steps = np.ones(total, dtype=np.int64)
        starts = np.cumsum(n) - n
        steps[starts] = doc_start[doc_of_row[rows]] - np.r_[0, (doc_start[doc_of_row[rows]]
                                                                + n - 1)[:-1]]
        a_row = np.cumsum(steps)
        keys = np.repeat(rank[rows] * width, n) + rank[a_row]
        found = index.key_pair.find(keys)
        counts += np.bincount(found[found >= 0], minlength=len(index))
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
