"""Pair counting over doc_entities rows against brute-force set intersections."""

from __future__ import annotations

import random
from collections import defaultdict

import numpy as np
import pytest

from longtail.indexes import pair_counts
from longtail.indexes.pair_counts import PairIndex, count_pairs


def random_corpus(seed: int, docs: int = 400, entities: int = 60):
    rng = random.Random(seed)
    rows = set()
    for d in range(docs):
        doc_id = (d % 3 << 40) | d  # ids from several files, as the corpus readers make them
        for _ in range(rng.randint(0, 12)):
            # skewed popularity: low entity numbers are frequent
            rows.add((doc_id, 10**12 + int(entities * rng.random() ** 2)))
    rows = list(rows)
    rng.shuffle(rows)  # no order is assumed
    pairs = {(10**12 + rng.randrange(entities), 10**12 + rng.randrange(entities))
             for _ in range(300)}
    pairs = sorted((q, a) for q, a in pairs if q != a)
    pairs.append((10**12, 5))  # an entity in no document
    return rows, pairs


def brute_force(rows, pairs):
    docs_of = defaultdict(set)
    for d, e in rows:
        docs_of[e].add(d)
    return [len(docs_of[q] & docs_of[a]) for q, a in pairs]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_counts_equal_set_intersections(seed):
    rows, pairs = random_corpus(seed)
    docs_of = defaultdict(set)
    for d, e in rows:
        docs_of[e].add(d)
    index = PairIndex.build(pairs)
    got = count_pairs(np.array([r[0] for r in rows]), np.array([r[1] for r in rows]), index)
    order = {tuple(p): i for i, p in enumerate(index.pairs.tolist())}
    expected = brute_force(rows, pairs)
    assert [int(got[order[p]]) for p in pairs] == expected
    assert sum(expected) > 100  # the data has real co-occurrences to count


def test_split_into_files_by_document_sums_to_the_whole(monkeypatch):
    rows, pairs = random_corpus(7)
    index = PairIndex.build(pairs)
    monkeypatch.setattr(pair_counts, "MAX_CROSSINGS", 50)  # force many chunks
    total = np.zeros(len(index), dtype=np.int64)
    for part in range(3):
        mine = [r for r in rows if r[0] >> 40 == part]
        total += count_pairs(np.array([r[0] for r in mine]), np.array([r[1] for r in mine]),
                             index)
    order = {tuple(p): i for i, p in enumerate(index.pairs.tolist())}
    assert [int(total[order[p]]) for p in pairs] == brute_force(rows, pairs)


def test_empty_inputs():
    index = PairIndex.build([(1, 2)])
    assert count_pairs(np.array([], dtype=np.int64), np.array([], dtype=np.int64),
                       index).tolist() == [0]
    assert len(PairIndex.build([])) == 0
