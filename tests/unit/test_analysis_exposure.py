"""`longtail exposure` on the fixture, whose document positions and sizes are known."""

from __future__ import annotations

import pytest

from longtail.errors import UsageError
from tests.unit.test_analysis_accuracy import PNG_MAGIC, run, table
from tests.unit.test_analysis_fixture import build_out


def by_question(out):
    return {r["question_id"]: r for r in table(out, "exposure")}


def test_positions_and_gaps_in_documents(tmp_path):
    fixture = build_out(tmp_path)
    plot = tmp_path / "gaps.png"
    assert run(["exposure", fixture.out.location, "--plot", str(plot)]) == 0
    rows = by_question(fixture.out)
    assert set(rows) == {"q1", "q2", "q3", "q4"}
    assert rows["q2"]["positions"] == [5, 8, 33]  # b.jsonl row 3 comes after a.jsonl's 30 rows
    assert rows["q2"]["position_gaps"] == [3, 25]
    assert (rows["q4"]["first_position"], rows["q4"]["last_position"]) == (20, 34)
    assert rows["q4"]["position_gaps"] == [1] * 14
    assert rows["q1"]["position_gaps"] == []
    assert rows["q2"]["steps"] is None and rows["q2"]["first_step"] is None
    data = plot.read_bytes()
    assert data.startswith(PNG_MAGIC) and len(data) > 10_000


def test_documents_per_step(tmp_path):
    fixture = build_out(tmp_path)
    run(["exposure", fixture.out.location, "--docs-per-step", "4"])
    q2 = by_question(fixture.out)["q2"]
    assert q2["steps"] == [1, 2, 8]
    assert q2["step_gaps"] == [1, 6]


def test_tokens_per_step_from_characters(tmp_path, capsys):
    fixture = build_out(tmp_path)
    run(["exposure", fixture.out.location, "--tokens-per-step", "250",
         "--tokens-per-char", "0.25"])
    rows = by_question(fixture.out)
    # a.jsonl documents are 100 tokens, b.jsonl documents 200: position 33 starts at token
    # 3,000 + 3 x 200 = 3,600, in step 14
    assert rows["q2"]["steps"] == [2, 3, 14]
    assert rows["q2"]["step_gaps"] == [1, 11]
    assert (rows["q1"]["first_step"], rows["q1"]["last_step"]) == (0, 0)
    assert rows["q4"]["last_step"] == (3000 + 4 * 200) // 250
    assert "training steps" in capsys.readouterr().out


def test_step_flags_are_exclusive_and_positive(tmp_path):
    fixture = build_out(tmp_path)
    with pytest.raises(UsageError, match="not both"):
        run(["exposure", fixture.out.location, "--docs-per-step", "2",
             "--tokens-per-step", "9"])
    with pytest.raises(UsageError, match="at least 1"):
        run(["exposure", fixture.out.location, "--docs-per-step", "0"])


def test_questions_sharing_an_id_keep_their_own_documents(tmp_path):
    """Rows 2 and 7 of the TriviaQA-shaped fixture share the id tc_2227."""
    import glob
    import os

    import pyarrow.parquet as pq

    from tests.sample_outputs import build_sample_out, sample_outputs
    from tests.unit.test_analysis_predictions import TRIVIAQA_QA

    out = build_sample_out(tmp_path / "out", sample_outputs().model, 0.4,
                           qa_files=[str(TRIVIAQA_QA)], qa_format="triviaqa")
    assert run(["exposure", out.location]) == 0
    rows = {r["row"]: r for r in table(out, "exposure")}
    assert rows[2]["question_id"] == rows[7]["question_id"] == "tc_2227"

    def parquet(name):
        files = sorted(glob.glob(os.path.join(out.location, name, "*.parquet")))
        return [r for f in files for r in pq.read_table(f).to_pylist()]

    uri_of = {r["entity_id"]: r["uri"] for r in parquet("entities")}
    docs_of: dict[str, set[int]] = {}
    for r in parquet("doc_entities"):
        docs_of.setdefault(uri_of[r["entity_id"]], set()).add(r["doc_id"])
    position = {r["doc_id"]: r["row"] for r in parquet("docs")}  # one corpus file
    for r in parquet("relevant_docs"):
        if r["status"] != "counted":
            assert r["row"] not in rows
            continue
        expected = sorted(position[d] for d in docs_of[r["q_uri"]] & docs_of[r["a_uri"]])
        assert rows[r["row"]]["positions"] == expected
        assert rows[r["row"]]["relevant_docs"] == r["relevant_docs"] == len(expected)
    assert rows[2]["positions"] != rows[7]["positions"]


def test_the_legend_names_every_bin():
    import pyarrow as pa

    from longtail.analysis.exposure import StepSize, gap_series

    data = pa.table({"relevant_docs": [1, 2, 30, 40], "position_gaps": [[], [0], [5] * 29,
                                                                        [0] * 39]})
    names = [name for name, _ in gap_series(data, StepSize())]
    assert names == ["1-9 relevant docs: 2 questions, no gap to draw (all 1 gaps are 0)",
                     "10-99 relevant docs: 2 questions, 39 of 68 gaps are 0"]
    single = pa.table({"relevant_docs": [1], "position_gaps": [[]]})
    assert [n for n, _ in gap_series(single, StepSize())] == [
        "1-9 relevant docs: 1 questions, no gap to draw (one document each)"]
