"""The relevant-document heuristic of Kandpal et al. (2022), exactly, with its statuses visible.

For one QA pair with question entities Q and the answer-entity mention list A:
  - countries may be removed from Q first (`excluded`);
  - answer mentions whose entity is in Q are dropped;
  - the salient answer entities are those with the most mentions in A (ties: all);
  - relevant_docs = max over (q in Q, a in salient) of the documents containing both.
The winning pair is the first maximum with answers in the outer loop (as the reference code
loops), each side in URI order, so the result does not depend on set iteration order.
With no question or no answer entity there is no count (a status, not a zero); a count of 0
is reported as 0 with status `zero` and no winning pair.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass

from longtail.schemas.tables import (
    STATUS_COUNTED,
    STATUS_NO_ANSWER_ENTITY,
    STATUS_NO_QUESTION_ENTITY,
    STATUS_ZERO,
)


@dataclass(frozen=True, slots=True)
class RelevantDocs:
    q_entity: int | None
    a_entity: int | None
    relevant_docs: int | None
    q_docs: int | None
    a_docs: int | None
    status: str


def question_set(q_mentions: Iterable[int], excluded: Collection[int] = ()) -> set[int]:
    return {q for q in q_mentions if q not in excluded}


def answer_list(a_mentions: Iterable[int], questions: Collection[int]) -> list[int]:
    """Answer mentions (one entry per mention) whose entity is not a question entity."""
    return [a for a in a_mentions if a not in questions]


def salient_answers(answers: list[int]) -> list[int]:
    """The answer entities with the highest mention count (all of them on a tie)."""
    counts = Counter(answers)
    if not counts:
        return []
    top = max(counts.values())
    return [a for a, n in counts.items() if n == top]


def needed_pairs(q_mentions: Iterable[int], a_mentions: Iterable[int],
                 excluded: Collection[int] = ()) -> list[tuple[int, int]]:
    """The (q, a) pairs whose co-occurrence the heuristic will ask for."""
    questions = question_set(q_mentions, excluded)
    salient = salient_answers(answer_list(a_mentions, questions))
    return [(q, a) for q in questions for a in salient]


def relevant_documents(
    q_mentions: Iterable[int],
    a_mentions: Iterable[int],
    pair_docs: Callable[[int, int], int],
    doc_count: Mapping[int, int],
    uri_of: Callable[[int], str],
    excluded: Collection[int] = (),
) -> RelevantDocs:
    """The heuristic for one QA pair; `pair_docs(q, a)` counts documents with both entities."""
    questions = question_set(q_mentions, excluded)
    answers = answer_list(a_mentions, questions)
    answer_set = set(answers)
    q_docs = max((doc_count.get(q, 0) for q in questions), default=None)
    a_docs = max((doc_count.get(a, 0) for a in answer_set), default=None)
    if not questions:
        return RelevantDocs(None, None, None, q_docs, a_docs, STATUS_NO_QUESTION_ENTITY)
    if not answers:
        return RelevantDocs(None, None, None, q_docs, a_docs, STATUS_NO_ANSWER_ENTITY)
    best, winner = 0, (None, None)
    for a in sorted(salient_answers(answers), key=uri_of):
        for q in sorted(questions, key=uri_of):
            n = pair_docs(q, a)
            if n > best:
                best, winner = n, (q, a)
    status = STATUS_COUNTED if best > 0 else STATUS_ZERO
    return RelevantDocs(winner[0], winner[1], best, q_docs, a_docs, status)
