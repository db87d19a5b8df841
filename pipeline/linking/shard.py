"""Link one corpus shard: read it, link every document, write docs/mentions/entity_uris/failures.

This is the whole per-shard job; Spark (or anything else) only decides where it runs.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator

import pyarrow as pa

from longtail.corpus import Document, Shard, read_shard
from longtail.linking.annotation import Annotation, entity_id
from longtail.linking.spec import LinkerSpec
from longtail.output.failures import FailureRecord, failures_table
from longtail.output.folder import OutputFolder
from longtail.output.runner import ShardWriter
from longtail.schemas.tables import DOCS, ENTITY_URIS, MENTIONS

STAGE = "link"
TABLES = ["docs", "mentions", "entity_uris", "failures"]


class EntityUris:
    """The `entity_uris` rows of the entities seen, one per entity id."""

    def __init__(self) -> None:
        self.seen: dict[int, tuple[str, int, tuple[str, ...]]] = {}
        self.ids: dict[str, int] = {}  # URI -> entity id, hashed once per URI

    def add(self, annotation: Annotation) -> int:
        """Remember the annotation's entity; returns its id."""
        eid = self.ids.get(annotation.uri)
        if eid is None:
            eid = self.ids[annotation.uri] = entity_id(annotation.uri)
            self.seen.setdefault(eid, (annotation.uri, annotation.support, annotation.types))
        return eid

    def table(self) -> pa.Table:
        ids = sorted(self.seen)
        return pa.table(
            {
                "entity_id": ids,
                "uri": [self.seen[i][0] for i in ids],
                "support": [self.seen[i][1] for i in ids],
                "types": [list(self.seen[i][2]) for i in ids],
            },
            schema=ENTITY_URIS,
        )


class MentionsBuilder:
    """Columns of `mentions`, and the `entity_uris` of their entities, from annotations."""

    def __init__(self) -> None:
        self.columns: dict[str, list] = {name: [] for name in MENTIONS.names}
        self.uris = EntityUris()

    def add(self, doc_id: int, annotations: list[Annotation]) -> None:
        if not annotations:
            return
        cols = self.columns
        cols["doc_id"].extend([doc_id] * len(annotations))
        cols["entity_id"].extend([self.uris.add(a) for a in annotations])
        cols["surface_form"].extend([a.surface_form for a in annotations])
        cols["offset"].extend([a.offset for a in annotations])
        cols["similarity"].extend([a.similarity for a in annotations])
        cols["second_rank"].extend([a.second_rank for a in annotations])

    def mentions(self) -> pa.Table:
        return pa.table(self.columns, schema=MENTIONS)


def link_shard(
    shard: Shard,
    spec: LinkerSpec,
    out: OutputFolder,
    text_field: str = "text",
    id_field: str | None = None,
) -> dict:
    """Link every document of `shard`, write its four tables and its commit marker; returns
    the marker."""
    started = time.perf_counter()
    linker = spec.build()
    docs: dict[str, list] = {name: [] for name in DOCS.names}
    mentions = MentionsBuilder()
    failures: list[FailureRecord] = []
    pending: dict[int, Document] = {}

    def add_doc(doc: Document, n_mentions: int, status: str) -> None:
        docs["doc_id"].append(doc.doc_id)
        docs["source"].append(doc.source)
        docs["row"].append(doc.row)
        docs["external_id"].append(doc.external_id)
        docs["n_chars"].append(len(doc.text))
        docs["n_mentions"].append(n_mentions)
        docs["status"].append(status)

    def to_link() -> Iterator[tuple[int, str]]:
        for record in read_shard(shard, text_field=text_field, id_field=id_field):
            if isinstance(record, FailureRecord):
                failures.append(record)
            elif not record.text.strip():
                add_doc(record, 0, "empty")
            else:
                pending[record.doc_id] = record
                yield record.doc_id, record.text

    for result in linker.annotate_many(to_link()):
        doc = pending.pop(result.key)
        if result.error is not None:
            failures.append(
                FailureRecord(doc.doc_id, doc.source, doc.row, STAGE,
                              result.error.reason, result.error.detail)
            )
        else:
            mentions.add(doc.doc_id, result.annotations)
            add_doc(doc, len(result.annotations), "linked")

    docs_table = pa.table(docs, schema=DOCS).sort_by("doc_id")
    statuses = Counter(docs["status"])
    stats = {
        "documents_in": docs_table.num_rows + len(failures),
        "linked": statuses.get("linked", 0),
        "empty": statuses.get("empty", 0),
        "failed": len(failures),
        "failure_reasons": dict(Counter(f.reason for f in failures)),
        "mentions": len(mentions.columns["doc_id"]),
        "characters": sum(docs["n_chars"]),
    }
    writer = ShardWriter(out, STAGE, shard.shard_id)
    writer.write("docs", docs_table)
    writer.write("mentions", mentions.mentions())
    writer.write("entity_uris", mentions.uris.table())
    writer.write("failures", failures_table(failures))
    stats["task_seconds"] = round(time.perf_counter() - started, 3)
    return writer.commit_marker(stats)
