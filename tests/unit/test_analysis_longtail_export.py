"""`longtail export longtail` on the fixture: which facts are written, and the mixing data."""

from __future__ import annotations

import json
import re

import pytest

from longtail.errors import UsageError
from tests.unit.test_analysis_accuracy import run, table
from tests.unit.test_analysis_fixture import build_out, doc_id


def read_jsonl(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_facts_with_at_most_k_documents_include_zero(tmp_path, capsys):
    fixture = build_out(tmp_path)
    facts = tmp_path / "facts.jsonl"
    assert run(["export", "longtail", fixture.out.location, "--max-docs", "3",
                "--out", str(facts)]) == 0
    written = read_jsonl(facts)
    assert [(f["question_id"], f["relevant_docs"], f["status"]) for f in written] == [
        ("q1", 1, "counted"), ("q2", 3, "counted"), ("q5", 0, "zero")]
    assert written[0] == {"question_id": "q1", "question": "Which tower is in Paris?",
                          "answers": ["Eiffel Tower", "La tour Eiffel"], "relevant_docs": 1,
                          "q_uri": "http://dbpedia.org/resource/Q1",
                          "a_uri": "http://dbpedia.org/resource/A1", "status": "counted"}
    assert [r["question_id"] for r in table(fixture.out, "longtail_set")] == ["q1", "q2", "q5"]
    assert "3 QA pairs" in capsys.readouterr().out


def test_uncounted_only_when_asked(tmp_path):
    fixture = build_out(tmp_path)
    facts = tmp_path / "facts.jsonl"
    run(["export", "longtail", fixture.out.location, "--max-docs", "0", "--out", str(facts),
         "--include-uncounted"])
    assert {(f["question_id"], f["relevant_docs"]) for f in read_jsonl(facts)} == {
        ("q5", 0), ("q6", None), ("q7", None), ("q8", None)}


def test_random_word_mixing_draws_from_the_corpus_vocabulary(tmp_path):
    fixture = build_out(tmp_path)
    mix = tmp_path / "mix.jsonl"
    args = ["export", "longtail", fixture.out.location, "--max-docs", "3",
            "--out", str(tmp_path / "facts.jsonl"), "--mix", "random", "--ratio", "2",
            "--mix-out", str(mix), "--mix-length", "7", "--seed", "5"]
    run(args)
    first = read_jsonl(mix)
    assert len(first) == 6  # ratio 2 x 3 facts
    vocabulary = {w for text in fixture.texts.values() for w in re.findall(r"[a-zA-Z]+", text)}
    for record in first:
        words = record["text"].split()
        assert record["kind"] == "random" and len(words) == 7
        assert set(words) <= vocabulary
    run(args)
    assert read_jsonl(mix) == first  # seeded


def test_generic_documents_mention_none_of_the_facts_entities(tmp_path, capsys):
    fixture = build_out(tmp_path)
    mix = tmp_path / "mix.jsonl"
    run(["export", "longtail", fixture.out.location, "--max-docs", "3",
         "--out", str(tmp_path / "facts.jsonl"), "--mix", "generic", "--ratio", "1",
         "--mix-out", str(mix)])
    # q1, q2, q5 mention Q1/A1 (position 2), Q2/A2 (5, 8, 33), Q5 (0, 1) and A5 (2, 3)
    excluded = {doc_id(p) for p in (0, 1, 2, 3, 5, 8, 33)}
    records = read_jsonl(mix)
    assert len(records) == 3
    for record in records:
        assert record["kind"] == "generic" and record["doc_id"] not in excluded
        assert record["text"] == fixture.texts[record["doc_id"]]
    run(["export", "longtail", fixture.out.location, "--max-docs", "3",
         "--out", str(tmp_path / "facts.jsonl"), "--mix", "generic", "--ratio", "20",
         "--mix-out", str(mix)])
    everything = read_jsonl(mix)
    assert sorted(r["doc_id"] for r in everything) == sorted(
        doc_id(p) for p in range(40) if doc_id(p) not in excluded)
    assert "asked for 60" in capsys.readouterr().out


def test_mix_flags_go_together(tmp_path):
    fixture = build_out(tmp_path)
    with pytest.raises(UsageError, match="go together"):
        run(["export", "longtail", fixture.out.location, "--max-docs", "3",
             "--out", str(tmp_path / "f.jsonl"), "--mix", "random"])
