"""QA dataset readers: NQ-open, TriviaQA, EntityQuestions, PopQA and generic JSON Lines.

Every record becomes a `QAPair` or a `FailureRecord` (stage `qa_read`) with its reason.
`row` is the 0-based position of the record in its file; `question_id` is the record's own id
when it has one, else `<file stem>:<row>`.
"""

from __future__ import annotations

import csv
import glob
import io
import json
import posixpath
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from longtail.errors import UsageError
from longtail.output.failures import FailureRecord
from longtail.output.listing import expand_lists
from longtail.output.storage import (
    file_identity,
    glob_locations,
    join_location,
    location_kind,
    open_source,
    walk,
)

FORMATS = ("nq-open", "triviaqa", "entityquestions", "popqa", "jsonl")
STAGE = "qa_read"
QA_SUFFIXES = (".json", ".jsonl", ".tsv", ".csv")
_ID_FIELDS = ("question_id", "QuestionId", "id", "qid")


@dataclass(frozen=True, slots=True)
class QAPair:
    question_id: str
    row: int
    source: str
    question: str
    answers: tuple[str, ...]


class _BadRecord(Exception):
    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def resolve_qa_paths(paths: Iterable[str]) -> list[str]:
    """Files, folders (their files, sorted) and globs, local or URIs; a path that matches
    nothing is an error."""
    found: list[str] = []
    seen: set[str] = set()
    for raw in expand_lists(paths):
        kind = location_kind(raw)
        if kind == "folder":
            files = sorted(join_location(folder, name)
                           for folder, _, names in walk(raw) for name in names
                           if _suffix(name) in QA_SUFFIXES)
            if not files:
                raise UsageError(f"QA folder is empty: {raw}")
            found.extend(files)
        elif kind == "file":
            found.append(raw)
        else:
            matches = [m for m in glob_locations(raw) if location_kind(m) == "file"] \
                if glob.has_magic(raw) else []
            if not matches:
                raise UsageError(f"QA file not found: {raw}")
            found.extend(matches)
    unique = []
    for path in found:  # a file named twice (or through a link) is read once
        real = file_identity(path)
        if real not in seen:
            seen.add(real)
            unique.append(path)
    return unique


def _suffix(name: str) -> str:
    return posixpath.splitext(name)[1].lower()


def _stem(path: str) -> str:
    return posixpath.splitext(posixpath.basename(path.rstrip("/")))[0]


def read_qa(
    paths: Iterable[str],
    fmt: str,
    question_field: str = "question",
    answers_field: str = "answer",
    dedupe_answers: bool = False,
) -> Iterator[QAPair | FailureRecord]:
    """Every record of every file, in file order then row order.

    Answer aliases are kept as given, repeats included, as the paper's `link_qa.py` links
    them; `dedupe_answers` keeps the first of each."""
    if fmt not in FORMATS:
        raise UsageError(f"unknown QA format {fmt!r}; choose one of: {', '.join(FORMATS)}")
    files = resolve_qa_paths(paths)
    for path in files:
        yield from _read_file(path, fmt, question_field, answers_field, dedupe_answers)


def _read_file(
    path: str, fmt: str, q_field: str, a_field: str, dedupe: bool
) -> Iterator[QAPair | FailureRecord]:
    source = str(path)
    for row, raw in _records(path, fmt):
        try:
            if isinstance(raw, _BadRecord):
                raise raw
            question, answers, own_id = _extract(raw, fmt, q_field, a_field)
        except _BadRecord as bad:
            yield FailureRecord(None, source, row, STAGE, bad.reason, bad.detail)
            continue
        if dedupe:
            answers = tuple(dict.fromkeys(answers))
        qid = str(own_id) if own_id not in (None, "") else f"{_stem(path)}:{row}"
        yield QAPair(qid, row, source, question, answers)


def _records(path: str, fmt: str) -> Iterator[tuple[int, object]]:
    try:
        with open_source(path) as fh:
            data = fh.read()
    except OSError as err:
        reason = err.strerror or str(err).splitlines()[0]
        raise UsageError(f"cannot read QA file {path}: {reason}") from err
    stripped = data.lstrip()
    looks_like_json = stripped[:1] in (b"[", b"{")
    if fmt == "popqa" or _suffix(path) in (".tsv", ".csv"):
        if looks_like_json:
            raise UsageError(f"QA file {path} holds JSON, not the CSV/TSV of --qa-format "
                             f"{fmt}; pass the --qa-format of its records")
        yield from _csv_records(path, data, fmt)
        return
    if stripped and not looks_like_json and not _any_json_line(stripped):
        raise UsageError(f"QA file {path} does not hold JSON records, as --qa-format {fmt} "
                         "reads; pass --qa-format popqa for CSV/TSV files")
    if stripped[:1] in (b"[", b"{") and _is_single_json_document(stripped):
        doc = json.loads(stripped)
        items = doc.get("Data", doc.get("data")) if isinstance(doc, dict) else doc
        if not isinstance(items, list):
            items = [doc]
        yield from enumerate(items)
        return
    for row, line in enumerate(data.splitlines()):
        yield row, _parse_line(line)


