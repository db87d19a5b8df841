"""The question explorer's data: every question, and a few relevant documents of some.

The page embeds it as gzip-compressed JSON in base64 and the browser inflates it with its
own DecompressionStream, so no library and no request is needed. The size is bounded:
- per question a few short columns (text, answers, status, count, the winning pair as
  indexes into one list of entity URIs, the linked entities): about 60 compressed bytes;
- documents only for `doc_questions` questions (default 2,000; drawn in turn from every bin
  of counts, in a seeded order), at most `docs_per_question` each, each a window of
  `SNIPPET_CHARS` characters around the two entities' mentions, a document shared by
  questions stored once.
So 100,000 questions make a page of a few megabytes (bench/report_size.py measures it).
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from longtail.analysis.bins import count_bin
from longtail.errors import UsageError
from longtail.linking.annotation import entity_id
from longtail.output.folder import OutputFolder

SNIPPET_CHARS = 320
DOC_QUESTIONS = 2_000
DOCS_PER_QUESTION = 3
MAX_ANSWERS = 5
MAX_ANSWER_CHARS = 80


@dataclass
class ExplorerData:
    """Columns of the explorer, ready for JSON (see `to_json`)."""

    columns: dict[str, list] = field(default_factory=dict)
    entities: list[str] = field(default_factory=list)
    documents: dict[int, list] = field(default_factory=dict)  # question index -> documents
    texts: list[str] = field(default_factory=list)  # snippet texts, shared
    doc_questions: int = 0  # questions whose documents are embedded
    corpus_note: str = ""

    def to_json(self) -> dict:
        return {**self.columns, "entities": self.entities, "texts": self.texts,
                "docs": {str(k): v for k, v in self.documents.items()},
                "doc_questions": self.doc_questions, "corpus_note": self.corpus_note}


def explorer_data(out: OutputFolder, con, doc_questions: int = DOC_QUESTIONS,
                  docs_per_question: int = DOCS_PER_QUESTION, seed: int = 0) -> ExplorerData:
    """From a `connect()`-ed OUT whose relevant_docs is fresh (qa_entities, doc_entities,
    mentions and the corpus add to it when they are there)."""
    rd = con.sql(
        "SELECT question_id, source, row, question, answers, status, relevant_docs, q_uri, "
        "a_uri, q_docs, a_docs FROM relevant_docs ORDER BY source, row").to_arrow_table()
    data = ExplorerData()
    uri_index: dict[str, int] = {}

    def ref(uri: str | None) -> int:
        if uri is None:
            return -1
        if uri not in uri_index:
            uri_index[uri] = len(data.entities)
            data.entities.append(uri)
        return uri_index[uri]

    sources = sorted(set(rd["source"].to_pylist()))
    statuses = sorted(set(rd["status"].to_pylist()))
    data.columns = {
        "id": rd["question_id"].to_pylist(),
        "sources": sources,
        "src": [sources.index(s) for s in rd["source"].to_pylist()] if len(sources) > 1
        else [],
        "row": rd["row"].to_pylist(),
        "q": rd["question"].to_pylist(),
        "a": [[a[:MAX_ANSWER_CHARS] for a in answers[:MAX_ANSWERS]]
              for answers in rd["answers"].to_pylist()],
        "statuses": statuses,
        "s": [statuses.index(s) for s in rd["status"].to_pylist()],
        "n": rd["relevant_docs"].to_pylist(),
        "qe": [ref(u) for u in rd["q_uri"].to_pylist()],
        "ae": [ref(u) for u in rd["a_uri"].to_pylist()],
        "qd": rd["q_docs"].to_pylist(),
        "ad": rd["a_docs"].to_pylist(),
    }
    data.columns["le"] = _linked_entities(con, rd, ref)
    if doc_questions > 0 and docs_per_question > 0:
        _add_documents(out, con, rd, data, doc_questions, docs_per_question, seed)
    return data


def _fresh(con, table: str) -> bool:
    try:
        con.execute(f"SELECT 1 FROM {table} LIMIT 0").fetchall()
    except Exception:  # a stale table's view raises its reason
        return False
    return True


def _linked_entities(con, rd: pa.Table, ref) -> list[list]:
    """Per question, its linked entities: [entity index, surface form, 0 question / 1 answer],
    each entity once per role, in text order."""
    linked: list[list] = [[] for _ in range(rd.num_rows)]
    if not _fresh(con, "qa_entities"):
        return linked
    at = {key: i for i, key in enumerate(zip(rd["source"].to_pylist(), rd["row"].to_pylist(),
                                             strict=True))}
    rows = con.execute(
        "SELECT q.source, q.row, q.role, u.uri, q.surface_form FROM qa_entities q "
        "JOIN (SELECT entity_id, any_value(uri) AS uri FROM entity_uris GROUP BY entity_id) u "
        "USING (entity_id) ORDER BY q.source, q.row, q.role DESC, q.\"offset\"").fetchall()
    seen: set[tuple] = set()
    for source, row, role, uri, surface in rows:
        i = at.get((source, row))
        key = (i, role, uri)
        if i is None or key in seen:
            continue
        seen.add(key)
        linked[i].append([ref(uri), surface, 0 if role == "question" else 1])
    return linked


def choose_questions(rd: pa.Table, limit: int, seed: int = 0) -> list[int]:
    """Indexes of up to `limit` questions with a winning pair and a count >= 1, taken in turn
    from each bin of counts, each bin in a seeded order."""
    by_bin: dict[int, list[tuple[bytes, int]]] = defaultdict(list)
    for i, (count, source, row) in enumerate(zip(
            rd["relevant_docs"].to_pylist(), rd["source"].to_pylist(), rd["row"].to_pylist(),
            strict=True)):
        if count:
            digest = hashlib.blake2b(f"{seed}\0{source}\0{row}".encode(), digest_size=8)
            by_bin[count_bin(count).order].append((digest.digest(), i))
    queues = [sorted(by_bin[order]) for order in sorted(by_bin)]
    chosen: list[int] = []
    while len(chosen) < limit and any(queues):
        for queue in queues:
            if queue and len(chosen) < limit:
                chosen.append(queue.pop(0)[1])
    return sorted(chosen)


def _add_documents(out: OutputFolder, con, rd: pa.Table, data: ExplorerData, limit: int,
                   per_question: int, seed: int) -> None:
    if not (_fresh(con, "doc_entities") and _fresh(con, "mentions")):
        data.corpus_note = "no fresh doc_entities and mentions: documents are not shown"
        return
    chosen = choose_questions(rd, limit, seed)
    if not chosen:
        return
    found = _first_relevant_docs(con, rd, chosen, per_question)
    wanted = pa.table({"doc_id": pa.array([d for _, d, _, _ in found], pa.int64()),
                       "q": pa.array([q for _, _, q, _ in found], pa.int64()),
                       "a": pa.array([a for _, _, _, a in found], pa.int64())})
    con.register("explorer_docs", wanted)
    spans: dict[tuple[int, int], list[tuple[int, int]]] = defaultdict(list)
    for doc_id, eid, offset, surface in con.execute(
            "SELECT DISTINCT m.doc_id, m.entity_id, m.\"offset\", m.surface_form FROM mentions m "
            "JOIN explorer_docs w ON w.doc_id = m.doc_id AND m.entity_id IN (w.q, w.a) "
            "ORDER BY m.doc_id, m.\"offset\"").fetchall():
        spans[(doc_id, eid)].append((offset, offset + len(surface)))
    con.unregister("explorer_docs")
    texts = _texts(out, {d for _, d, _, _ in found}, data)
    text_index: dict[str, int] = {}
    for k, doc_id, q, a in found:
        marks = sorted([(s, e, 0) for s, e in spans.get((doc_id, q), [])]
                       + [(s, e, 1) for s, e in spans.get((doc_id, a), [])])
        window, shifted = snippet(texts.get(doc_id), marks)
        if window not in text_index:
            text_index[window] = len(data.texts)
            data.texts.append(window)
        data.documents.setdefault(k, []).append([doc_id, text_index[window], shifted])
    data.doc_questions = len(chosen)


def _first_relevant_docs(con, rd: pa.Table, chosen: list[int], per_question: int
                         ) -> list[tuple[int, int, int, int]]:
    """(question index, doc_id, q entity, a entity) for the first `per_question` documents
    holding both entities of each chosen question's winning pair. The documents of every
    entity involved are read once (from entity_docs, sorted by entity, when it is fresh) and
    intersected here: a join per pair would build as many rows as the questions' entities
    have documents."""
    q_ids = [entity_id(rd["q_uri"][i].as_py()) for i in chosen]
    a_ids = [entity_id(rd["a_uri"][i].as_py()) for i in chosen]
    table = "entity_docs" if _fresh(con, "entity_docs") and con.execute(
        "SELECT count(*) > 0 FROM entity_docs").fetchall()[0][0] else "doc_entities"
    con.register("explorer_entities", pa.table({"entity_id": pa.array(
        sorted(set(q_ids) | set(a_ids)), pa.int64())}))
    postings = con.sql(
        f"SELECT entity_id, doc_id FROM {table} WHERE entity_id IN "
        "(SELECT entity_id FROM explorer_entities) ORDER BY entity_id, doc_id").to_arrow_table()
    con.unregister("explorer_entities")
    entities = postings["entity_id"].to_numpy()
    docs = postings["doc_id"].to_numpy()

    def docs_of(eid: int) -> np.ndarray:
        return docs[np.searchsorted(entities, eid, "left"):np.searchsorted(entities, eid,
                                                                             "right")]

    found = []
    for k, q, a in zip(chosen, q_ids, a_ids, strict=True):
        small, large = sorted((docs_of(q), docs_of(a)), key=len)
        if not len(small) or not len(large):
            continue
        at = np.minimum(np.searchsorted(large, small), len(large) - 1)
        both = small[large[at] == small][:per_question]
        found.extend((k, int(d), q, a) for d in both)
    return found


def _texts(out: OutputFolder, doc_ids: set[int], data: ExplorerData) -> dict[int, str]:
    from longtail.corpus.linked import LinkedCorpus

    try:
        corpus = LinkedCorpus.from_record(out)
        return {d.doc_id: d.text for d in corpus.documents(doc_ids)}
    except (UsageError, OSError) as err:
        data.corpus_note = f"the corpus texts could not be read here ({err}): documents are " \
                           "shown by id only"
        return {}


def snippet(text: str | None, marks: list[tuple[int, int, int]], width: int = SNIPPET_CHARS
            ) -> tuple[str, list[list[int]]]:
    """A window of about `width` characters around the marks, '…' where cut, and the marks
    moved into it ([start, end, role])."""
    if text is None:
        return "", []
    if not marks:
        return text[:width] + ("…" if len(text) > width else ""), []
    first, last = marks[0][0], max(e for _, e, _ in marks)
    room = max(0, width - (last - first))
    start = max(0, first - room // 2)
    end = min(len(text), max(last, start + width) if last - first < width else first + width)
    prefix = "…" if start > 0 else ""
    window = prefix + text[start:end] + ("…" if end < len(text) else "")
    shift = len(prefix) - start
    kept = [[s + shift, e + shift, role] for s, e, role in marks if s >= start and e <= end]
    return window.replace("\n", " "), kept


def encode(data: ExplorerData) -> str:
    """The explorer's JSON, gzip-compressed, in base64 (what the page embeds)."""
    raw = json.dumps(data.to_json(), ensure_ascii=False, separators=(",", ":"))
    return base64.b64encode(gzip.compress(raw.encode("utf-8"), 6, mtime=0)).decode("ascii")
