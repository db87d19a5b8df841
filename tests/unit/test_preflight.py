"""Inputs judged before any work starts: wrong QA formats, corpus fields and formats, empty
inputs, too many failures, a QA set that cannot be counted, and the help text of the flags."""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from longtail.corpus import resolve_inputs
from longtail.corpus.preflight import check_corpus, content_format
from longtail.errors import UsageError
from longtail.jobs.cli import build_parser
from longtail.qa.preflight import check_qa, linked_questions_problem
from tests.conftest import shared_path


def refused(call, *args, **kwargs) -> str:
    """The one line a call refuses with."""
    with pytest.raises(UsageError) as caught:
        call(*args, **kwargs)
    message = str(caught.value)
    assert "\n" not in message and "Traceback" not in message
    return message


def nq_rows(n: int) -> list[dict]:
    path = shared_path("nq-open", "NQ-open.dev.jsonl")
    with path.open(encoding="utf-8") as fh:
        return [json.loads(next(fh)) for _ in range(n)]


def popqa_csv(path: Path, rows: list[dict]) -> Path:
    """A file laid out like PopQA's CSV (its columns, `possible_answers` a JSON string)."""
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "subj", "prop", "obj", "s_pop", "o_pop", "question",
                         "possible_answers"])
        for i, row in enumerate(rows):
            writer.writerow([4_000_000 + i, "subject", "occupation", row["answer"][0], 10, 20,
                             row["question"], json.dumps(row["answer"])])
    return path


def lines(path: Path, records: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n"
                            for r in records), encoding="utf-8")
    return path


# --- QA files -----------------------------------------------------------------------------


def test_popqa_csv_given_as_nq_open_is_refused_naming_popqa(tmp_path):
    rows = nq_rows(300)
    path = popqa_csv(tmp_path / "popqa.csv", rows)
    message = refused(check_qa, [str(path)], "nq-open")
    assert message.startswith(f"QA file {path}: 300 of 300 records fail as --qa-format nq-open "
                              "(300 missing_answers")
    assert message.endswith("this looks like PopQA CSV, not nq-open: pass --qa-format popqa")
    found = check_qa([str(path)], "popqa")
    assert [(p.question, p.answers) for p in found.pairs] == [
        (r["question"], tuple(r["answer"])) for r in rows]
    assert found.records == 300 and not found.failures and found.files == [str(path)]


@pytest.mark.parametrize(("parts", "given", "says"), [
    (("nq-open", "NQ-open.dev.jsonl"), "popqa", "this looks like NQ-open, not popqa: pass "
                                                "--qa-format nq-open"),
    (("nq-open", "NQ-open.dev.jsonl"), "entityquestions", "this looks like NQ-open, not "
                                                          "entityquestions: pass --qa-format "
                                                          "nq-open"),
    (("entityquestions", "dev"), "nq-open", "this looks like EntityQuestions, not nq-open: "
                                            "pass --qa-format entityquestions"),
    (("c4", "c4-sample-449.jsonl"), "nq-open", "no other --qa-format reads it either (its "
                                               "records have: text, meta)"),
])
def test_real_files_given_the_wrong_format(parts, given, says):
    path = shared_path(*parts)
    assert says in refused(check_qa, [str(path)], given)


def test_triviaqa_given_as_nq_open_is_refused_naming_triviaqa(tmp_path):
    path = lines(tmp_path / "tqa.jsonl", [
        {"question": f"Question {i}?", "question_id": f"tc_{i}",
         "answer": {"value": "Mars", "aliases": ["Mars", "Red Planet"]}} for i in range(5)])
    assert refused(check_qa, [str(path)], "nq-open").endswith(
        "this looks like TriviaQA, not nq-open: pass --qa-format triviaqa")
    assert len(check_qa([str(path)], "triviaqa").pairs) == 5


