"""The relevant-document heuristic, worked by hand on small cases."""

from __future__ import annotations

from longtail.qa.heuristic import needed_pairs, relevant_documents, salient_answers
from longtail.schemas.tables import (
    STATUS_COUNTED,
    STATUS_NO_ANSWER_ENTITY,
    STATUS_NO_QUESTION_ENTITY,
    STATUS_ZERO,
)

URIS = {1: "Q_Paris", 2: "Q_France", 3: "A_Seine", 4: "A_Loire", 5: "A_River", 9: "Q_Japan"}
DOCS = {  # which documents mention each entity
    1: {10, 11, 12, 13},
    2: {11, 12, 14},
    3: {10, 11, 12},
    4: {12, 14},
    5: {10, 13, 14, 15},
    9: {16},
}


def pair_docs(q: int, a: int) -> int:
    return len(DOCS[q] & DOCS[a])


DOC_COUNT = {e: len(d) for e, d in DOCS.items()}


def run(q, a, excluded=()):
    return relevant_documents(q, a, pair_docs, DOC_COUNT, URIS.__getitem__, excluded)


def test_salient_answers_keeps_every_tie():
    assert sorted(salient_answers([3, 4, 3, 4, 5])) == [3, 4]
    assert salient_answers([5, 3, 3]) == [3]
    assert salient_answers([]) == []


def test_max_over_question_and_salient_answer_pairs():
    # Q = {Paris, France}; answers: Seine mentioned twice, Loire once -> only Seine is salient.
    result = run([1, 2], [3, 3, 4])
    # Paris & Seine share {10, 11, 12} = 3; France & Seine share {11, 12} = 2.
    assert (result.relevant_docs, result.q_entity, result.a_entity) == (3, 1, 3)
    assert result.status == STATUS_COUNTED
    assert result.q_docs == 4  # Paris is in 4 documents
    assert result.a_docs == 3  # max over {Seine, Loire}: Seine 3, Loire 2


def test_answer_entities_that_are_question_entities_are_dropped_before_salience():
    # Paris appears among the answer mentions three times but is a question entity.
    result = run([1], [1, 1, 1, 4])
    assert result.a_entity == 4 and result.relevant_docs == 1  # Paris & Loire: {12}
    assert result.a_docs == 2


def test_tie_between_pairs_picks_first_in_uri_order():
    # Seine and Loire tie as salient; France & Loire = {12, 14} = 2, Paris & Seine = 3 wins.
    result = run([2, 1], [4, 3])
    assert (result.q_entity, result.a_entity, result.relevant_docs) == (1, 3, 3)
    # Exact tie: France & Seine = 2 and France & Loire = 2 -> the first answer in URI order wins.
    tie = run([2], [3, 4])
    assert tie.relevant_docs == 2 and tie.a_entity == 4  # "A_Loire" < "A_Seine"


def test_zero_is_a_count_with_its_own_status_and_no_pair():
    result = run([9], [3])  # Japan and Seine never co-occur
    assert result.relevant_docs == 0 and result.status == STATUS_ZERO
    assert result.q_entity is None and result.a_entity is None
    assert result.q_docs == 1 and result.a_docs == 3


def test_no_question_entity_and_no_answer_entity_are_statuses_not_zeros():
    none_q = run([], [3])
    assert none_q.status == STATUS_NO_QUESTION_ENTITY and none_q.relevant_docs is None
    assert none_q.q_docs is None and none_q.a_docs == 3
    none_a = run([1], [1])  # the only answer entity is also the question entity
    assert none_a.status == STATUS_NO_ANSWER_ENTITY and none_a.relevant_docs is None
    assert none_a.a_docs is None and none_a.q_docs == 4


def test_excluded_countries_leave_the_question_set():
    with_country = run([1, 2], [4])
    assert with_country.q_entity == 2 and with_country.relevant_docs == 2  # France & Loire
    without = run([1, 2], [4], excluded={2})
    assert without.q_entity == 1 and without.relevant_docs == 1  # Paris & Loire
    only_country = run([2], [4], excluded={2})
    assert only_country.status == STATUS_NO_QUESTION_ENTITY
    # An excluded country among the answers stays an answer entity.
    assert run([1, 2], [2], excluded={2}).a_entity == 2


def test_needed_pairs_are_question_entities_times_salient_answers():
    assert sorted(needed_pairs([1, 2, 1], [3, 3, 4])) == [(1, 3), (2, 3)]
    assert needed_pairs([], [3]) == []
    assert sorted(needed_pairs([1, 2], [4], excluded={2})) == [(1, 4)]
