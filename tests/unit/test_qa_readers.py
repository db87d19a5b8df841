"""QA readers: every supported shape, malformed records as failures, wrong usage as one line."""

from __future__ import annotations

import json

import pytest

from longtail.errors import UsageError
from longtail.output.failures import FailureRecord
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


def test_aliases_are_linked_as_given_unless_deduplicated(tmp_path):
    path = tmp_path / "tqa.jsonl"
    path.write_text(json.dumps({"question": "Q?", "answer": {
        "value": "Mars", "aliases": ["Mars", "Red Planet", "Red Planet", "mars"]}}) + "\n",
        encoding="utf-8")
    pairs, _ = split(read_qa([str(path)], "triviaqa"))
    assert pairs[0].answers == ("Mars", "Red Planet", "Red Planet", "mars")
    pairs, _ = split(read_qa([str(path)], "triviaqa", dedupe_answers=True))
    assert pairs[0].answers == ("Mars", "Red Planet", "mars")
    nq = tmp_path / "nq.jsonl"
    nq.write_text(json.dumps({"question": "Q?", "answer": ["a", "b", "a"]}) + "\n",
                  encoding="utf-8")
    assert split(read_qa([str(nq)], "nq-open"))[0][0].answers == ("a", "b", "a")


def test_the_flat_triviaqa_prompt_is_unwrapped(tmp_path):
    path = tmp_path / "flat.jsonl"
    path.write_text(json.dumps({"context": "Question: Which river flows through Paris?\nAnswer:",
                                "answer": "Seine", "aliases": ["Seine", "River Seine"]}) + "\n",
                    encoding="utf-8")
    pairs, _ = split(read_qa([str(path)], "triviaqa"))
    assert pairs[0].question == "Which river flows through Paris?"
    assert pairs[0].answers == ("Seine", "River Seine")


def test_a_csv_row_that_is_not_utf8_fails_alone(tmp_path):
    path = tmp_path / "popqa.csv"
    path.write_bytes(b'id,question,possible_answers\n'
                     b'1,Who?,"[""Ann""]"\n'
                     b'2,Wh\xff?,"[""Bob""]"\n'
                     b'3,Where?,"[""Rome""]"\n')
    pairs, failures = split(read_qa([str(path)], "popqa"))
    assert [(p.row, p.question) for p in pairs] == [(0, "Who?"), (2, "Where?")]
    assert [(f.row, f.reason) for f in failures] == [(1, "not_utf8")]
    assert "question" in failures[0].detail


@pytest.mark.parametrize(("content", "fmt", "message"), [
    ('{"question": "q?", "possible_answers": "[]"}\n', "popqa", "holds JSON, not the CSV"),
    ("question,answer\nWho?,Me\n", "nq-open", "does not hold JSON records"),
    ("id\tquery\tanswers\n1\tq\ta\n", "popqa", "no question or possible_answers column"),
])
def test_a_file_that_is_not_what_the_format_reads_is_one_line(tmp_path, content, fmt, message):
    path = tmp_path / ("qa.tsv" if "\t" in content else "qa.jsonl")
    path.write_text(content, encoding="utf-8")
    with pytest.raises(UsageError, match=message) as err:
        list(read_qa([str(path)], fmt))
    assert "\n" not in str(err.value)


def test_a_jsonl_file_with_broken_first_lines_still_reads_record_by_record(tmp_path):
    path = tmp_path / "nq.jsonl"
    path.write_text("not json\n" + json.dumps({"question": "q?", "answer": ["a"]}) + "\n",
                    encoding="utf-8")
    pairs, failures = split(read_qa([str(path)], "nq-open"))
    assert len(pairs) == 1 and [f.reason for f in failures] == ["invalid_json"]


def test_a_file_named_twice_is_read_once(tmp_path):
    path = tmp_path / "nq.jsonl"
    path.write_text(json.dumps({"question": "q?", "answer": ["a"]}) + "\n", encoding="utf-8")
    assert len(split(read_qa([str(path), str(path)], "nq-open"))[0]) == 1


