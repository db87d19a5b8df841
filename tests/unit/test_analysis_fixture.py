"""A small linked corpus with every answer known in advance, shared by the analysis tests.

Corpus (two JSON Lines files, read in this order):
  a.jsonl: rows 0-29, doc_id = row, 400 characters each; positions 0-29
  b.jsonl: rows 0-9 valid, 800 characters each, doc_id = (1 << 40) | row; positions 30-39;
           row 10 is not JSON (a read failure, position 40)
Questions (relevant documents listed by position):
  q1  1 document  {2}                       bin 1-9
  q2  3 documents {5, 8, 33}                bin 1-9
  q3  12          {10..21}                  bin 10-99; Q3 also alone in 22, 23
  q4  15          {20..34}                  bin 10-99
  q5  zero        Q5 in {0, 1}, A5 in {2, 3}
  q6  no answer entity; q7 no question entity; q8 linking failed
Duplicates: 12 and 14 exact; 24 and 26 exact, 25 and 27 near copies of 24 (last word
changed), one cluster of four; b6 and b7 exact (upper case).
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from longtail.analysis.tables import read_table
from longtail.linking.annotation import entity_id
from longtail.output.failures import FailureRecord, failures_table
from longtail.output.folder import OutputFolder
from longtail.output.runner import commit_stage
from longtail.qa.relevant import QAEntityLists, relevant_docs_table
from longtail.schemas.tables import (
    DOC_ENTITIES,
    DOCS,
    ENTITY_URIS,
    QA_ENTITIES,
    QA_QUESTIONS,
    STATUS_COUNTED,
    STATUS_LINKING_FAILED,
    STATUS_NO_ANSWER_ENTITY,
    STATUS_NO_QUESTION_ENTITY,
    STATUS_ZERO,
)

B = 1 << 40
R = "http://dbpedia.org/resource/"
A_CHARS, B_CHARS = 400, 800


def doc_id(position: int) -> int:
    return position if position < 30 else B | (position - 30)


RELEVANT = {  # question -> positions of its relevant documents
    "q1": {2},
    "q2": {5, 8, 33},
    "q3": set(range(10, 22)),
    "q4": set(range(20, 35)),
}
MENTIONS = {  # entity URI -> positions of the documents that mention it
    R + "Q1": {2}, R + "A1": {2},
    R + "Q2": {5, 8, 33}, R + "A2": {5, 8, 33},
    R + "Q3": set(range(10, 24)), R + "A3": set(range(10, 22)),
    R + "Q4": set(range(20, 35)), R + "A4": set(range(20, 35)),
    R + "Q5": {0, 1}, R + "A5": {2, 3},
    R + "Q6": {6},
    R + "A7": {7},
}
QUESTIONS = [  # id, question, answers, question entities, answer entities, linked
    ("q1", "Which tower is in Paris?", ["Eiffel Tower", "La tour Eiffel"], ["Q1"], ["A1"], True),
    ("q2", "Who wrote Q2?", ["Author Two"], ["Q2"], ["A2"], True),
    ("q3", "What is Q3?", ["Answer Three"], ["Q3"], ["A3"], True),
    ("q4", "What is Q4?", ["Answer Four"], ["Q4"], ["A4"], True),
    ("q5", "What is Q5?", ["Answer Five"], ["Q5"], ["A5"], True),
    ("q6", "What is Q6?", ["Answer Six"], ["Q6"], [], True),
    ("q7", "What is seven?", ["Answer Seven"], [], ["A7"], True),
    ("q8", "What is eight?", ["Answer Eight"], [], [], False),
]
STATUS = {"q1": STATUS_COUNTED, "q2": STATUS_COUNTED, "q3": STATUS_COUNTED,
          "q4": STATUS_COUNTED, "q5": STATUS_ZERO, "q6": STATUS_NO_ANSWER_ENTITY,
          "q7": STATUS_NO_QUESTION_ENTITY, "q8": STATUS_LINKING_FAILED}


@dataclass
class Fixture:
    out: OutputFolder
    corpus: Path
    files: list[Path]
    texts: dict[int, str]  # doc_id -> text


def _text(rng: random.Random, length: int) -> str:
    words: list[str] = []
    while sum(len(w) + 1 for w in words) < length + 10:
        words.append("".join(rng.choice("abcdefghijklmnopqrstuvwxyz")
                             for _ in range(rng.randint(3, 9))))
    text = " ".join(words)[:length]
    return text[:-1] + "x" if text.endswith(" ") else text


def corpus_texts() -> dict[int, str]:
    rng = random.Random(7)
    texts = {doc_id(p): _text(rng, A_CHARS if p < 30 else B_CHARS) for p in range(40)}
    texts[14] = texts[12].upper()
    texts[26] = texts[24].replace(" ", "\t", 1)
    texts[25] = texts[24][:-4] + "qqqq"
    texts[27] = texts[24][:-4] + "wwww"
    texts[B | 7] = texts[B | 6].upper()
    return texts


def build_out(root: Path) -> Fixture:
    """Write the corpus files and every pipeline table of the fixture under `root`."""
    corpus = root / "corpus"
    corpus.mkdir(parents=True)
    texts = corpus_texts()
    files = [corpus / "a.jsonl", corpus / "b.jsonl"]
    files[0].write_text("".join(json.dumps({"text": texts[p]}) + "\n" for p in range(30)),
                        encoding="utf-8")
    files[1].write_text("".join(json.dumps({"text": texts[B | r]}) + "\n" for r in range(10))
                        + "{not json\n", encoding="utf-8")
    out = OutputFolder(root / "out")
    ids = sorted(texts)
    per_doc = {d: 0 for d in ids}
    de_rows = []
    for uri, positions in MENTIONS.items():
        for p in sorted(positions):
            de_rows.append((doc_id(p), entity_id(uri)))
            per_doc[doc_id(p)] += 1
    uris = sorted(MENTIONS)
    entity_uris = pa.table({
        "entity_id": [entity_id(u) for u in uris], "uri": uris, "support": [100] * len(uris),
        "types": [[]] * len(uris)}, schema=ENTITY_URIS)
    commit_stage(out, "link", {
        "docs": pa.table({
            "doc_id": ids, "source": [str(files[d >> 40]) for d in ids],
            "row": [d & (B - 1) for d in ids], "external_id": [None] * len(ids),
            "n_chars": [len(texts[d]) for d in ids], "n_mentions": [per_doc[d] for d in ids],
            "status": ["linked"] * len(ids)}, schema=DOCS),
        "failures": failures_table([FailureRecord(
            B | 10, str(files[1]), 10, "read", "invalid_json", "Expecting property name")]),
        "entity_uris": entity_uris,
    }, inputs={"corpus": [str(f) for f in files]},
        parameters={"corpus_format": None, "text_field": "text", "id_field": None})
    commit_stage(out, "index", {"doc_entities": pa.table({
        "doc_id": [d for d, _ in de_rows], "entity_id": [e for _, e in de_rows],
        "mentions": [1] * len(de_rows)}, schema=DOC_ENTITIES)}, reads=["docs"])
    q_cols: dict[str, list] = {n: [] for n in QA_QUESTIONS.names}
    e_cols: dict[str, list] = {n: [] for n in QA_ENTITIES.names}
    for row, (qid, question, answers, q_ents, a_ents, linked) in enumerate(QUESTIONS):
        for name, value in zip(QA_QUESTIONS.names, (qid, row, "qa.jsonl", question, answers,
                                                    linked), strict=True):
            q_cols[name].append(value)
        for role, names, offset in (("question", q_ents, 0), ("answer", a_ents, len(question))):
            for name in names:
                for col, value in zip(QA_ENTITIES.names, (
                        qid, row, "qa.jsonl", role, entity_id(R + name), name, offset, 0.9,
                        0.0), strict=True):
                    e_cols[col].append(value)
    questions = pa.table(q_cols, schema=QA_QUESTIONS)
    qa_entities = pa.table(e_cols, schema=QA_ENTITIES)
    commit_stage(out, "qa", {"qa_questions": questions, "qa_entities": qa_entities,
                             "entity_uris": entity_uris})
    qa = QAEntityLists.from_tables(questions, qa_entities)
    docs_of = {entity_id(u): {doc_id(p) for p in ps} for u, ps in MENTIONS.items()}
    pair_docs = {(q, a): len(docs_of[q] & docs_of[a]) for q, a in qa.needed_pairs()}
    table = relevant_docs_table(qa, pair_docs, {e: len(d) for e, d in docs_of.items()},
                                {entity_id(u): u for u in uris})
    commit_stage(out, "count", {"relevant_docs": table},
                 reads=["doc_entities", "qa_questions", "qa_entities"])
    return Fixture(out, corpus, files, texts)


def test_fixture_counts_are_what_its_docstring_says(tmp_path):
    fixture = build_out(tmp_path)
    rd = read_table(fixture.out, "relevant_docs").to_pylist()
    by_id = {r["question_id"]: r for r in rd}
    assert {q: r["status"] for q, r in by_id.items()} == STATUS
    assert {q: by_id[q]["relevant_docs"] for q in RELEVANT} == {"q1": 1, "q2": 3, "q3": 12,
                                                                "q4": 15}
    assert by_id["q3"]["q_docs"] == 14
    assert all(len(fixture.texts[doc_id(p)]) == (A_CHARS if p < 30 else B_CHARS)
               for p in range(40))
