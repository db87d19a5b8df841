"""`longtail analyze accuracy` on the fixture, whose bins and answers are known."""

from __future__ import annotations

import argparse
import json

import pytest

from longtail.analysis.accuracy import exact_match, normalize_answer
from longtail.analysis.bins import count_bin
from longtail.analysis.tables import read_table
from longtail.errors import UsageError
from longtail.jobs.cli import build_parser
from tests.unit.test_analysis_fixture import build_out

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def parse(argv: list[str]) -> argparse.Namespace:
    return build_parser().parse_args(argv)


def run(argv: list[str]) -> int:
    args = parse(argv)
    return args.handler(args)


def write_lines(path, lines):
    path.write_text("".join((line if isinstance(line, str) else json.dumps(line)) + "\n"
                            for line in lines), encoding="utf-8")
    return str(path)


def table(out, name):
    return read_table(out, name).to_pylist()


def test_normalisation_follows_squad_and_triviaqa():
    assert normalize_answer("The  Eiffel Tower!") == "eiffel tower"
    assert normalize_answer("an Apple, a day") == "apple day"
    assert normalize_answer("Eiffel-Tower") == "eiffeltower"
    assert normalize_answer("Eiffel-Tower", "triviaqa") == "eiffel tower"
    assert normalize_answer("Eiffel_Tower’s", "triviaqa") == "eiffel tower s"
    assert exact_match("the eiffel tower", ["Tower", "Eiffel Tower"])
    assert not exact_match("Eiffel", ["Eiffel Tower"])
    assert not exact_match("Eiffel-Tower", ["Eiffel Tower"])
    assert exact_match("Eiffel-Tower", ["Eiffel Tower"], "triviaqa")


def test_bins_have_exact_integer_edges():
    assert [count_bin(n).label for n in (0, 1, 9, 10, 99, 100, 999, 1000)] == [
        "0", "1-9", "1-9", "10-99", "10-99", "100-999", "100-999", "1000-9999"]
    assert (count_bin(1000).low, count_bin(1000).high) == (1000, 10000)
    assert count_bin(None).label == "uncounted"


def test_accuracy_per_bin_with_wilson_interval_and_spearman(tmp_path, capsys):
    fixture = build_out(tmp_path)
    preds = write_lines(tmp_path / "model-a.jsonl", [
        {"question_id": "q1", "prediction": "The Eiffel Tower!"},
        {"question_id": "q2", "prediction": "nobody"},
        {"question_id": "q3", "prediction": "answer three"},
        {"question_id": "q4", "prediction": "Answer Four"},
        {"question_id": "q5", "prediction": "wrong"},
        {"question_id": "q6", "prediction": "Answer Six"},
        {"row": 6, "prediction": "wrong"},  # q7, by QA row
        {"question_id": "q99", "prediction": "x"},
        "{not json",
        {"question_id": "q1", "prediction": "again"},
    ])
    plot = tmp_path / "plots" / "accuracy.png"
    assert run(["analyze", "accuracy", fixture.out.location, "--predictions", preds,
                "--min-bin-size", "2", "--plot", str(plot)]) == 0
    bins = {r["bin"]: r for r in table(fixture.out, "accuracy")}
    assert {b: (r["questions"], r["correct"]) for b, r in bins.items()} == {
        "0": (1, 0), "1-9": (1 + 1, 1), "10-99": (2, 2), "uncounted": (2, 1)}
    assert bins["1-9"]["accuracy"] == 0.5
    # Wilson, z = 1.96, 1 of 2: 0.5 -/+ 1.96 * sqrt(0.125 + 0.2401) / 2.9208
    assert bins["1-9"]["ci_low"] == pytest.approx(0.0945, abs=1e-4)
    assert bins["1-9"]["ci_high"] == pytest.approx(0.9055, abs=1e-4)
    assert bins["10-99"]["ci_low"] == pytest.approx(0.3424, abs=1e-4)
    assert bins["0"]["small"] and not bins["1-9"]["small"]
    assert (bins["10-99"]["bin_low"], bins["10-99"]["bin_high"]) == (10, 100)
    summary = table(fixture.out, "accuracy_summary")[0]
    assert (summary["lines"], summary["scored"], summary["unmatched"], summary["bad_lines"],
            summary["duplicates"], summary["missing"], summary["ambiguous"],
            summary["format"]) == (10, 7, 1, 1, 1, 1, 0, "jsonl")
    # ranks of counts (1,3,12,15,0) and of correctness (1,0,1,1,0): 5 / sqrt(10 * 7.5)
    assert summary["spearman_rho"] == pytest.approx(0.57735, abs=1e-5)
    assert summary["spearman_n"] == 5
    per_question = {r["question_id"]: r["correct"] for r in table(fixture.out,
                                                                  "accuracy_questions")}
    assert per_question == {"q1": True, "q2": False, "q3": True, "q4": True, "q5": False,
                            "q6": True, "q7": False}
    printed = capsys.readouterr().out
    assert "q99" in printed and ":9: skipped: not JSON" in printed
    data = plot.read_bytes()
    assert data.startswith(PNG_MAGIC) and len(data) > 10_000


def test_one_line_per_predictions_file(tmp_path):
    fixture = build_out(tmp_path)
    first = write_lines(tmp_path / "first.jsonl",
                        [{"question_id": q, "prediction": "x"} for q in ("q1", "q3")])
    second = write_lines(tmp_path / "second.jsonl",
                         [{"question_id": "q3", "prediction": "Answer Three"}])
    run(["analyze", "accuracy", fixture.out.location, "--predictions", first, second,
         "--labels", "small", "large"])
    rows = {(r["predictions"], r["bin"]): r["accuracy"] for r in table(fixture.out, "accuracy")}
    assert rows == {("small", "1-9"): 0.0, ("small", "10-99"): 0.0, ("large", "10-99"): 1.0}
    summary = {r["predictions"]: r for r in table(fixture.out, "accuracy_summary")}
    assert summary["large"]["spearman_rho"] is None  # one question: no correlation


def test_wrong_usage_is_a_usage_error(tmp_path):
    fixture = build_out(tmp_path)
    preds = write_lines(tmp_path / "p.jsonl", [{"question_id": "q1", "prediction": "x"}])
    with pytest.raises(UsageError, match="2 labels for 1"):
        run(["analyze", "accuracy", fixture.out.location, "--predictions", preds,
             "--labels", "a", "b"])
    with pytest.raises(UsageError, match="cannot read predictions"):
        run(["analyze", "accuracy", fixture.out.location, "--predictions",
             str(tmp_path / "missing.jsonl")])
    with pytest.raises(UsageError, match="must end in .png"):
        run(["analyze", "accuracy", fixture.out.location, "--predictions", preds,
             "--plot", str(tmp_path / "plot.jpg")])
    with pytest.raises(UsageError, match="output folder not found"):
        run(["analyze", "accuracy", str(tmp_path / "nowhere"), "--predictions", preds])