def test_a_utf8_byte_order_mark_keeps_the_first_column_and_record(tmp_path):
    csv_path = tmp_path / "popqa.csv"
    csv_path.write_bytes(b'\xef\xbb\xbfid,question,possible_answers\n'
                         b'41,Who wrote Hamlet?,"[""Shakespeare""]"\n')
    pairs, failures = split(read_qa([str(csv_path)], "popqa"))
    assert [(p.question_id, p.question) for p in pairs] == [("41", "Who wrote Hamlet?")]
    assert not failures
    jsonl = tmp_path / "nq.jsonl"
    jsonl.write_bytes(b'\xef\xbb\xbf' + json.dumps({"question": "q?", "answer": ["a"]}).encode()
                      + b"\n")
    pairs, failures = split(read_qa([str(jsonl)], "nq-open"))
    assert [(p.row, p.question) for p in pairs] == [(0, "q?")] and not failures


def test_utf16_with_a_byte_order_mark_is_read(tmp_path):
    path = tmp_path / "popqa.tsv"  # what spreadsheet programs save as "Unicode text"
    path.write_bytes("id\tquestion\tpossible_answers\n7\tWhere is Köln?\t[\"Germany\"]\n"
                     .encode("utf-16"))
    pairs, failures = split(read_qa([str(path)], "popqa"))
    assert [(p.question_id, p.question, p.answers) for p in pairs] == [
        ("7", "Where is Köln?", ("Germany",))]
    assert not failures


@pytest.mark.parametrize(("name", "content", "fmt", "message"), [
    ("nq.jsonl", b"", "nq-open", "is empty"),
    ("nq.jsonl", b"\n  \n", "nq-open", "is empty"),
    ("nq.jsonl", b"\xef\xbb\xbf\n", "nq-open", "is empty"),
    ("popqa.csv", b"id,question,possible_answers\n", "popqa", "holds a header but no rows"),
    ("eq.json", b"[]", "entityquestions", "holds no records"),
    ("tqa.json", b'{"Data": []}', "triviaqa", "holds no records"),
])
def test_an_empty_qa_file_is_one_line(tmp_path, name, content, fmt, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(UsageError, match=message) as err:
        list(read_qa([str(path)], fmt))
    assert str(path) in str(err.value) and "\n" not in str(err.value)


def test_a_refused_file_names_the_format_that_reads_it(tmp_path):
    nq = tmp_path / "nq.jsonl"
    nq.write_text(json.dumps({"question": "q?", "answer": ["a"]}) + "\n", encoding="utf-8")
    with pytest.raises(UsageError, match="looks like NQ-open, not popqa: pass --qa-format "
                                         "nq-open"):
        list(read_qa([str(nq)], "popqa"))
    popqa = tmp_path / "popqa.txt"  # a name that says nothing; tabs in the header
    popqa.write_text('id\tquestion\tpossible_answers\n1\tWho?\t["Ann"]\n', encoding="utf-8")
    with pytest.raises(UsageError, match="looks like PopQA CSV, not nq-open: pass "
                                         "--qa-format popqa"):
        list(read_qa([str(popqa)], "nq-open"))
    assert [p.answers for p in split(read_qa([str(popqa)], "popqa"))[0]] == [("Ann",)]


def test_a_qa_folder_follows_a_symbolic_link_to_a_subfolder(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "P1.dev.json").write_text(json.dumps([{"question": "q?", "answers": ["a"]}]),
                                           encoding="utf-8")
    folder = tmp_path / "qa"
    folder.mkdir()
    (folder / "relations").symlink_to(elsewhere, target_is_directory=True)
    (folder / "loop").symlink_to(folder, target_is_directory=True)
    pairs, _ = split(read_qa([str(folder)], "entityquestions"))
    assert [(p.question_id, p.source) for p in pairs] == [
        ("P1.dev:0", str(folder / "relations" / "P1.dev.json"))]
