"""The QA set read whole and judged before any work starts (QA files are small).

A file whose records mostly fail is the wrong format, not a dataset: more than
`max_failed_share` of a file's records failing stops with one line that names the file, the
commonest reason and, when another `--qa-format` reads its first records, that format. A QA
set that ends up with no question at all stops too. The pairs read are kept, so the stage
does not read the files a second time.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from longtail.corpus.preflight import DEFAULT_MAX_FAILED_SHARE, check_max_failed_share
from longtail.errors import UsageError
from longtail.output.failures import FailureRecord
from longtail.qa.readers import (
    QAPair,
    check_format,
    describe_format,
    guess_format,
    read_qa_file,
    record_fields,
    resolve_qa_paths,
)


@dataclass
class QAPreflight:
    """What the QA files hold: every pair and every read failure, in file then row order."""

    files: list[str]
    pairs: list[QAPair] = field(default_factory=list)
    failures: list[FailureRecord] = field(default_factory=list)

    @property
    def records(self) -> int:
        return len(self.pairs) + len(self.failures)

    @property
    def failure_reasons(self) -> dict[str, int]:
        return dict(Counter(f.reason for f in self.failures).most_common())


def check_qa(
    paths: Iterable[str],
    qa_format: str,
    question_field: str = "question",
    answers_field: str = "answer",
    dedupe_answers: bool = False,
    max_failed_share: float = DEFAULT_MAX_FAILED_SHARE,
) -> QAPreflight:
    """Read every QA file; raise `UsageError` with one line when a file is empty, unreadable,
    not in `qa_format`, or has more than `max_failed_share` of its records failing, or when
    no question is left."""
    check_format(qa_format)
    check_max_failed_share(max_failed_share)
    result = QAPreflight(resolve_qa_paths(paths))
    for path in result.files:
        pairs: list[QAPair] = []
        failures: list[FailureRecord] = []
        for record in read_qa_file(path, qa_format, question_field, answers_field,
                                   dedupe_answers):
            (failures if isinstance(record, FailureRecord) else pairs).append(record)
        records = len(pairs) + len(failures)
        if failures and len(failures) > max_failed_share * records:
            raise UsageError(_too_many_failures(path, qa_format, question_field, answers_field,
                                                failures, records))
        result.pairs.extend(pairs)
        result.failures.extend(failures)
    if not result.pairs:
        raise UsageError(f"no question could be read from the QA set ({result.records:,} "
                         f"records, all failed: {_reasons(result.failures)})")
    return result


def _too_many_failures(path: str, fmt: str, q_field: str, a_field: str,
                       failures: list[FailureRecord], records: int) -> str:
    reason, n = Counter(f.reason for f in failures).most_common(1)[0]
    detail = next(f.detail for f in failures if f.reason == reason)
    line = (f"QA file {path}: {len(failures):,} of {records:,} records fail as --qa-format "
            f"{fmt} ({n:,} {reason}: {detail})")
    guess = guess_format(path, fmt, q_field, a_field)
    if guess is not None:
        return (f"{line}; this looks like {describe_format(guess, path)}, not {fmt}: pass "
                f"--qa-format {guess}")
    fields = record_fields(path)
    seen = f"its records have: {', '.join(fields)}" if fields else "its records are not objects"
    if fmt == "jsonl" and fields:
        return (f"{line}; {seen}: pass the --question-field and --answers-field that hold the "
                "question and its answers")
    return (f"{line}; no other --qa-format reads it either ({seen}); fix the file, or pass "
            "--max-failed-share 1 to read it anyway")


def _reasons(failures: list[FailureRecord]) -> str:
    counts = Counter(f.reason for f in failures).most_common()
    return ", ".join(f"{n:,} {reason}" for reason, n in counts) or "none"


def linked_questions_problem(stats: Mapping) -> str | None:
    """The one line to print (or raise) when the qa stage's summed stats show a QA set that
    cannot give a single relevant-document count; None when it can."""
    pairs = int(stats.get("pairs", 0))
    linked = int(stats.get("linked", 0))
    if pairs == 0:
        return "qa: the QA set holds no question that could be read; see OUT/failures"
    if linked == 0:
        reasons = ", ".join(f"{n:,} {r}" for r, n in Counter(
            stats.get("failure_reasons") or {}).most_common())
        return (f"qa: linking failed for all {pairs:,} questions"
                f"{f' ({reasons})' if reasons else ''}; see OUT/failures")
    if not stats.get("question_mentions"):
        return (f"qa: 0 of {linked:,} linked questions has a question entity: no "
                "relevant-document count is possible; check the linker (--model, "
                "--confidence, --support)")
    if not stats.get("answer_mentions"):
        return (f"qa: 0 of {linked:,} linked questions has an answer entity: no "
                "relevant-document count is possible; check the linker (--model, "
                "--confidence, --support) and the answers field")
    return None
