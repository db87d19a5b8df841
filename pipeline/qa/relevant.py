"""Assemble the relevant_docs table from QA entities and the counts the count stage gathered."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field

import pyarrow as pa

from longtail.qa.heuristic import needed_pairs, relevant_documents
from longtail.schemas.tables import QA_QUESTIONS, RELEVANT_DOCS, STATUS_LINKING_FAILED

QuestionKey = tuple[str, int]  # (source, row): unique, unlike the datasets' own ids


@dataclass
class QAEntityLists:
    """Every question with its question-entity and answer-entity mention lists, by key."""

    questions: pa.Table
    q_mentions: dict[QuestionKey, list[int]] = field(default_factory=dict)
    a_mentions: dict[QuestionKey, list[int]] = field(default_factory=dict)
    excluded: frozenset[int] = frozenset()

    @classmethod
    def from_tables(cls, questions: pa.Table, entities: pa.Table | None,
                    excluded: set[int] | frozenset[int] = frozenset()) -> QAEntityLists:
        """From the qa_questions and qa_entities tables (entities in any order)."""
        questions = questions.cast(QA_QUESTIONS).sort_by(
            [("source", "ascending"), ("row", "ascending")])
        lists = cls(questions, excluded=frozenset(excluded))
        if entities is not None and entities.num_rows:
            entities = entities.select(["source", "row", "role", "entity_id", "offset"]).sort_by(
                [("source", "ascending"), ("row", "ascending"), ("offset", "ascending")])
            q_lists: dict[QuestionKey, list[int]] = defaultdict(list)
            a_lists: dict[QuestionKey, list[int]] = defaultdict(list)
            for source, row, role, eid in zip(
                    entities["source"].to_pylist(), entities["row"].to_pylist(),
                    entities["role"].to_pylist(), entities["entity_id"].to_pylist(),
                    strict=True):
                (q_lists if role == "question" else a_lists)[(source, row)].append(eid)
            lists.q_mentions, lists.a_mentions = dict(q_lists), dict(a_lists)
        return lists

    def keys(self) -> list[QuestionKey]:
        return list(zip(self.questions["source"].to_pylist(), self.questions["row"].to_pylist(),
                        strict=True))

    def needed_pairs(self) -> set[tuple[int, int]]:
        pairs: set[tuple[int, int]] = set()
        for key in self.keys():
            pairs.update(needed_pairs(self.q_mentions.get(key, ()),
                                      self.a_mentions.get(key, ()), self.excluded))
        return pairs

    def entity_ids(self) -> set[int]:
        ids: set[int] = set()
        for mentions in (*self.q_mentions.values(), *self.a_mentions.values()):
            ids.update(mentions)
        return ids


def relevant_docs_table(
    qa: QAEntityLists,
    pair_docs: Mapping[tuple[int, int], int],
    doc_count: Mapping[int, int],
    uris: Mapping[int, str],
) -> pa.Table:
    """One row per question, in (source, row) order, with the heuristic's result and status."""
    cols: dict[str, list] = {name: [] for name in RELEVANT_DOCS.names}
    q = qa.questions
    for qid, row, source, question, answers, linked in zip(
        q["question_id"].to_pylist(), q["row"].to_pylist(), q["source"].to_pylist(),
        q["question"].to_pylist(), q["answers"].to_pylist(), q["linked"].to_pylist(),
        strict=True,
    ):
        key = (source, row)
        if linked:
            result = relevant_documents(
                qa.q_mentions.get(key, ()), qa.a_mentions.get(key, ()),
                lambda a, b: pair_docs.get((a, b), 0), doc_count,
                lambda e: uris.get(e, ""), qa.excluded)
            values = (uris.get(result.q_entity), uris.get(result.a_entity), result.relevant_docs,
                      result.q_docs, result.a_docs, result.status)
        else:
            values = (None, None, None, None, None, STATUS_LINKING_FAILED)
        for name, value in zip(RELEVANT_DOCS.names,
                               (qid, row, source, question, answers, *values), strict=True):
            cols[name].append(value)
    return pa.table(cols, schema=RELEVANT_DOCS)


def status_counts(table: pa.Table) -> dict[str, int]:
    return dict(sorted(Counter(table["status"].to_pylist()).items()))
