"""QA readers: every supported shape, malformed records as failures, wrong usage as one line."""

from __future__ import annotations

import json

import pytest

from longtail.errors import UsageError
from longtail.failures import FailureRecord
from longtail.qa.readers import QAPair, read_qa
from tests.conftest import shared_path


def split(records):
    records = list(records)
    return ([r for r in records if isinstance(r, QAPair)],
            [r for r in records if isinstance(r, FailureRecord)])


def test_nq_open_with_malformed_lines_keeps_rows_and_reasons(tmp_path):
    path = tmp_path / "nq.jsonl"
    path.write_bytes(
        b'{"question": "who wrote hamlet", "answer": ["Shakespeare", "William Shakespeare"]}\n'
        b'{"question": "broken", "answer": \n'
        b'{"answer": ["x"]}\n'
        b'\xff\xfe not utf-8\n'
        b'{"question": "q with empty answers", "answer": ["", "  "]}\n'
        b'["not", "an", "object"]\n'
        b'{"question": "capital of france", "answer": "Paris"}\n'
    )
    pairs, failures = split(read_qa([str(path)], "nq-open"))
    assert [(p.row, p.question_id, p.answers) for p in pairs] == [
        (0, "nq:0", ("Shakespeare", "William Shakespeare")),
        (6, "nq:6", ("Paris",)),
    ]
    assert [(f.row, f.reason) for f in failures] == [
        (1, "invalid_json"), (2, "missing_question"), (3, "not_utf8"),
        (4, "missing_answers"), (5, "not_an_object"),
    ]
    assert all(f.stage == "qa_read" and f.source == str(path) for f in failures)


def test_triviaqa_shapes(tmp_path):
    hf = tmp_path / "hf.jsonl"
    hf.write_text(json.dumps({"question": "Which planet?", "question_id": "tc_1",
                              "answer": {"value": "Mars", "aliases": ["Mars", "Red Planet"]}}))
    flat = tmp_path / "flat.jsonl"
    flat.write_text(json.dumps({"context": "Which river?", "answer": "Seine",
                                "aliases": ["River Seine"]}))
    original = tmp_path / "orig.json"
    original.write_text(json.dumps({"Data": [{"Question": "Who?", "QuestionId": "qz_9",
                                              "Answer": {"Value": "Ann", "Aliases": ["Anne"]}}]}))
    pairs, failures = split(read_qa([str(hf), str(flat), str(original)], "triviaqa"))
    assert not failures
    assert [(p.question_id, p.question, p.answers) for p in pairs] == [
        ("tc_1", "Which planet?", ("Mars", "Red Planet")),
        ("flat:0", "Which river?", ("Seine", "River Seine")),
        ("qz_9", "Who?", ("Ann", "Anne")),
    ]


def test_popqa_tsv_with_json_string_answers(tmp_path):
    path = tmp_path / "popqa.tsv"
    path.write_text("id\tquestion\tpossible_answers\n"
                    "7\tWhat is George Rankin's occupation?\t[\"politician\", \"MP\"]\n"
                    "8\tBad row\tnot json\n", encoding="utf-8")
    pairs, failures = split(read_qa([str(path)], "popqa"))
    assert [(p.question_id, p.answers) for p in pairs] == [("7", ("politician", "MP"))]
    assert [(f.row, f.reason) for f in failures] == [(1, "missing_answers")]


def test_generic_jsonl_fields(tmp_path):
    path = tmp_path / "mine.jsonl"
    path.write_text(json.dumps({"q": "Where is the Louvre?", "golds": ["Paris"]}) + "\n")
    pairs, _ = split(read_qa([str(path)], "jsonl", question_field="q", answers_field="golds"))
    assert pairs[0].answers == ("Paris",)


def test_wrong_usage_is_one_clear_error(tmp_path):
    with pytest.raises(UsageError, match="not found"):
        list(read_qa([str(tmp_path / "missing.jsonl")], "nq-open"))
    with pytest.raises(UsageError, match="unknown QA format"):
        list(read_qa([str(tmp_path)], "squad"))


def test_real_nq_open_and_entityquestions_read_completely():
    nq = shared_path("nq-open", "NQ-open.dev.jsonl")
    pairs, failures = split(read_qa([str(nq)], "nq-open"))
    assert len(pairs) == 3610 and not failures
    assert pairs[0].question == "when was the last time anyone was on the moon"
    eq = shared_path("entityquestions", "dev")
    pairs, failures = split(read_qa([str(eq)], "entityquestions"))
    files = sorted(eq.glob("*.json"))
    expected = sum(len(json.loads(f.read_text(encoding="utf-8"))) for f in files)
    assert len(pairs) == expected and not failures
    assert len({p.question_id for p in pairs}) == expected
    assert pairs[0].question_id == f"{files[0].stem}:0"