def _is_single_json_document(data: bytes) -> bool:
    try:
        json.loads(data)
    except ValueError:
        return False
    return True


def _parse_line(line: bytes) -> object:
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as err:
        return _BadRecord("not_utf8", f"invalid UTF-8 at byte {err.start}")
    if not text.strip():
        return _BadRecord("invalid_json", "empty line")
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        return _BadRecord("invalid_json", f"{err.msg} at column {err.colno}: {text[:80]!r}")


def _any_json_line(data: bytes, lines: int = 20) -> bool:
    """True when one of the first non-empty lines parses as JSON (a JSON Lines file whose
    first records are broken still reads record by record)."""
    seen = 0
    for line in data.splitlines():
        if not line.strip():
            continue
        try:
            json.loads(line)
            return True
        except ValueError:
            seen += 1
            if seen >= lines:
                return False
    return False


POPQA_COLUMNS = ("question", "possible_answers")


def _csv_records(path: str, data: bytes, fmt: str) -> Iterator[tuple[int, object]]:
    """Rows of a CSV/TSV file as dicts; a row with bytes that are not UTF-8 fails alone."""
    delimiter = "\t" if _suffix(path) == ".tsv" else ","
    text = data.decode("utf-8", errors="surrogateescape")
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = reader.fieldnames or []
    if fmt == "popqa":
        missing = [c for c in POPQA_COLUMNS if c not in header]
        if missing:
            raise UsageError(f"QA file {path} has no {' or '.join(missing)} column, as "
                             f"--qa-format popqa reads (its header: {', '.join(header)[:200]})")
    for row, record in enumerate(reader):
        bad = [k for k, v in record.items() if isinstance(v, str) and _has_surrogates(v)]
        if bad:
            yield row, _BadRecord("not_utf8", f"invalid UTF-8 in column {bad[0]}")
        else:
            yield row, record


def _has_surrogates(value: str) -> bool:
    return any("\udc80" <= c <= "\udcff" for c in value)


def _extract(
    raw: object, fmt: str, q_field: str, a_field: str
) -> tuple[str, tuple[str, ...], object]:
    if not isinstance(raw, dict):
        raise _BadRecord("not_an_object", f"expected a JSON object, got {type(raw).__name__}")
    own_id = next((raw[k] for k in _ID_FIELDS if k in raw), None)
    if fmt == "triviaqa":
        question = raw.get("question", raw.get("Question"))
        if question is None and isinstance(raw.get("context"), str):
            question = _unwrap_prompt(raw["context"])
        answers = _triviaqa_answers(raw)
    elif fmt == "entityquestions":
        question, answers = raw.get("question"), raw.get("answers")
    elif fmt == "popqa":
        question, answers = raw.get("question"), _json_list(raw.get("possible_answers"))
    elif fmt == "nq-open":
        question, answers = raw.get("question"), raw.get("answer")
    else:
        question, answers = raw.get(q_field), raw.get(a_field)
    if not isinstance(question, str):
        raise _BadRecord("missing_question", "no question text in the record")
    if isinstance(answers, str):
        answers = [answers]
    if not isinstance(answers, list) or not all(isinstance(a, str) for a in answers):
        raise _BadRecord("missing_answers", "answers must be a string or a list of strings")
    if not any(a.strip() for a in answers):
        raise _BadRecord("missing_answers", "the record has no non-empty answer")
    return question, tuple(answers), own_id


_PROMPT = re.compile(r"^\s*Question:\s*(?P<question>.*?)\s*\n\s*Answer:\s*$", re.DOTALL)


def _unwrap_prompt(context: str) -> str:
    """The question inside the flat TriviaQA shape's `Question: ...\nAnswer:` prompt."""
    match = _PROMPT.match(context)
    return match.group("question") if match else context


def _triviaqa_answers(raw: dict) -> list[str] | None:
    answer = raw.get("answer", raw.get("Answer"))
    if isinstance(answer, dict):
        return _value_and_aliases(answer.get("value", answer.get("Value")),
                                  answer.get("aliases", answer.get("Aliases")))
    aliases = raw.get("aliases")
    if isinstance(answer, str):
        return _value_and_aliases(answer, aliases)
    return aliases if isinstance(aliases, list) else answer


def _value_and_aliases(value: object, aliases: object) -> list | None:
    """The answer's value, then its aliases as the record gives them: repeats among the
    aliases stay, only the value itself is not listed a second time."""
    if not isinstance(aliases, list):
        aliases = []
    if not isinstance(value, str):
        return aliases
    rest = list(aliases)
    if value in rest:
        rest.remove(value)
    return [value, *rest]


def _json_list(value: object) -> list | None:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as err:
            raise _BadRecord("missing_answers", f"possible_answers is not JSON: {err.msg}") from err
    return value if isinstance(value, list) else None
