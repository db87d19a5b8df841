"""`longtail duplicates` on the fixture, whose duplicate clusters are known."""

from __future__ import annotations

import pyarrow as pa
import pytest

from longtail.analysis.duplicates import SNIPPET_CHARS, find_duplicates, shingles, snippet
from longtail.analysis.tables import read_table
from longtail.corpus import Document
from longtail.errors import UsageError
from longtail.output.runner import commit_stage
from tests.unit.test_analysis_accuracy import run, table
from tests.unit.test_analysis_fixture import B, build_out


def test_clusters_kinds_and_unique_relevant_documents(tmp_path, capsys):
    fixture = build_out(tmp_path)
    assert run(["duplicates", fixture.out.location]) == 0
    rows = table(fixture.out, "duplicates")
    clusters: dict[int, dict[int, str]] = {}
    for r in rows:
        clusters.setdefault(r["cluster_id"], {})[r["doc_id"]] = r["kind"]
    assert clusters == {
        12: {12: "exact", 14: "exact"},
        24: {24: "exact", 26: "exact", 25: "near", 27: "near"},
        B | 6: {B | 6: "exact", B | 7: "exact"},
    }
    unique = {r["question_id"]: (r["relevant_docs"], r["relevant_docs_unique"])
              for r in table(fixture.out, "relevant_docs_unique")}
    # q3's documents hold the pair 12/14, q4's the four-document cluster 24-27
    assert unique == {"q1": (1, 1), "q2": (3, 3), "q3": (12, 11), "q4": (15, 12), "q5": (0, 0)}
    printed = capsys.readouterr().out
    assert "documents in clusters" in printed and "largest clusters" in printed
    stats = fixture.out.record("duplicates").stats
    assert stats["clusters"] == 3 and stats["documents_in_clusters"] == len(rows)
    assert stats["questions_with_duplicate_relevant_docs"] == 2  # q3 and q4
    assert stats["documents"] >= len(rows)


def test_near_duplicates_need_the_threshold():
    base = " ".join(f"word{i}" for i in range(40))
    docs = [Document(1, "s", 0, base), Document(2, "s", 1, base.replace("word39", "other")),
            Document(3, "s", 2, base.replace("word20", "other"))]
    loose = find_duplicates(docs, threshold=0.5)
    assert sorted(loose.table["doc_id"].to_pylist()) == [1, 2, 3]
    # changing word 20 alters 5 of 36 shingles: Jaccard 31/41 = 0.76, below 0.9
    strict = find_duplicates(docs, threshold=0.9)
    assert sorted(strict.table["doc_id"].to_pylist()) == [1, 2]
    assert set(strict.table["kind"].to_pylist()) == {"near"}


def test_short_and_empty_texts():
    assert shingles("one two", 5) == [b"one two"]
    assert shingles("", 5) == []
    report = find_duplicates([Document(1, "s", 0, "  "), Document(2, "s", 1, "\n"),
                              Document(3, "s", 2, "Hi there"), Document(4, "s", 3, "hi  THERE")])
    assert report.empty == 2 and report.documents == 4
    assert report.table.to_pylist() == [{"doc_id": 3, "cluster_id": 3, "kind": "exact"},
                                        {"doc_id": 4, "cluster_id": 3, "kind": "exact"}]


def test_bad_options_are_usage_errors(tmp_path):
    with pytest.raises(UsageError, match="threshold"):
        find_duplicates([], threshold=1.5)
    with pytest.raises(UsageError, match="shingle"):
        find_duplicates([], shingle=0)
    fixture = build_out(tmp_path)
    fixture.out.delete_record("link")
    fixture.out.write_plan("link", {})  # a link run that started and stopped
    with pytest.raises(UsageError, match="docs is stale: `link` stopped before it finished"):
        run(["duplicates", fixture.out.location])


def test_the_report_shows_each_cluster_s_own_text():
    docs = [Document(1, "s", 0, "The  EIFFEL Tower,\nin Paris."),
            Document(2, "s", 1, "the eiffel tower, in paris.")]
    report = find_duplicates(docs)
    assert report.snippets == {1: "The EIFFEL Tower, in Paris."}
    long = "Word " * 40
    assert snippet(long) == ("Word " * 14).rstrip() + "..."
    assert len(snippet(long)) == SNIPPET_CHARS - 1 + len("...")


def test_questions_sharing_an_id_are_kept_apart(tmp_path):
    fixture = build_out(tmp_path)
    relevant = read_table(fixture.out, "relevant_docs")
    ids = ["q3" if qid == "q4" else qid for qid in relevant["question_id"].to_pylist()]
    shared = relevant.set_column(relevant.schema.get_field_index("question_id"),
                                 relevant.schema.field("question_id"), pa.array(ids))
    commit_stage(fixture.out, "count", {"relevant_docs": shared},
                 reads=["doc_entities", "qa_questions", "qa_entities"])
    assert run(["duplicates", fixture.out.location]) == 0
    unique = [(r["question_id"], r["source"], r["row"], r["relevant_docs"],
               r["relevant_docs_unique"]) for r in table(fixture.out, "relevant_docs_unique")]
    # rows 2 and 3 share the id q3: 12 documents in 11 clusters, 15 documents in 12 clusters
    assert unique == [("q1", "qa.jsonl", 0, 1, 1), ("q2", "qa.jsonl", 1, 3, 3),
                      ("q3", "qa.jsonl", 2, 12, 11), ("q3", "qa.jsonl", 3, 15, 12),
                      ("q5", "qa.jsonl", 4, 0, 0)]
