"""`longtail docs OUT QUESTION_ID`: a question, its winning pair and its relevant documents."""

from __future__ import annotations

from dataclasses import dataclass, field

from longtail.analysis.corpus_access import LinkedCorpus
from longtail.errors import UsageError
from longtail.linking.annotation import entity_id
from longtail.output import OutputFolder
from longtail.query.database import connect

SNIPPET_CHARS = 120


@dataclass
class RelevantDocument:
    doc_id: int
    source: str
    row: int
    snippet: str


@dataclass
class QuestionReport:
    question_id: str
    question: str
    answers: list[str]
    status: str
    q_uri: str | None
    a_uri: str | None
    relevant_docs: int | None
    q_docs: int | None
    a_docs: int | None
    documents: list[RelevantDocument] = field(default_factory=list)


def question_report(out_root: str, question_id: str, limit: int = 10) -> QuestionReport:
    with connect(out_root) as con:
        row = con.execute(
            "SELECT question_id, question, answers, status, q_uri, a_uri, relevant_docs, q_docs, "
            "a_docs FROM relevant_docs WHERE question_id = ?", [question_id]).fetchone()
        if row is None:
            raise UsageError(f"no question {question_id!r} in {out_root}/relevant_docs "
                             "(see: longtail query OUT \"SELECT question_id FROM relevant_docs\")")
        report = QuestionReport(*row)
        if not (report.q_uri and report.a_uri):
            return report
        q, a = entity_id(report.q_uri), entity_id(report.a_uri)
        docs = con.execute(
            "SELECT d.doc_id, d.source, d.row FROM doc_entities x "
            "JOIN doc_entities y ON x.doc_id = y.doc_id AND y.entity_id = ? "
            "JOIN docs d ON d.doc_id = x.doc_id WHERE x.entity_id = ? "
            "ORDER BY d.doc_id LIMIT ?", [a, q, limit]).fetchall()
        spans: dict[int, list[tuple[int, int]]] = {}
        if docs:
            ids = [d[0] for d in docs]
            for doc_id, offset, surface in con.execute(
                "SELECT doc_id, \"offset\", surface_form FROM mentions "
                "WHERE doc_id IN (SELECT unnest(?)) AND entity_id IN (?, ?) ORDER BY \"offset\"",
                [ids, q, a],
            ).fetchall():
                spans.setdefault(doc_id, []).append((offset, offset + len(surface)))
    try:
        corpus = LinkedCorpus.from_manifest(OutputFolder(out_root))
    except UsageError:  # the corpus moved: show the documents without their text
        corpus = None
    for doc_id, source, row_no in docs:
        text = corpus.text(doc_id) if corpus else None
        report.documents.append(RelevantDocument(doc_id, source, row_no,
                                                 snippet(text, spans.get(doc_id, []))))
    return report


def snippet(text: str | None, spans: list[tuple[int, int]], width: int = SNIPPET_CHARS) -> str:
    """Text around the first and last mention, mentions in [brackets], cut to about `width`."""
    if text is None:
        return "(source not readable any more)"
    if not spans:
        return text[:width].replace("\n", " ")
    start = max(0, spans[0][0] - width // 2)
    end = min(len(text), max(spans[-1][1], spans[0][1]) + width // 2)
    pieces, cursor = [], start
    for s, e in spans:
        if s < cursor or e > end:
            continue
        pieces += [text[cursor:s], "[", text[s:e], "]"]
        cursor = e
    pieces.append(text[cursor:end])
    body = "".join(pieces).replace("\n", " ")
    return ("..." if start > 0 else "") + body + ("..." if end < len(text) else "")
