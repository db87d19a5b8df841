"""Which documents are a question's relevant documents: those holding both winning entities.

relevant_docs stores only the count and the winning (q_uri, a_uri) pair; the documents are
found again in doc_entities, so they are exactly the ones the count stage counted.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from longtail.analysis.tables import read_table, require
from longtail.linking.annotation import entity_id
from longtail.output.folder import OutputFolder
from longtail.output.views import connect
from longtail.schemas.tables import STATUS_COUNTED

_COLUMNS = ["question_id", "row", "question", "answers", "q_uri", "a_uri", "relevant_docs",
            "status"]


def counted_questions(out: OutputFolder) -> pa.Table:
    """relevant_docs rows with status `counted` (a winning pair and a count >= 1)."""
    require(out, "relevant_docs")
    table = read_table(out, "relevant_docs", columns=_COLUMNS)
    return table.filter(pc.equal(table["status"], STATUS_COUNTED))


def relevant_doc_pairs(out: OutputFolder, questions: pa.Table) -> pa.Table:
    """(question_id, doc_id) for every relevant document of `questions`, sorted by both.

    `questions` needs question_id, q_uri and a_uri; rows without a pair give nothing.
    """
    require(out, "doc_entities")
    ids, q, a = [], [], []
    for qid, q_uri, a_uri in zip(questions["question_id"].to_pylist(),
                                 questions["q_uri"].to_pylist(),
                                 questions["a_uri"].to_pylist(), strict=True):
        if q_uri and a_uri:
            ids.append(qid)
            q.append(entity_id(q_uri))
            a.append(entity_id(a_uri))
    pairs = pa.table({"question_id": pa.array(ids, pa.string()), "q": pa.array(q, pa.int64()),
                      "a": pa.array(a, pa.int64())})
    with connect(out) as con:
        con.register("pairs", pairs)
        return con.sql(
            "SELECT p.question_id, x.doc_id FROM pairs p "
            "JOIN doc_entities x ON x.entity_id = p.q "
            "JOIN doc_entities y ON y.doc_id = x.doc_id AND y.entity_id = p.a "
            "ORDER BY p.question_id, x.doc_id").to_arrow_table()
