"""The index stage's four tables from mentions and entity_uris, in one DuckDB pass.

The same tables as the Spark plan (`longtail.jobs.index_tables`) builds, row for row:
- doc_entities: one row per (document, entity) with its mention count, sorted by document
  then entity, cut into files of whole documents (disjoint, ascending document ranges);
- entity_docs: the same pairs sorted by entity then document (`longtail.indexes.postings`);
- entities: one row per entity id of entity_uris (its URI, the largest support, its types)
  with its document and mention counts, sorted by URI;
- cooccurrence: documents per entity pair (entity_a < entity_b), from at most
  `max_entities_per_doc` entities per document (the most mentioned first, then the smallest
  id), kept when seen in at least `min_cooccurrence` documents; sorted by the pair.
It holds everything in one process: for indexes of up to some tens of millions of mentions,
where a Spark plan of several shuffles costs more in overhead than the work itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb
import numpy as np
import pyarrow as pa

from longtail.indexes.postings import in_files

_DOC_ENTITIES = """
CREATE TEMP TABLE doc_entities AS
SELECT doc_id, entity_id, count(*)::INTEGER AS mentions
FROM mentions GROUP BY doc_id, entity_id ORDER BY doc_id, entity_id
"""
_COLLISIONS = """
SELECT count(*) FROM (SELECT entity_id FROM uris GROUP BY entity_id
                      HAVING count(DISTINCT uri) > 1)
"""
_ENTITIES = """
WITH names AS (
    SELECT entity_id, any_value(uri) AS uri, max(support) AS support,
           any_value(types) AS types
    FROM uris GROUP BY entity_id),
counts AS (
    SELECT entity_id, count(*) AS doc_count, sum(mentions) AS mention_count
    FROM doc_entities GROUP BY entity_id)
SELECT n.entity_id, n.uri, n.support, n.types, coalesce(c.doc_count, 0) AS doc_count,
       coalesce(c.mention_count, 0)::BIGINT AS mention_count
FROM names n LEFT JOIN counts c USING (entity_id)
ORDER BY n.uri
"""
_PER_DOC_CAPPED = """
CREATE TEMP TABLE per_doc AS
SELECT doc_id, entity_id FROM (
    SELECT doc_id, entity_id, row_number() OVER (
        PARTITION BY doc_id ORDER BY mentions DESC, entity_id ASC) AS rank
    FROM doc_entities)
WHERE rank <= $cap
"""
_CAP_STATS = """
SELECT count(*), coalesce(sum(n - $cap), 0) FROM (
    SELECT count(*) AS n FROM doc_entities GROUP BY doc_id) WHERE n > $cap
"""
_PAIRS = """
SELECT a.entity_id AS entity_a, b.entity_id AS entity_b, count(*) AS doc_count
FROM {per_doc} a JOIN {per_doc} b ON a.doc_id = b.doc_id AND a.entity_id < b.entity_id
GROUP BY a.entity_id, b.entity_id HAVING count(*) >= $min
ORDER BY entity_a, entity_b
"""


@dataclass
class IndexTables:
    """The four tables (doc_entities and entity_docs as their files) and the stage's stats."""

    doc_entities: list[pa.Table] = field(default_factory=list)
    entity_docs: list[pa.Table] = field(default_factory=list)
    entities: pa.Table | None = None
    cooccurrence: pa.Table | None = None
    stats: dict = field(default_factory=dict)
    collisions: int = 0


def build_index(mentions: pa.Table, entity_uris: pa.Table, *, min_cooccurrence: int,
                max_entities_per_doc: int, doc_entity_files: int = 1,
                threads: int | None = None) -> IndexTables:
    """The tables from `mentions` (doc_id, entity_id) and `entity_uris` rows.

    doc_entities comes in `doc_entity_files` files of about equal rows (fewer when there are
    fewer documents). When an entity id has two URIs, only `collisions` is set.
    """
    con = duckdb.connect()
    try:
        if threads:
            con.execute(f"SET threads = {int(threads)}").fetchall()
        con.register("mentions", mentions.select(["doc_id", "entity_id"]))
        con.register("uris", entity_uris.select(["entity_id", "uri", "support", "types"]))
        [(collisions,)] = con.execute(_COLLISIONS).fetchall()
        if collisions:
            return IndexTables(collisions=collisions)
        con.execute(_DOC_ENTITIES).fetchall()
        doc_entities = _arrow(con, "SELECT * FROM doc_entities")
        entity_docs = _arrow(
            con, "SELECT entity_id, doc_id FROM doc_entities ORDER BY entity_id, doc_id")
        entities = _arrow(con, _ENTITIES)
        cap = max_entities_per_doc
        cap_stats = {"docs_capped": 0, "entities_left_out_of_pairs": 0}
        per_doc = "doc_entities"
        if cap:
            con.execute(_PER_DOC_CAPPED, {"cap": cap}).fetchall()
            [(docs, left_out)] = con.execute(_CAP_STATS, {"cap": cap}).fetchall()
            cap_stats = {"docs_capped": int(docs), "entities_left_out_of_pairs": int(left_out)}
            per_doc = "per_doc"
        pairs = _arrow(con, _PAIRS.format(per_doc=per_doc), {"min": min_cooccurrence})
    finally:
        con.close()
    return IndexTables(
        doc_entities=doc_ranges(doc_entities, doc_entity_files),
        entity_docs=in_files(entity_docs), entities=entities, cooccurrence=pairs,
        stats={"entities": entities.num_rows, "doc_entities": doc_entities.num_rows,
               "cooccurrence_pairs": pairs.num_rows,
               "max_entities_per_doc": max_entities_per_doc, **cap_stats})


def _arrow(con: duckdb.DuckDBPyConnection, sql: str, params: dict | None = None) -> pa.Table:
    relation = con.sql(sql, params=params)
    # a relation's to_arrow_table() is DuckDB 1.4's name for arrow()
    return (getattr(relation, "to_arrow_table", None) or relation.arrow)()


def doc_ranges(table: pa.Table, parts: int) -> list[pa.Table]:
    """A table sorted by doc_id in at most `parts` slices of about equal rows, each cut at the
    start of a document; at least one slice."""
    n = table.num_rows
    if parts <= 1 or n == 0:
        return [table]
    docs = table["doc_id"].to_numpy()
    wanted = [n * i // parts for i in range(1, parts)]
    cuts = sorted({int(np.searchsorted(docs, docs[at], side="left")) for at in wanted} - {0})
    bounds = [0, *cuts, n]
    return [table.slice(lo, hi - lo) for lo, hi in zip(bounds, bounds[1:], strict=False)
            if hi > lo]
