"""entity_docs: the documents of every entity, laid out so that one entity's are found fast.

The rows of doc_entities sorted by (entity_id, doc_id) and written in small row groups: a
reader looking for one entity reads the min/max statistics of the row groups and then only
the few groups whose range holds it. Two entities' documents are then two short sorted lists,
and `pair_docs('Paris', 'France')` in DuckDB (see `longtail.output.views`) joins them in
milliseconds instead of scanning every row of doc_entities.
"""

from __future__ import annotations

import pyarrow as pa

# Rows per row group: small enough that an entity's documents span few groups beyond its own,
# large enough that the footer and per-group overhead stay small.
ROW_GROUP_ROWS = 65_536
# Rows per file: one file per range of entities, so a lookup opens few files.
FILE_ROWS = 16_000_000


def postings(doc_entities: pa.Table) -> pa.Table:
    """entity_docs rows from doc_entities rows: (entity_id, doc_id), sorted."""
    return doc_entities.select(["entity_id", "doc_id"]).sort_by(
        [("entity_id", "ascending"), ("doc_id", "ascending")])


def file_count(rows: int) -> int:
    return max(1, -(-rows // FILE_ROWS))


def in_files(entity_docs: pa.Table) -> list[pa.Table]:
    """Sorted entity_docs rows cut into the files the index stage writes (FILE_ROWS rows each,
    at least one file)."""
    return [entity_docs.slice(start, FILE_ROWS)
            for start in range(0, max(1, entity_docs.num_rows), FILE_ROWS)]