def test_real_nq_open_is_read_once_whole():
    path = shared_path("nq-open", "NQ-open.dev.jsonl")
    found = check_qa([str(path)], "nq-open")
    assert len(found.pairs) == 3610 and found.records == 3610 and found.failure_reasons == {}
    assert found.pairs[0].question == "when was the last time anyone was on the moon"


def test_jsonl_with_the_wrong_fields_names_the_fields_it_has(tmp_path):
    path = lines(tmp_path / "mine.jsonl", [{"q": "Where?", "golds": ["Paris"]}] * 3)
    message = refused(check_qa, [str(path)], "jsonl")
    assert message.endswith("its records have: q, golds: pass the --question-field and "
                            "--answers-field that hold the question and its answers")
    found = check_qa([str(path)], "jsonl", question_field="q", answers_field="golds")
    assert [p.answers for p in found.pairs] == [("Paris",)] * 3


def test_the_failed_share_threshold(tmp_path):
    good = {"question": "q?", "answer": ["a"]}
    mostly_bad = lines(tmp_path / "bad.jsonl", [good, "{broken", {"question": "no answer"},
                                                '"a string"'])
    message = refused(check_qa, [str(mostly_bad)], "nq-open")
    assert "3 of 4 records fail as --qa-format nq-open" in message
    assert "--max-failed-share 1 to read it anyway" in message
    found = check_qa([str(mostly_bad)], "nq-open", max_failed_share=0.8)
    assert [p.row for p in found.pairs] == [0]
    assert found.failure_reasons == {"invalid_json": 1, "missing_answers": 1,
                                     "not_an_object": 1}
    mostly_good = lines(tmp_path / "good.jsonl", [good, good, good, "{broken"])
    assert len(check_qa([str(mostly_good)], "nq-open").pairs) == 3
    assert "1 of 4 records fail" in refused(check_qa, [str(mostly_good)], "nq-open",
                                            max_failed_share=0.0)
    assert "between 0 and 1" in refused(check_qa, [str(mostly_good)], "nq-open",
                                        max_failed_share=1.5)


def test_one_wrong_file_in_a_folder_is_named(tmp_path):
    folder = tmp_path / "qa"
    folder.mkdir()
    lines(folder / "a.jsonl", [{"question": "q?", "answer": ["a"]}])
    lines(folder / "b.jsonl", [{"question": "q?", "answers": ["a"]}] * 2)
    message = refused(check_qa, [str(folder)], "nq-open")
    assert message.startswith(f"QA file {folder / 'b.jsonl'}: 2 of 2 records fail")
    assert message.endswith("pass --qa-format entityquestions")


