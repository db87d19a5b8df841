"""Every table longtail writes, declared once.

Spark writers, the local writers, the DuckDB views and the tests all read these declarations.
Document ids and entity ids are 64-bit integers; entity URIs are stored in `entity_uris` and
`entities`, not repeated per mention.
"""

from __future__ import annotations

import pyarrow as pa

# One entity mention as a linker returns it. Every linker (Spotlight client, embedded linker)
# produces exactly these fields; `offset` counts Python code points, not UTF-16 units.
ANNOTATION = pa.schema(
    [
        pa.field("doc_id", pa.int64(), nullable=False),
        pa.field("uri", pa.string(), nullable=False),
        pa.field("surface_form", pa.string(), nullable=False),
        pa.field("offset", pa.int32(), nullable=False),
        pa.field("similarity", pa.float64(), nullable=False),
        pa.field("second_rank", pa.float64(), nullable=False),
        pa.field("support", pa.int64(), nullable=False),
        pa.field("types", pa.list_(pa.string()), nullable=False),
    ]
)

# A document that could not be read or linked, with the reason. `doc_id` is null only when
# no row could be identified (an unreadable file).
FAILURES = pa.schema(
    [
        pa.field("doc_id", pa.int64()),
        pa.field("source", pa.string(), nullable=False),
        pa.field("row", pa.int64()),
        pa.field("stage", pa.string(), nullable=False),
        pa.field("reason", pa.string(), nullable=False),
        pa.field("detail", pa.string(), nullable=False),
    ]
)

# Every input document that was read: status is "linked" (the linker ran on it, whatever it
# found) or "empty" (no text to link). Failed documents are in `failures` instead.
DOCS = pa.schema(
    [
        pa.field("doc_id", pa.int64(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("row", pa.int64(), nullable=False),
        pa.field("external_id", pa.string()),
        pa.field("n_chars", pa.int64(), nullable=False),
        pa.field("n_mentions", pa.int32(), nullable=False),
        pa.field("status", pa.string(), nullable=False),
    ]
)

MENTIONS = pa.schema(
    [
        pa.field("doc_id", pa.int64(), nullable=False),
        pa.field("entity_id", pa.int64(), nullable=False),
        pa.field("surface_form", pa.string(), nullable=False),
        pa.field("offset", pa.int32(), nullable=False),
        pa.field("similarity", pa.float64(), nullable=False),
        pa.field("second_rank", pa.float64(), nullable=False),
    ]
)

# URI of every entity id any stage produced (written per shard; may repeat across shards).
ENTITY_URIS = pa.schema(
    [
        pa.field("entity_id", pa.int64(), nullable=False),
        pa.field("uri", pa.string(), nullable=False),
        pa.field("support", pa.int64(), nullable=False),
        pa.field("types", pa.list_(pa.string()), nullable=False),
    ]
)

ENTITIES = pa.schema(
    [
        pa.field("entity_id", pa.int64(), nullable=False),
        pa.field("uri", pa.string(), nullable=False),
        pa.field("support", pa.int64(), nullable=False),
        pa.field("types", pa.list_(pa.string()), nullable=False),
        pa.field("doc_count", pa.int64(), nullable=False),
        pa.field("mention_count", pa.int64(), nullable=False),
    ]
)

DOC_ENTITIES = pa.schema(
    [
        pa.field("doc_id", pa.int64(), nullable=False),
        pa.field("entity_id", pa.int64(), nullable=False),
        pa.field("mentions", pa.int32(), nullable=False),
    ]
)

# doc_entities again, sorted by entity and in small row groups: the documents of one entity are
# a few row groups that a reader finds from their min/max statistics alone (pair_docs()).
ENTITY_DOCS = pa.schema(
    [
        pa.field("entity_id", pa.int64(), nullable=False),
        pa.field("doc_id", pa.int64(), nullable=False),
    ]
)

COOCCURRENCE = pa.schema(
    [
        pa.field("entity_a", pa.int64(), nullable=False),
        pa.field("entity_b", pa.int64(), nullable=False),
        pa.field("doc_count", pa.int64(), nullable=False),
    ]
)

# A question is keyed by (source, row): its QA file and its record's position there. The
# question_id is the record's own id, which datasets do not always keep unique.
QA_QUESTIONS = pa.schema(
    [
        pa.field("question_id", pa.string(), nullable=False),
        pa.field("row", pa.int64(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("question", pa.string(), nullable=False),
        pa.field("answers", pa.list_(pa.string()), nullable=False),
        pa.field("linked", pa.bool_(), nullable=False),
    ]
)

# role is "question" or "answer"; answer entities keep one row per linked mention (repeats kept),
# with offsets into `question + "\n" + "\n".join(answers)`.
QA_ENTITIES = pa.schema(
    [
        pa.field("question_id", pa.string(), nullable=False),
        pa.field("row", pa.int64(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("role", pa.string(), nullable=False),
        pa.field("entity_id", pa.int64(), nullable=False),
        pa.field("surface_form", pa.string(), nullable=False),
        pa.field("offset", pa.int32(), nullable=False),
        pa.field("similarity", pa.float64(), nullable=False),
        pa.field("second_rank", pa.float64(), nullable=False),
    ]
)

RELEVANT_DOCS = pa.schema(
    [
        pa.field("question_id", pa.string(), nullable=False),
        pa.field("row", pa.int64(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("question", pa.string(), nullable=False),
        pa.field("answers", pa.list_(pa.string()), nullable=False),
        pa.field("q_uri", pa.string()),
        pa.field("a_uri", pa.string()),
        pa.field("relevant_docs", pa.int64()),
        pa.field("q_docs", pa.int64()),
        pa.field("a_docs", pa.int64()),
        pa.field("status", pa.string(), nullable=False),
    ]
)

# Table name -> schema, for every table a stage writes as Parquet under OUT/<name>/.
TABLES: dict[str, pa.Schema] = {
    "docs": DOCS,
    "mentions": MENTIONS,
    "entity_uris": ENTITY_URIS,
    "failures": FAILURES,
    "entities": ENTITIES,
    "doc_entities": DOC_ENTITIES,
    "entity_docs": ENTITY_DOCS,
    "cooccurrence": COOCCURRENCE,
    "qa_questions": QA_QUESTIONS,
    "qa_entities": QA_ENTITIES,
    "relevant_docs": RELEVANT_DOCS,
}

# The analyses' tables (pipeline/analysis) live beside the pipeline's own.
from longtail.schemas.analysis import ANALYSIS_TABLES  # noqa: E402

PIPELINE_TABLES = dict(TABLES)
TABLES.update(ANALYSIS_TABLES)

# Status values of relevant_docs.status.
STATUS_COUNTED = "counted"
STATUS_ZERO = "zero"
STATUS_NO_QUESTION_ENTITY = "no question entity"
STATUS_NO_ANSWER_ENTITY = "no answer entity"
STATUS_LINKING_FAILED = "linking failed"
