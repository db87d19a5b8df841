"""bench/count.py at a tiny size: its synthetic tables and its version of the paper's method."""

from __future__ import annotations

import importlib.util
import sys
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from longtail.analysis.tables import read_table
from longtail.output.folder import OutputFolder
from longtail.qa.relevant import QAEntityLists, relevant_docs_table
from longtail.schemas.tables import (
    STATUS_COUNTED,
    STATUS_LINKING_FAILED,
    STATUS_NO_ANSWER_ENTITY,
    STATUS_NO_QUESTION_ENTITY,
    STATUS_ZERO,
)

BENCH = Path(__file__).resolve().parents[2] / "bench" / "count.py"
TABLES = ("doc_entities", "entity_uris", "qa_questions", "qa_entities")


def load_bench(name: str):
    spec = importlib.util.spec_from_file_location(name, BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    module.DOCS_PER_PART = 150  # several parts even at this size
    module.QUESTIONS_PER_PART = 120
    return module


@pytest.fixture(scope="module")
def bench():
    return load_bench("bench_count")


@pytest.fixture(scope="module")
def tiny(bench, tmp_path_factory) -> OutputFolder:
    root = tmp_path_factory.mktemp("count-bench")
    bench.generate(str(root), n_docs=400, n_questions=300, n_entities=600, seed=3)
    return OutputFolder(root)


def read(out: OutputFolder, table: str):
    return read_table(out, table)


def test_generator_is_reproducible_and_follows_its_seed(bench, tiny, tmp_path):
    again = OutputFolder(tmp_path / "again")
    bench.generate(again.location, n_docs=400, n_questions=300, n_entities=600, seed=3)
    for table in TABLES:
        assert read(again, table).equals(read(tiny, table)), table
    other = OutputFolder(tmp_path / "other")
    bench.generate(other.location, n_docs=400, n_questions=300, n_entities=600, seed=4)
    assert not read(other, "doc_entities").equals(read(tiny, "doc_entities"))
    assert len(tiny.committed_files("doc_entities")) == 3


def test_corpus_index_shape(tiny):
    rows = read(tiny, "doc_entities").to_pylist()
    pairs = [(r["doc_id"], r["entity_id"]) for r in rows]
    assert len(set(pairs)) == len(pairs)
    per_doc = Counter(doc for doc, _ in pairs)
    assert len(per_doc) == 400
    assert max(per_doc.values()) <= 30
    assert sorted(per_doc.values())[len(per_doc) // 10] >= 5  # repeats merge only a few
    assert min(r["mentions"] for r in rows) >= 1
    known = set(read(tiny, "entity_uris")["entity_id"].to_pylist())
    assert {e for _, e in pairs} <= known
    doc_freq = Counter(e for _, e in pairs)
    top = doc_freq.most_common()
    assert top[0][1] > 20 * top[len(top) // 2][1]  # a head and a long tail


def test_qa_mentions_point_at_their_surface_forms(tiny):
    questions = {r["question_id"]: r for r in read(tiny, "qa_questions").to_pylist()}
    by_question: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    for r in read(tiny, "qa_entities").to_pylist():
        q = questions[r["question_id"]]
        text = q["question"] + "\n" + "\n".join(q["answers"])
        assert text[r["offset"]:r["offset"] + len(r["surface_form"])] == r["surface_form"]
        assert (r["offset"] >= len(q["question"])) == (r["role"] == "answer")
        by_question[r["question_id"]][r["role"]].append(r["entity_id"])
    assert len(questions) == 300
    for qid, q in questions.items():
        roles = by_question.get(qid, {})
        if not q["linked"]:
            assert not roles
            continue
        assert len(roles.get("question", [])) <= 3
        assert 1 <= len(roles["answer"]) <= 4


def test_paper_method_matches_the_heuristic(bench, tiny):
    docs_of: dict[int, set[int]] = defaultdict(set)
    for r in read(tiny, "doc_entities").to_pylist():
        docs_of[r["entity_id"]].add(r["doc_id"])
    qa = QAEntityLists.from_tables(read(tiny, "qa_questions"), read(tiny, "qa_entities"))
    pair_docs = {(q, a): len(docs_of.get(q, set()) & docs_of.get(a, set()))
                 for q, a in qa.needed_pairs()}
    uri_table = read(tiny, "entity_uris")
    uris = dict(zip(uri_table["entity_id"].to_pylist(), uri_table["uri"].to_pylist(),
                    strict=True))
    expected = relevant_docs_table(qa, pair_docs, {e: len(d) for e, d in docs_of.items()},
                                   uris).to_pylist()

    entity_map = bench.sort_entity_map(bench.load_entity_map(tiny))
    assert entity_map.keys() == docs_of.keys()
    for e, docs in entity_map.items():
        assert docs.tolist() == sorted(docs_of[e])
    qa_lists = bench.load_qa_lists(tiny)
    paper = bench.paper_relevant_docs(entity_map, qa_lists)

    assert len(paper) == len(expected) == 300
    for row in expected:
        qid = row["question_id"]
        assert paper[qid] == (row["relevant_docs"] or 0), qid
        assert bench.paper_occurrences(entity_map, *qa_lists[qid]) == (
            row["q_docs"] or 0, row["a_docs"] or 0), qid

    statuses = Counter(row["status"] for row in expected)
    assert set(statuses) == {STATUS_COUNTED, STATUS_ZERO, STATUS_NO_ANSWER_ENTITY,
                             STATUS_NO_QUESTION_ENTITY, STATUS_LINKING_FAILED}
    counts = Counter(min(row["relevant_docs"], 10) for row in expected
                     if row["status"] == STATUS_COUNTED)
    assert counts[1] > 0 and counts[10] > 0  # pairs that co-occur rarely and often
