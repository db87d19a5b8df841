"""Predictions files for `longtail analyze accuracy`, read and matched to OUT's questions.

Questions are keyed by (source, row), as the count stage keys them: datasets repeat ids
(TriviaQA's rows 2227 and 2682 share one), so an id alone may name several questions.

Formats (`detect_format` tells them apart by the first record):
- `jsonl`: one line per question, {"prediction": ...} with "question_id", or "row" (with
  "source" when OUT holds several QA files). An id shared by several questions is
  *ambiguous*: the line is skipped and counted.
- `lm-eval`: lm-evaluation-harness `--log_samples` output (`samples_<task>_<date>.jsonl`):
  {"doc_id", "doc", "target", "resps", "filtered_resps", "exact_match", ...}. A sample is
  matched by the id in its `doc` (question_id, id or qid) when that names one question, else
  by the doc's question text (case and spacing aside) and answers (one in common after SQuAD
  normalisation); correctness is the harness's own 0/1 metric (`exact_match`, or the one
  named), and the prediction is the first filtered response. Tested with TriviaQA and NQ-open
  style tasks.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field

import pyarrow as pa

from longtail.errors import UsageError

FORMATS = ("jsonl", "lm-eval")
DEFAULT_METRIC = "exact_match"
ID_FIELDS = ("question_id", "id", "qid", "QuestionId")


def question_text_key(text: str) -> str:
    """A question's text for matching: case folded, spacing collapsed, no final '?'."""
    return " ".join(text.split()).casefold().rstrip("? ")


def _answer_keys(answers: list[str]) -> set[str]:
    from longtail.analysis.accuracy import normalize_answer

    return {normalize_answer(a) for a in answers if isinstance(a, str)} - {""}


@dataclass
class Questions:
    """OUT's questions in (source, row) order, with the indexes predictions are matched by."""

    table: pa.Table
    by_id: dict[str, list[int]] = field(default_factory=dict)
    by_text: dict[str, list[int]] = field(default_factory=dict)
    by_source_row: dict[tuple[str, int], int] = field(default_factory=dict)
    by_row: dict[int, list[int]] = field(default_factory=dict)

    @classmethod
    def from_table(cls, relevant_docs: pa.Table) -> Questions:
        table = relevant_docs.sort_by([("source", "ascending"), ("row", "ascending")])
        found = cls(table)
        by_id, by_text, by_row = defaultdict(list), defaultdict(list), defaultdict(list)
        for i, (qid, source, row, text) in enumerate(zip(
                table["question_id"].to_pylist(), table["source"].to_pylist(),
                table["row"].to_pylist(), table["question"].to_pylist(), strict=True)):
            by_id[qid].append(i)
            by_text[question_text_key(text)].append(i)
            by_row[row].append(i)
            found.by_source_row[(source, row)] = i
        found.by_id, found.by_text, found.by_row = dict(by_id), dict(by_text), dict(by_row)
        return found

    def __len__(self) -> int:
        return self.table.num_rows

    def column(self, name: str) -> list:
        return self.table[name].to_pylist()


@dataclass
class Prediction:
    text: str
    correct: bool | None = None  # from the file (lm-eval's metric); None: scored here


@dataclass
class Predictions:
    """One predictions file, read and matched to questions (by their index in `Questions`)."""

    label: str
    path: str
    format: str
    by_question: dict[int, Prediction] = field(default_factory=dict)
    lines: int = 0
    bad_lines: list[tuple[int, str]] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)  # ids or questions matching nothing
    ambiguous: list[str] = field(default_factory=list)  # ids matching several questions
    duplicates: int = 0
    matched_by: dict[str, int] = field(default_factory=lambda: defaultdict(int))


def detect_format(path: str) -> str:
    """`lm-eval` when the first JSON record is a harness sample (doc and doc_id), else
    `jsonl`."""
    with _open(path) as handle:
        for line in handle:
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError:
                return "jsonl"
            is_sample = isinstance(record, dict) and isinstance(record.get("doc"), dict) \
                and "doc_id" in record
            return "lm-eval" if is_sample else "jsonl"
    return "jsonl"


def _open(path: str):
    try:
        return open(path, encoding="utf-8")  # noqa: SIM115 - the caller closes
    except OSError as err:
        raise UsageError(f"cannot read predictions file {path}: {err.strerror}") from err


def read_predictions(path: str, label: str, questions: Questions, fmt: str | None = None,
                     metric: str = DEFAULT_METRIC) -> Predictions:
    """Read one file (`fmt` None: detected) and match its lines; problems are counted and
    kept for the report, not fatal."""
    if fmt is not None and fmt not in FORMATS:
        raise UsageError(f"unknown predictions format {fmt!r}; choose {' or '.join(FORMATS)}")
    fmt = fmt or detect_format(path)
    result = Predictions(label, path, fmt)
    parse = _lm_eval_line if fmt == "lm-eval" else _jsonl_line
    with _open(path) as handle:
        for number, line in enumerate(handle, start=1):
            result.lines += 1
            if not line.strip():
                result.bad_lines.append((number, "empty line"))
                continue
            try:
                record = json.loads(line)
            except ValueError as err:
                result.bad_lines.append((number, f"not JSON ({err})"))
                continue
            if not isinstance(record, dict):
                result.bad_lines.append((number, "not a JSON object"))
                continue
            outcome = parse(record, questions, metric)
            if isinstance(outcome, _Problem):
                result.bad_lines.append((number, outcome.reason))
            elif isinstance(outcome, _Unmatched):
                (result.ambiguous if outcome.ambiguous else result.unmatched).append(
                    outcome.what)
            else:
                index, prediction, how = outcome
                if index in result.by_question:
                    result.duplicates += 1
                else:
                    result.by_question[index] = prediction
                    result.matched_by[how] += 1
    return result