def test_empty_inputs_and_nothing_readable(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    assert refused(check_qa, [str(empty)], "nq-open") == f"QA file {empty} is empty"
    broken = lines(tmp_path / "broken.jsonl", ["{no", "{json"])
    assert refused(check_qa, [str(broken)], "nq-open", max_failed_share=1.0) == (
        "no question could be read from the QA set (2 records, all failed: 2 invalid_json)")


def test_a_byte_order_mark_does_not_lose_the_id_column(tmp_path):
    rows = nq_rows(3)
    plain = popqa_csv(tmp_path / "popqa.csv", rows)
    with_bom = tmp_path / "bom.csv"
    with_bom.write_bytes(b"\xef\xbb\xbf" + plain.read_bytes())
    found = check_qa([str(with_bom)], "popqa")
    assert [p.question_id for p in found.pairs] == ["4000000", "4000001", "4000002"]


def test_a_qa_set_that_cannot_give_a_count_is_one_line():
    assert linked_questions_problem({"records_in": 3, "pairs": 0, "unreadable": 3}) == (
        "qa: the QA set holds no question that could be read; see OUT/failures")
    assert linked_questions_problem({"pairs": 5, "linked": 0, "link_failed": 5,
                                     "failure_reasons": {"http_error": 4, "timeout": 1}}) == (
        "qa: linking failed for all 5 questions (4 http_error, 1 timeout); see OUT/failures")
    no_question = {"pairs": 5, "linked": 5, "question_mentions": 0, "answer_mentions": 7}
    assert linked_questions_problem(no_question).startswith(
        "qa: 0 of 5 linked questions has a question entity")
    no_answer = {"pairs": 5, "linked": 4, "question_mentions": 6, "answer_mentions": 0}
    assert linked_questions_problem(no_answer).startswith(
        "qa: 0 of 4 linked questions has an answer entity")
    assert linked_questions_problem({"pairs": 5, "linked": 4, "question_mentions": 6,
                                     "answer_mentions": 2}) is None


# --- corpora ------------------------------------------------------------------------------


def corpus(*paths: Path, format: str | None = None):
    return resolve_inputs([str(p) for p in paths], format)


def test_a_missing_text_field_names_the_fields_and_the_likely_one(tmp_path):
    path = lines(tmp_path / "x.jsonl", [{"url": "http://a.example/", "content": "Some text."}
                                        for _ in range(150)])
    assert refused(check_corpus, corpus(path)) == (
        f"no record of {path} has the field 'text'; its records have: url, content; pass "
        "--text-field content")
    assert check_corpus(corpus(path), text_field="content").rows_sampled == 100
    table = pa.table({"id": ["a", "b"], "body": ["A longer body of text.", "Another."]})
    pq.write_table(table, tmp_path / "x.parquet")
    assert refused(check_corpus, corpus(tmp_path / "x.parquet")) == (
        f"no record of {tmp_path / 'x.parquet'} has the field 'text'; its records have: id, "
        "body; pass --text-field body")


def test_real_c4_passes_and_a_wrong_field_points_at_text():
    path = shared_path("c4", "c4-sample-449.jsonl")
    found = check_corpus(corpus(path), id_field="meta.url")
    assert (found.files_checked, found.rows_sampled, found.empty_files) == (1, 100, [])
    assert check_corpus(corpus(path), text_field="meta.url", sample_rows=449).rows_sampled == 449
    assert refused(check_corpus, corpus(path), text_field="body") == (
        f"no record of {path} has the field 'body'; its records have: text, meta; pass "
        "--text-field text")


def test_real_nq_open_as_a_corpus_points_at_the_question_field():
    path = shared_path("nq-open", "NQ-open.dev.jsonl")
    assert refused(check_corpus, corpus(path)).endswith(
        "its records have: question, answer; pass --text-field question")


def test_a_file_not_in_the_format_its_name_says(tmp_path):
    fake_parquet = lines(tmp_path / "x.parquet", [{"text": "a"}])
    message = refused(check_corpus, corpus(fake_parquet))
    assert message.startswith(f"cannot read {fake_parquet} as Parquet: cannot open the Parquet "
                              "file")
    assert message.endswith("its bytes look like JSON Lines, not Parquet: rename it or pass "
                            "--corpus-format jsonl")
    pq.write_table(pa.table({"text": ["a", "b"]}), tmp_path / "y.jsonl")
    message = refused(check_corpus, corpus(tmp_path / "y.jsonl"))
    assert message.startswith(f"2 of the first 2 records of {tmp_path / 'y.jsonl'} fail")
    assert message.endswith("its bytes look like Parquet, not JSON Lines: rename it or pass "
                            "--corpus-format parquet")
    assert content_format(str(tmp_path / "y.jsonl")) == "parquet"
    plain = tmp_path / "notes.jsonl"
    plain.write_text("Just some prose.\nMore prose.\n", encoding="utf-8")
    assert refused(check_corpus, corpus(plain)).endswith(
        "its bytes look like plain text, not JSON Lines: rename it or pass --corpus-format text")


def test_a_text_field_that_is_not_a_string(tmp_path):
    path = lines(tmp_path / "x.jsonl", [{"text": 5, "body": "words"}] * 3)
    assert refused(check_corpus, corpus(path)) == (
        f"the field 'text' is not a string in 3 of the first 3 records of {path} (field "
        "'text' is a number); pass the --text-field that holds the text")


def test_an_unreadable_file_is_named(tmp_path):
    broken = tmp_path / "x.jsonl.gz"
    broken.write_bytes(b"\x1f\x8b" + b"\x00" * 40)
    message = refused(check_corpus, corpus(broken))
    assert message.startswith(f"cannot read {broken} as JSON Lines: cannot read the file from "
                              "row 0 on")
    gone = lines(tmp_path / "gone.jsonl", [{"text": "a"}])
    files = corpus(gone)
    gone.unlink()
    assert "No such file" in refused(check_corpus, files)


def test_only_the_first_rows_are_judged_and_the_share_is_a_flag(tmp_path):
    good, bad = {"text": "fine"}, "{broken"
    late_damage = lines(tmp_path / "late.jsonl", [good] * 100 + [bad] * 400)
    assert check_corpus(corpus(late_damage)).failure_reasons == {}
    early = lines(tmp_path / "early.jsonl", [good] * 4 + [bad] * 6)
    message = refused(check_corpus, corpus(early))
    assert message.startswith(f"6 of the first 10 records of {early} fail (6 invalid_json")
    assert message.endswith("fix the file, or pass --max-failed-share 1 to read it anyway")
    found = check_corpus(corpus(early), max_failed_share=1.0)
    assert found.failure_reasons == {"invalid_json": 6} and found.rows_sampled == 10
    fewer = lines(tmp_path / "fewer.jsonl", [good] * 6 + [bad] * 4)
    assert check_corpus(corpus(fewer)).failure_reasons == {"invalid_json": 4}


def test_empty_files_are_listed_and_an_empty_corpus_refused(tmp_path):
    folder = tmp_path / "c"
    folder.mkdir()
    (folder / "empty.jsonl").write_bytes(b"")
    with gzip.open(folder / "empty2.jsonl.gz", "wb"):
        pass
    assert refused(check_corpus, corpus(folder)) == (
        f"the corpus holds no record: all 2 files are empty ({folder / 'empty.jsonl'}, "
        f"{folder / 'empty2.jsonl.gz'})")
    lines(folder / "full.jsonl", [{"text": "a"}])
    found = check_corpus(corpus(folder))
    assert found.empty_files == [str(folder / "empty.jsonl"), str(folder / "empty2.jsonl.gz")]
    assert (found.files_checked, found.rows_sampled) == (3, 1)


def test_plain_text_files_are_judged_together(tmp_path):
    folder = tmp_path / "texts"
    folder.mkdir()
    (folder / "a.txt").write_text("A page.", encoding="utf-8")
    (folder / "b.txt").write_text("Another page.", encoding="utf-8")
    (folder / "c.txt").write_bytes(b"Latin-1 \xe9t\xe9")
    assert check_corpus(corpus(folder)).failure_reasons == {"not_utf8": 1}
    (folder / "d.txt").write_bytes(b"\xff\xfe\x00\x01")
    (folder / "e.txt").write_bytes(b"\x80\x81")
    message = refused(check_corpus, corpus(folder))
    assert message.startswith(f"3 of 5 plain-text files ({folder / 'c.txt'}, ...) fail "
                              "(3 not_utf8")


def test_bad_sample_options_are_one_line(tmp_path):
    path = lines(tmp_path / "x.jsonl", [{"text": "a"}])
    assert "between 0 and 1" in refused(check_corpus, corpus(path), max_failed_share=-0.1)
    assert "at least 1 row" in refused(check_corpus, corpus(path), sample_rows=0)


# --- help text ----------------------------------------------------------------------------


def test_a_required_flag_shows_no_empty_default():
    parser = build_parser()._subparsers._group_actions[0].choices["qa"]
    text = " ".join(parser.format_help().split())
    assert "(default )" not in text
    assert "QA file format" in text
    assert "question field for the jsonl format (default question)" in text
