"""Counting on imported paper files gives what the paper's method gives on those files.

The reference is computed here straight from the .npz and the QA entity lines with plain
Python sets: per-entity document lists, their intersections, and the rules of the heuristic
(question entities as a set, answer mentions not among them, the most-mentioned answers,
the largest intersection over the pairs).
"""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pyarrow.dataset as ds
import pytest

from longtail.stage_config import CountConfig
from tests.spark.stages import run_count
from tests.unit.test_analysis_paper_formats import import_archive, run

pytestmark = pytest.mark.spark


def reference_counts(npz, entity_lines) -> list[dict]:
    archive = np.load(npz)
    docs = {uri: set(archive[uri].tolist()) for uri in archive.files}
    results = []
    for line in entity_lines:
        record = json.loads(line)
        questions = {e["URI"] for e in record["q_entities"]}
        answers = [e["URI"] for e in record["a_entities"] if e["URI"] not in questions]
        counts = Counter(answers)
        salient = [a for a, n in counts.items() if n == max(counts.values())] if counts else []
        q_docs = max((len(docs.get(q, ())) for q in questions), default=None)
        a_docs = max((len(docs.get(a, ())) for a in set(answers)), default=None)
        if not questions:
            results.append({"status": "no question entity", "relevant_docs": None,
                            "q_docs": q_docs, "a_docs": a_docs})
            continue
        if not answers:
            results.append({"status": "no answer entity", "relevant_docs": None,
                            "q_docs": q_docs, "a_docs": a_docs})
            continue
        best = max(len(docs.get(q, set()) & docs.get(a, set()))
                   for q in questions for a in salient)
        results.append({"status": "counted" if best else "zero", "relevant_docs": best,
                        "q_docs": q_docs, "a_docs": a_docs})
    return results


def test_counts_on_imported_files_match_the_reference(spark, tmp_path):
    out, npz, _, entities = import_archive(tmp_path)
    run_count(spark, CountConfig(), str(out))
    table = ds.dataset(str(out / "relevant_docs")).to_table().sort_by("row").to_pylist()
    lines = entities.read_text(encoding="utf-8").splitlines()
    expected = reference_counts(npz, lines)
    got = [{k: r[k] for k in ("status", "relevant_docs", "q_docs", "a_docs")} for r in table]
    assert got == expected
    # the archive was built to cover every status, and a tie between salient answers (row 5)
    assert Counter(r["status"] for r in got) == {"counted": 3, "zero": 2,
                                                 "no question entity": 1, "no answer entity": 1}
    assert (table[5]["relevant_docs"], table[5]["a_uri"]) == (
        3, "http://dbpedia.org/resource/Paris")
    archive = np.load(npz)
    for row in table:
        if row["status"] == "counted":  # the winning pair really has that many documents
            shared = set(archive[row["q_uri"]].tolist()) & set(archive[row["a_uri"]].tolist())
            assert len(shared) == row["relevant_docs"]


def test_our_export_with_shared_ids_counts_the_same_with_the_papers_method(spark, tmp_path):
    """Questions that share an id (TriviaQA has them) are exported with their own entities,
    so the paper's method on our export gives our counts, row by row."""
    out, npz, _, _ = import_archive(tmp_path, shared_id=True)
    run_count(spark, CountConfig(), str(out))
    exported = tmp_path / "exported.jsonl"
    assert run(["export", "paper", str(out), "--qa-entities", str(exported)]) == 0
    table = ds.dataset(str(out / "relevant_docs")).to_table().sort_by("row").to_pylist()
    theirs = reference_counts(npz, exported.read_text(encoding="utf-8").splitlines())
    assert [r["relevant_docs"] for r in table] == [r["relevant_docs"] for r in theirs]
    assert [r["question_id"] for r in table].count("shared") == 3
