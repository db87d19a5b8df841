"""Predictions from lm-evaluation-harness `--log_samples` files (made by the real harness, see
tests/fixtures/lm_eval/README.md) and questions that share an id."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from longtail.analysis.predictions import detect_format
from longtail.analysis.tables import read_table
from longtail.jobs.cli import build_parser
from longtail.sample import SAMPLE_QA
from tests.sample_outputs import build_sample_out, sample_outputs

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "lm_eval"
TRIVIAQA_QA = FIXTURES / "sample-triviaqa.jsonl"
[TRIVIAQA_SAMPLES] = FIXTURES.glob("samples_longtail_sample_triviaqa_*.jsonl")
[NQ_SAMPLES] = FIXTURES.glob("samples_longtail_sample_nq_open_*.jsonl")


def run(argv: list[str]) -> int:
    """A `longtail` command, in this process."""
    args = build_parser().parse_args(argv)
    return args.handler(args)


def samples(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def scored(out, label: str | None = None) -> dict[int, dict]:
    rows = read_table(out, "accuracy_questions").to_pylist()
    return {r["row"]: r for r in rows if label is None or r["predictions"] == label}


@pytest.fixture(scope="module")
def trivia_out(tmp_path_factory):
    """The sample corpus with the twelve TriviaQA-shaped questions (rows 2 and 7 share the
    id tc_2227)."""
    outs = sample_outputs()
    return build_sample_out(tmp_path_factory.mktemp("trivia") / "out", outs.model, 0.4,
                            qa_files=[str(TRIVIAQA_QA)], qa_format="triviaqa")


def test_the_fixtures_are_harness_samples():
    assert detect_format(str(TRIVIAQA_SAMPLES)) == "lm-eval"
    assert detect_format(str(NQ_SAMPLES)) == "lm-eval"
    assert detect_format(str(SAMPLE_QA)) == "jsonl"
    values = [s["exact_match"] for s in samples(NQ_SAMPLES)]
    assert len(values) == 66 and 0 < sum(values) < 66  # the harness scored a mix


def test_nq_open_samples_match_by_question_text_and_keep_the_harness_metric(capsys, tmp_path):
    out = sample_outputs().strict
    copy = tmp_path / "out"
    import shutil

    shutil.copytree(out.location, copy)
    plot = tmp_path / "accuracy.png"
    assert run(["analyze", "accuracy", str(copy), "--predictions", str(NQ_SAMPLES),
                "--labels", "dummy", "--plot", str(plot)]) == 0
    from longtail.output.folder import OutputFolder

    folder = OutputFolder(str(copy))
    got = scored(folder)
    qa = [json.loads(line) for line in SAMPLE_QA.read_text().splitlines()]
    expected = {}
    for sample in samples(NQ_SAMPLES):  # doc_id is the row in the sample QA file
        assert sample["doc"]["question"] == qa[sample["doc_id"]]["question"]
        expected[sample["doc_id"]] = (bool(sample["exact_match"]),
                                      sample["filtered_resps"][0])
    assert {row: (r["correct"], r["prediction"]) for row, r in got.items()} == expected
    [summary] = read_table(folder, "accuracy_summary").to_pylist()
    assert (summary["format"], summary["lines"], summary["scored"], summary["unmatched"],
            summary["ambiguous"]) == ("lm-eval", 66, 66, 0, 0)
    assert summary["correct"] == sum(v for v, _ in expected.values())
    printed = capsys.readouterr().out
    assert f"{NQ_SAMPLES} (lm-eval): 66 lines, 66 matched a question (66 by text)" in printed
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_triviaqa_samples_match_by_id_and_shared_ids_by_text(trivia_out, capsys):
    assert run(["analyze", "accuracy", trivia_out.location, "--predictions",
                str(TRIVIAQA_SAMPLES), str(NQ_SAMPLES), "--labels", "tqa", "nq"]) == 0
    printed = capsys.readouterr().out
    assert "12 lines, 12 matched a question (10 by id, 2 by id and text)" in printed
    # the NQ-open task holds all 66 sample questions; this folder has the first twelve
    assert "66 lines, 12 matched a question (12 by text)" in printed
    assert "54 lines match no question of the output folder" in printed
    got = scored(trivia_out, "tqa")
    expected = {s["doc_id"]: bool(s["exact_match"]) for s in samples(TRIVIAQA_SAMPLES)}
    assert {row: r["correct"] for row, r in got.items()} == expected
    assert got[2]["question_id"] == got[7]["question_id"] == "tc_2227"
    assert got[2]["correct"] != got[7]["correct"]  # each keeps its own result


def test_questions_sharing_an_id_keep_their_own_results(trivia_out, tmp_path, capsys):
    rd = {r["row"]: r for r in read_table(trivia_out, "relevant_docs").to_pylist()}
    assert rd[2]["question_id"] == rd[7]["question_id"]
    by_row = tmp_path / "by-row.jsonl"
    by_row.write_text("".join(json.dumps({"row": row, "prediction": answer}) + "\n" for row,
                              answer in ((2, rd[2]["answers"][0]), (7, "wrong"))))
    by_id = tmp_path / "by-id.jsonl"
    by_id.write_text("".join(json.dumps({"question_id": qid, "prediction": answer}) + "\n"
                             for qid, answer in (("tc_2227", rd[2]["answers"][0]),
                                                 (rd[0]["question_id"], rd[0]["answers"][0]))))
    assert run(["analyze", "accuracy", trivia_out.location, "--predictions", str(by_row),
                str(by_id)]) == 0
    rows = scored(trivia_out, "by-row")
    assert {row: r["correct"] for row, r in rows.items()} == {2: True, 7: False}
    assert set(scored(trivia_out, "by-id")) == {0}  # the shared id is not guessed
    summary = {r["predictions"]: r for r in read_table(trivia_out,
                                                       "accuracy_summary").to_pylist()}
    assert (summary["by-id"]["ambiguous"], summary["by-id"]["scored"]) == (1, 1)
    printed = capsys.readouterr().out
    assert "1 lines skipped as ambiguous: their id names several questions" in printed
    assert "'tc_2227'" in printed


def test_format_and_metric_can_be_named(trivia_out, capsys):
    assert run(["analyze", "accuracy", trivia_out.location, "--predictions",
                str(TRIVIAQA_SAMPLES), "--predictions-format", "jsonl"]) == 0
    [summary] = read_table(trivia_out, "accuracy_summary").to_pylist()
    assert (summary["format"], summary["scored"], summary["bad_lines"]) == ("jsonl", 0, 12)
    assert "skipped: no string field 'prediction'" in capsys.readouterr().out
    assert run(["analyze", "accuracy", trivia_out.location, "--predictions",
                str(TRIVIAQA_SAMPLES), "--metric", "f1"]) == 0
    [summary] = read_table(trivia_out, "accuracy_summary").to_pylist()
    assert (summary["scored"], summary["bad_lines"]) == (0, 12)
    assert "no metric 'f1' (the sample has: exact_match); name one with --metric" in \
        capsys.readouterr().out
