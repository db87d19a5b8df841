"""Every analysis command on the bundled sample's demo output, through the real CLI."""

from __future__ import annotations

import json
import shutil

import duckdb
import numpy as np
import pyarrow.parquet as pq
import pytest

from tests.e2e.conftest import longtail


@pytest.fixture
def out(demo, tmp_path):
    """A private copy of the demo output, so that analyses do not change the shared one."""
    copy = tmp_path / "out"
    shutil.copytree(demo[0], copy)
    return copy


def relevant(out) -> list[dict]:
    return pq.read_table(out / "relevant_docs").to_pylist()


def ok(result):
    assert result.returncode == 0, result.stderr[-2000:]
    return result


def test_accuracy_bins_match_predictions_written_to_be_right_or_wrong(out, tmp_path):
    rows = relevant(out)
    # Right on every question with 10 or more relevant documents, wrong on all others.
    predictions = tmp_path / "model.jsonl"
    predictions.write_text("".join(json.dumps({
        "question_id": r["question_id"],
        "prediction": r["answers"][0] if (r["relevant_docs"] or 0) >= 10 else "no idea",
    }) + "\n" for r in rows))
    plot = tmp_path / "accuracy.png"
    ok(longtail("analyze", "accuracy", str(out), "--predictions", str(predictions),
                "--plot", str(plot)))
    table = {r["bin"]: r for r in pq.read_table(out / "accuracy").to_pylist()}
    assert table["10-99"]["accuracy"] == 1.0
    assert table["1-9"]["accuracy"] == 0.0 and table["0"]["accuracy"] == 0.0
    assert table["10-99"]["questions"] == sum(1 for r in rows if (r["relevant_docs"] or 0) >= 10)
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_counterfactual_removes_exactly_the_relevant_documents(out, tmp_path):
    corpus = tmp_path / "without"
    ok(longtail("counterfactual", str(out), "--per-bin", "2", "--seed", "1",
                "--write-corpus", str(corpus)))
    removed = set(pq.read_table(out / "counterfactual_removed")["doc_id"].to_pylist())
    chosen = pq.read_table(out / "counterfactual_questions").to_pylist()
    assert chosen and removed
    with duckdb.connect() as con:
        for q in chosen:
            docs = {d for (d,) in con.execute(
                f"SELECT a.doc_id FROM read_parquet('{out}/doc_entities/*.parquet') a "
                f"JOIN read_parquet('{out}/doc_entities/*.parquet') b USING (doc_id) "
                f"JOIN read_parquet('{out}/entities/*.parquet') ea ON ea.entity_id = a.entity_id "
                f"JOIN read_parquet('{out}/entities/*.parquet') eb ON eb.entity_id = b.entity_id "
                "WHERE ea.uri = ? AND eb.uri = ?", [q["q_uri"], q["a_uri"]]).fetchall()}
            assert docs <= removed
    [written] = list(corpus.rglob("*.jsonl"))
    assert len(written.read_text().splitlines()) == 314 - len(removed)


def test_duplicates_and_unique_relevant_documents(out):
    ok(longtail("duplicates", str(out)))
    unique = {r["question_id"]: r for r in pq.read_table(out / "relevant_docs_unique").to_pylist()}
    for r in relevant(out):
        if r["relevant_docs"]:
            assert 1 <= unique[r["question_id"]]["relevant_docs_unique"] <= r["relevant_docs"]


def test_exposure_positions_and_gaps(out, tmp_path):
    plot = tmp_path / "gaps.png"
    ok(longtail("exposure", str(out), "--docs-per-step", "10", "--plot", str(plot)))
    rows = pq.read_table(out / "exposure").to_pylist()
    counted = {r["question_id"]: r["relevant_docs"] for r in relevant(out) if r["relevant_docs"]}
    assert {r["question_id"] for r in rows} == set(counted)
    for r in rows:
        positions = r["positions"]
        assert len(positions) == counted[r["question_id"]]
        assert positions == sorted(positions)
        assert r["position_gaps"] == np.diff(positions).tolist()
    assert plot.stat().st_size > 1000


def test_long_tail_export_and_mixing_data(out, tmp_path):
    facts, mix = tmp_path / "facts.jsonl", tmp_path / "mix.jsonl"
    ok(longtail("export", "longtail", str(out), "--max-docs", "5", "--out", str(facts),
                "--mix", "generic", "--ratio", "1", "--mix-out", str(mix)))
    written = [json.loads(line) for line in facts.read_text().splitlines()]
    expected = [r for r in relevant(out) if r["relevant_docs"] is not None
                and r["relevant_docs"] <= 5]
    assert sorted(w["question"] for w in written) == sorted(r["question"] for r in expected)
    assert len(mix.read_text().splitlines()) >= 1


def test_paper_format_round_trip_gives_the_same_counts(out, tmp_path):
    npz, qa_entities = tmp_path / "sample_entity_map.npz", tmp_path / "sample_entities.jsonl"
    ok(longtail("export", "paper", str(out), "--entity-map", str(npz),
                "--qa-entities", str(qa_entities)))
    from longtail.sample import SAMPLE_QA

    imported = tmp_path / "imported"
    ok(longtail("import", "paper", "--entity-map", str(npz), "--qa-entities", str(qa_entities),
                "--qa", str(SAMPLE_QA), "--qa-format", "nq-open", "--out", str(imported)))
    ok(longtail("count", "--out", str(imported), "--master", "local[2]"))
    ours = {r["row"]: (r["status"], r["relevant_docs"]) for r in relevant(out)}
    theirs = {r["row"]: (r["status"], r["relevant_docs"]) for r in relevant(imported)}
    assert theirs == ours
