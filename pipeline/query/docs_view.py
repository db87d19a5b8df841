"""`longtail docs OUT QUESTION_ID`: the questions with an id, their winning pairs and relevant
documents. Refuses, with the reason, when the counts or the index are stale."""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb

from longtail.corpus.linked import LinkedCorpus
from longtail.errors import UsageError
from longtail.linking.annotation import entity_id
from longtail.output.folder import OutputFolder
from longtail.output.views import connect, query_error

SNIPPET_CHARS = 120
READS = ["relevant_docs", "doc_entities", "docs", "mentions"]


@dataclass
class RelevantDocument:
    doc_id: int
    source: str
    row: int
    snippet: str
    spans: list[tuple[int, int]] = field(default_factory=list)


@dataclass
class QuestionReport:
    question_id: str
    source: str
    row: int
    question: str
    answers: list[str]
    status: str
    q_uri: str | None
    a_uri: str | None
    relevant_docs: int | None
    q_docs: int | None
    a_docs: int | None
    documents: list[RelevantDocument] = field(default_factory=list)


def question_reports(out_root: str, question_id: str, limit: int = 10) -> list[QuestionReport]:
    """Every question with this id (ids are not always unique), in file and row order."""
    out = OutputFolder(out_root)
    with connect(out, reads=READS) as con:
        try:
            rows = con.execute(
                "SELECT question_id, source, row, question, answers, status, q_uri, a_uri, "
                "relevant_docs, q_docs, a_docs FROM relevant_docs WHERE question_id = ? "
                "ORDER BY source, row", [question_id]).fetchall()
        except duckdb.Error as err:
            raise UsageError(query_error(err)) from None
        if not rows:
            raise UsageError(f"no question {question_id!r} in {out.display()} (see: longtail "
                             "query OUT \"SELECT question_id, question FROM relevant_docs\")")
        reports = [QuestionReport(*row) for row in rows]
        for report in reports:
            _relevant_documents(con, report, limit)
    corpus = None
    if any(r.documents for r in reports):
        try:
            corpus = LinkedCorpus.from_record(out)
        except UsageError:  # the corpus moved: show the documents without their text
            corpus = None
    for report in reports:
        for document in report.documents:
            text = corpus.text(document.doc_id) if corpus else None
            document.snippet = snippet(text, document.spans)
    return reports


def _relevant_documents(con, report: QuestionReport, limit: int) -> None:
    """The first `limit` documents holding the question's winning pair, with mention spans."""
    if not (report.q_uri and report.a_uri):
        return
    q, a = entity_id(report.q_uri), entity_id(report.a_uri)
    docs = con.execute(
        "SELECT d.doc_id, d.source, d.row FROM doc_entities x "
        "JOIN doc_entities y ON x.doc_id = y.doc_id AND y.entity_id = ? "
        "JOIN docs d ON d.doc_id = x.doc_id WHERE x.entity_id = ? "
        "ORDER BY d.doc_id LIMIT ?", [a, q, limit]).fetchall()
    if not docs:
        return
    spans: dict[int, list[tuple[int, int]]] = {}
    for doc_id, offset, surface in con.execute(
        "SELECT doc_id, \"offset\", surface_form FROM mentions "
        "WHERE doc_id IN (SELECT unnest(?)) AND entity_id IN (?, ?) ORDER BY \"offset\"",
        [[d[0] for d in docs], q, a],
    ).fetchall():
        spans.setdefault(doc_id, []).append((offset, offset + len(surface)))
    report.documents = [RelevantDocument(doc_id, source, row, "", spans.get(doc_id, []))
                        for doc_id, source, row in docs]


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
