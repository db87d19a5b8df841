"""The index stage's tables in one DuckDB pass, checked against counts made in plain Python."""

from __future__ import annotations

import random
from collections import Counter
from itertools import combinations

import pyarrow as pa

from longtail.indexes.postings import FILE_ROWS
from longtail.indexes.tables import build_index, doc_ranges
from longtail.schemas.tables import ENTITY_URIS


def synthetic(seed: int = 3, docs: int = 300) -> tuple[pa.Table, pa.Table, list[tuple]]:
    rnd = random.Random(seed)
    rows = []
    for doc in range(docs):
        for _ in range(rnd.randint(0, 12)):
            rows.append(((doc // 100) << 40 | doc, rnd.choice(range(1, 40))))
    rnd.shuffle(rows)
    mentions = pa.table({"doc_id": [d for d, _ in rows], "entity_id": [e for _, e in rows]})
    uris = pa.table({"entity_id": list(range(1, 40)) + [5],
                     "uri": [f"http://x/E{e:02d}" for e in range(1, 40)] + ["http://x/E05"],
                     "support": list(range(100, 139)) + [999],
                     "types": [["T"] if e % 2 else [] for e in range(1, 40)] + [["T"]]},
                    schema=ENTITY_URIS)
    return mentions, uris, rows


def expected_pairs(rows: list[tuple], cap: int, least: int) -> tuple[dict, int, int]:
    per_doc: dict[int, Counter] = {}
    for doc, entity in rows:
        per_doc.setdefault(doc, Counter())[entity] += 1
    pairs: Counter = Counter()
    capped = left_out = 0
    for counts in per_doc.values():
        ranked = sorted(counts, key=lambda e: (-counts[e], e))
        if cap and len(ranked) > cap:
            capped += 1
            left_out += len(ranked) - cap
            ranked = ranked[:cap]
        pairs.update(combinations(sorted(ranked), 2))
    return {p: n for p, n in pairs.items() if n >= least}, capped, left_out


def test_tables_match_plain_counts():
    mentions, uris, rows = synthetic()
    for cap, least in ((0, 1), (3, 2), (5, 1)):
        built = build_index(mentions, uris, min_cooccurrence=least, max_entities_per_doc=cap,
                            doc_entity_files=3)
        counts = Counter(rows)
        doc_entities = pa.concat_tables(built.doc_entities)
        assert list(zip(*doc_entities.to_pydict().values(), strict=True)) == sorted(
            (d, e, n) for (d, e), n in counts.items())
        assert len(built.doc_entities) == 3
        ranges = [(t["doc_id"][0].as_py(), t["doc_id"][-1].as_py()) for t in built.doc_entities]
        assert all(a[1] < b[0] for a, b in zip(ranges, ranges[1:], strict=False))
        entity_docs = pa.concat_tables(built.entity_docs)
        assert list(zip(*entity_docs.to_pydict().values(), strict=True)) == sorted(
            (e, d) for d, e in counts)
        entities = built.entities.to_pylist()
        assert [e["uri"] for e in entities] == sorted(f"http://x/E{e:02d}" for e in range(1, 40))
        by_id = {e["entity_id"]: e for e in entities}
        assert by_id[5]["support"] == 999
        for entity in range(1, 40):
            docs = {d for d, e in counts if e == entity}
            assert by_id[entity]["doc_count"] == len(docs)
            assert by_id[entity]["mention_count"] == sum(n for (d, e), n in counts.items()
                                                         if e == entity)
        pairs, capped, left_out = expected_pairs(rows, cap, least)
        got = {(r["entity_a"], r["entity_b"]): r["doc_count"]
               for r in built.cooccurrence.to_pylist()}
        assert got == pairs
        assert [(r["entity_a"], r["entity_b"]) for r in built.cooccurrence.to_pylist()] == \
            sorted(got)
        assert built.stats == {"entities": 39, "doc_entities": len(counts),
                               "cooccurrence_pairs": len(pairs), "max_entities_per_doc": cap,
                               "docs_capped": capped, "entities_left_out_of_pairs": left_out}


def test_an_entity_id_with_two_uris_is_reported_not_built():
    mentions, uris, _ = synthetic()
    clash = pa.concat_tables([uris, pa.table({"entity_id": [7], "uri": ["http://x/Other"],
                                              "support": [1], "types": [[]]},
                                             schema=ENTITY_URIS)])
    built = build_index(mentions, clash, min_cooccurrence=1, max_entities_per_doc=0)
    assert built.collisions == 1 and built.entities is None and not built.doc_entities


def test_doc_ranges_cut_at_document_starts():
    table = pa.table({"doc_id": [1, 1, 1, 2, 3, 3, 3, 3, 4, 9]})
    parts = doc_ranges(table, 3)
    assert [p["doc_id"].to_pylist() for p in parts] == [[1, 1, 1], [2], [3, 3, 3, 3, 4, 9]]
    assert [p["doc_id"].to_pylist() for p in doc_ranges(table, 20)] == [
        [1, 1, 1], [2], [3, 3, 3, 3], [4], [9]]
    assert doc_ranges(table.slice(0, 0), 4)[0].num_rows == 0
    assert FILE_ROWS > 0
