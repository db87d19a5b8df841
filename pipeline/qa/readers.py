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
from itertools import islice

from longtail.corpus.inputs import walk_following_links
from longtail.errors import UsageError
from longtail.output.failures import FailureRecord
from longtail.output.listing import expand_lists
from longtail.output.storage import (
    file_identity,
    glob_locations,
    join_location,
    location_kind,
    open_source,
)

FORMATS = ("nq-open", "triviaqa", "entityquestions", "popqa", "jsonl")
STAGE = "qa_read"
QA_SUFFIXES = (".json", ".jsonl", ".tsv", ".csv")
_ID_FIELDS = ("question_id", "QuestionId", "id", "qid")
_UTF8_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
GUESS_RECORDS = 50


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
    """Files, folders (their files, sorted; symbolic links to folders followed) and globs,
    local or URIs; a path that matches nothing is an error."""
    found: list[str] = []
    seen: set[str] = set()
    for raw in expand_lists(paths):
        kind = location_kind(raw)
        if kind == "folder":
            files = sorted(join_location(folder, name)
                           for folder, _, names in walk_following_links(raw) for name in names
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
    check_format(fmt)
    files = resolve_qa_paths(paths)
    for path in files:
        yield from read_qa_file(path, fmt, question_field, answers_field, dedupe_answers)


def check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        raise UsageError(f"unknown QA format {fmt!r}; choose one of: {', '.join(FORMATS)}")


def read_qa_file(
    path: str, fmt: str, q_field: str = "question", a_field: str = "answer",
    dedupe: bool = False,
) -> Iterator[QAPair | FailureRecord]:
    """Every record of one file (see `read_qa`); an empty file is a usage error."""
    source = str(path)
    for row, raw in _records(path, fmt, q_field, a_field):
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


def _records(
    path: str, fmt: str, q_field: str = "question", a_field: str = "answer"
) -> Iterator[tuple[int, object]]:
    data = _load(path)
    as_csv = _reads_as_csv(path, data, fmt)
    if as_csv and _starts_like_json(data):
        raise UsageError(f"QA file {path} holds JSON, not the CSV/TSV of --qa-format {fmt}"
                         f"{_hint(path, data, fmt, q_field, a_field)}")
    if not as_csv and not _holds_json(data):
        hint = _hint(path, data, fmt, q_field, a_field) \
            or "; pass --qa-format popqa for CSV/TSV files"
        raise UsageError(f"QA file {path} does not hold JSON records, as --qa-format {fmt} "
                         f"reads{hint}")
    if as_csv and fmt == "popqa":
        header = _csv_header(path, data)
        missing = [c for c in POPQA_COLUMNS if c not in header]
        if missing:
            raise UsageError(f"QA file {path} has no {' or '.join(missing)} column, as "
                             f"--qa-format popqa reads (its header: {', '.join(header)[:200]})"
                             f"{_hint(path, data, fmt, q_field, a_field)}")
    empty = True
    for item in _raw_records(path, data, as_csv):
        empty = False
        yield item
    if empty:
        what = "a header but no rows" if as_csv else "no records"
        raise UsageError(f"QA file {path} holds {what}")


def _load(path: str) -> bytes:
    """The file's bytes as UTF-8: a UTF-8 byte order mark is dropped, UTF-16 (told by its
    byte order mark) is converted; a file with nothing but white space is a usage error."""
    try:
        with open_source(path) as fh:
            data = fh.read()
    except OSError as err:
        reason = err.strerror or str(err).splitlines()[0]
        raise UsageError(f"cannot read QA file {path}: {reason}") from err
    if data.startswith(_UTF8_BOM):
        data = data[len(_UTF8_BOM):]
    elif data.startswith(_UTF16_BOMS):
        try:
            data = data.decode("utf-16").encode("utf-8")
        except UnicodeError as err:
            raise UsageError(f"QA file {path} starts with a UTF-16 byte order mark but is not "
                             f"UTF-16: {err.reason} at byte {err.start}") from err
    if not data.strip():
        raise UsageError(f"QA file {path} is empty")
    return data


def _reads_as_csv(path: str, data: bytes, fmt: str) -> bool:
    return fmt == "popqa" or _suffix(path) in (".tsv", ".csv")


def _starts_like_json(data: bytes) -> bool:
    return data.lstrip()[:1] in (b"[", b"{")


def _holds_json(data: bytes) -> bool:
    return _starts_like_json(data) or _any_json_line(data)


def _raw_records(path: str, data: bytes, as_csv: bool) -> Iterator[tuple[int, object]]:
    """(row, parsed record or `_BadRecord`) for every record, whatever the format reads."""
    if as_csv:
        yield from _csv_records(path, data)
        return
    stripped = data.lstrip()
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


def _delimiter(path: str, data: bytes) -> str:
    """Tab for `.tsv`, comma for `.csv`, else tab when the header has one and no comma."""
    suffix = _suffix(path)
    if suffix in (".tsv", ".csv"):
        return "\t" if suffix == ".tsv" else ","
    header = data.split(b"\n", 1)[0]
    return "\t" if b"\t" in header and b"," not in header else ","


def _csv_reader(path: str, data: bytes) -> csv.DictReader:
    text = data.decode("utf-8", errors="surrogateescape")
    return csv.DictReader(io.StringIO(text, newline=""), delimiter=_delimiter(path, data))


def _csv_header(path: str, data: bytes) -> list[str]:
    return list(_csv_reader(path, data).fieldnames or [])


def _csv_records(path: str, data: bytes) -> Iterator[tuple[int, object]]:
    """Rows of a CSV/TSV file as dicts; a row with bytes that are not UTF-8 fails alone."""
    for row, record in enumerate(_csv_reader(path, data)):
        bad = [k for k, v in record.items() if isinstance(v, str) and _has_surrogates(v)]
        if bad:
            yield row, _BadRecord("not_utf8", f"invalid UTF-8 in column {bad[0]}")
        else:
            yield row, record


def _has_surrogates(value: str) -> bool:
    return any("\udc80" <= c <= "\udcff" for c in value)


def guess_format(
    path: str, exclude: str | None = None, question_field: str = "question",
    answers_field: str = "answer", data: bytes | None = None,
) -> str | None:
    """The format (other than `exclude`) that reads most of the file's first records, if one
    reads more than half of them; None when none does or the file cannot be read."""
    try:
        data = _load(path) if data is None else data
    except UsageError:
        return None
    as_csv = not _holds_json(data) or (_suffix(path) in (".tsv", ".csv")
                                       and not _starts_like_json(data))
    records = [raw for _, raw in islice(_raw_records(path, data, as_csv), GUESS_RECORDS)
               if not isinstance(raw, _BadRecord)]
    best, best_read = None, 0
    for fmt in FORMATS:
        if fmt == exclude or as_csv != _reads_as_csv(path, data, fmt):
            continue
        if fmt == "popqa" and not set(POPQA_COLUMNS) <= set(_csv_header(path, data)):
            continue
        read = sum(1 for raw in records if _reads(raw, fmt, question_field, answers_field))
        if read > best_read:
            best, best_read = fmt, read
    return best if best_read * 2 > len(records) else None


def record_fields(path: str, limit: int = 20) -> list[str]:
    """The field names (or CSV columns) of the file's first records, in order of appearance."""
    try:
        data = _load(path)
    except UsageError:
        return []
    as_csv = not _holds_json(data) or (_suffix(path) in (".tsv", ".csv")
                                       and not _starts_like_json(data))
    names: dict[str, None] = {}
    for _, raw in islice(_raw_records(path, data, as_csv), GUESS_RECORDS):
        if isinstance(raw, dict):
            names.update(dict.fromkeys(map(str, raw)))
    return list(names)[:limit]


def describe_format(fmt: str, path: str = "") -> str:
    """How a format reads in a message: "PopQA CSV", "NQ-open JSON Lines"..."""
    if fmt == "popqa":
        return "PopQA TSV" if _suffix(path) == ".tsv" else "PopQA CSV"
    return _FORMAT_NAMES[fmt]


_FORMAT_NAMES = {"nq-open": "NQ-open", "triviaqa": "TriviaQA", "entityquestions":
                 "EntityQuestions", "jsonl": "JSON Lines read with --question-field and "
                 "--answers-field"}


def _hint(path: str, data: bytes, fmt: str, q_field: str, a_field: str) -> str:
    guess = guess_format(path, fmt, q_field, a_field, data)
    if guess is None:
        return ""
    return (f"; this looks like {describe_format(guess, path)}, not {fmt}: pass "
            f"--qa-format {guess}")


def _reads(raw: object, fmt: str, q_field: str, a_field: str) -> bool:
    try:
        _extract(raw, fmt, q_field, a_field)
    except _BadRecord:
        return False
    return True


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