@dataclass
class _Problem:
    reason: str


@dataclass
class _Unmatched:
    what: str
    ambiguous: bool = False


_Outcome = _Problem | _Unmatched | tuple[int, Prediction, str]


def _jsonl_line(record: dict, questions: Questions, metric: str) -> _Outcome:
    prediction = record.get("prediction")
    if isinstance(prediction, int | float) and not isinstance(prediction, bool):
        prediction = json.dumps(prediction)
    if not isinstance(prediction, str):
        return _Problem("no string field 'prediction'")
    if record.get("question_id") is not None:
        qid = str(record["question_id"])
        found = questions.by_id.get(qid, [])
        if len(found) == 1:
            return found[0], Prediction(prediction), "id"
        return _Unmatched(qid, ambiguous=len(found) > 1)
    row = record.get("row")
    if not isinstance(row, int) or isinstance(row, bool):
        return _Problem("neither 'question_id' nor an integer 'row'")
    source = record.get("source")
    if source is not None:
        index = questions.by_source_row.get((str(source), row))
        return (index, Prediction(prediction), "row") if index is not None else \
            _Unmatched(f"{source} row {row}")
    found = questions.by_row.get(row, [])
    if len(found) > 1:
        return _Problem("keyed by 'row' without 'source', but the output folder holds "
                        "several QA files")
    return (found[0], Prediction(prediction), "row") if found else _Unmatched(f"row {row}")


def _lm_eval_line(record: dict, questions: Questions, metric: str) -> _Outcome:
    doc = record.get("doc")
    if not isinstance(doc, dict):
        return _Problem("no 'doc' object (not an lm-eval sample)")
    if metric not in record:
        shown = ", ".join(m for m in record.get("metrics", []) if isinstance(m, str)) or "none"
        return _Problem(f"no metric {metric!r} (the sample has: {shown}); name one with "
                        "--metric")
    value = record[metric]
    if isinstance(value, bool):
        value = int(value)
    if not isinstance(value, int | float) or value not in (0, 1):
        return _Problem(f"metric {metric!r} is {value!r}, not 0 or 1: accuracy needs a "
                        "right-or-wrong metric such as exact_match")
    prediction = Prediction(_first_response(record), bool(value))
    answers = _answer_keys(_doc_answers(doc, record))
    own_id = next((doc[k] for k in ID_FIELDS if doc.get(k) is not None), None)
    if own_id is not None:
        found = questions.by_id.get(str(own_id), [])
        if len(found) == 1:
            return found[0], prediction, "id"
        if len(found) > 1:  # a shared id: the text and answers tell which question it is
            chosen = _by_text_and_answers(found, doc, answers, questions)
            if len(chosen) == 1:
                return chosen[0], prediction, "id and text"
            return _Unmatched(str(own_id), ambiguous=True)
    text = doc.get("question", doc.get("Question"))
    if not isinstance(text, str):
        return _Unmatched(str(own_id) if own_id is not None else f"doc_id "
                          f"{record.get('doc_id')}")
    candidates = questions.by_text.get(question_text_key(text), [])
    chosen = _by_text_and_answers(candidates, doc, answers, questions)
    if len(chosen) == 1:
        return chosen[0], prediction, "text"
    return _Unmatched(text, ambiguous=len(chosen) > 1)


def _by_text_and_answers(candidates: list[int], doc: dict, answers: set[str],
                         questions: Questions) -> list[int]:
    """The candidates whose question text is the doc's and that share an answer with it."""
    text = doc.get("question", doc.get("Question"))
    key = question_text_key(text) if isinstance(text, str) else None
    texts = questions.table["question"]
    golds = questions.table["answers"]
    chosen = []
    for i in candidates:
        if key is not None and question_text_key(texts[i].as_py()) != key:
            continue
        if answers and not answers & _answer_keys(golds[i].as_py()):
            continue
        chosen.append(i)
    return chosen


def _doc_answers(doc: dict, record: dict) -> list[str]:
    """A sample's answers: TriviaQA's answer.value and aliases, NQ-open's answer list, else
    the harness's `target`."""
    answer = doc.get("answer", doc.get("answers"))
    if isinstance(answer, dict):
        found = [answer.get("value")] + list(answer.get("aliases") or [])
        return [a for a in found if isinstance(a, str)]
    if isinstance(answer, list):
        return [a for a in answer if isinstance(a, str)]
    if isinstance(answer, str):
        return [answer]
    target = record.get("target")
    if isinstance(target, list):
        return [t for t in target if isinstance(t, str)]
    return [target] if isinstance(target, str) else []


def _first_response(record: dict) -> str:
    """The first filtered response (lists nest one level per repeat), as text."""
    value = record.get("filtered_resps", record.get("resps"))
    while isinstance(value, list) and value:
        value = value[0]
    return value if isinstance(value, str) else json.dumps(value)
