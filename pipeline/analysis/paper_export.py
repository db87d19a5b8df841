"""`longtail export paper`: an output folder in the formats Kandpal et al. (2022) released.

The entity map gives each entity the sorted, distinct corpus positions of its documents
(`longtail.analysis.corpus_access`; for a one-file corpus the row) as int32. Documents that an
import found under a failure marker are written under that marker again; other failures are
not part of the format. The QA entity file has one line per row of the QA file, rows that
were not linked with empty lists; entities come in offset order, offsets in UTF-16 units.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import numpy as np
import pyarrow.compute as pc

from longtail.analysis.corpus_access import CorpusOrder
from longtail.analysis.paper_formats import IMPORT_STAGE, marker_key, render_entity
from longtail.analysis.tables import read_table, require
from longtail.errors import UsageError
from longtail.linking.spotlight.wire import Utf16Offsets
from longtail.output.folder import OutputFolder
from longtail.output.lineage import Lineage
from longtail.output.storage import atomic_path
from longtail.qa.linking import answer_text
from longtail.qa.readers import QAPair

INT32_MAX = np.iinfo(np.int32).max
_SAVEZ_RESERVED = {"file", "allow_pickle"}


def entity_records(out: OutputFolder, lineage: Lineage
                   ) -> dict[int, tuple[str, int, list[str]]]:
    """entity_id -> (uri, support, types), the highest support where shards disagree."""
    uris = read_table(out, "entity_uris", lineage=lineage).sort_by([("support", "descending")])
    records: dict[int, tuple[str, int, list[str]]] = {}
    for eid, uri, support, types in zip(*(uris[c].to_pylist() for c in uris.column_names),
                                        strict=True):
        records.setdefault(eid, (uri, support, types))
    return records


def export_entity_map(out: OutputFolder, path: str | Path, lineage: Lineage) -> dict:
    path = Path(path)
    if path.suffix != ".npz":
        raise UsageError(f"the entity map must be a .npz file: {path}")
    require(out, "docs", "doc_entities", "entity_uris", lineage=lineage)
    order = CorpusOrder.load(out)
    if order.total - 1 > INT32_MAX:
        raise UsageError(f"{order.total:,} documents: positions do not fit the format's int32")
    de = read_table(out, "doc_entities", columns=["doc_id", "entity_id"], lineage=lineage)
    positions = order.positions(de["doc_id"].to_numpy())
    ids = de["entity_id"].to_numpy()
    sort = np.lexsort((positions, ids))
    ids, positions = ids[sort], positions[sort]
    bounds = np.flatnonzero(np.diff(ids)) + 1
    uris = {eid: r[0] for eid, r in entity_records(out, lineage).items()}
    arrays: dict[str, np.ndarray] = {}
    for chunk_ids, chunk_positions in zip(np.split(ids, bounds), np.split(positions, bounds),
                                          strict=True):
        if not len(chunk_ids):
            continue
        uri = uris.get(int(chunk_ids[0]))
        if uri is None:
            raise UsageError(f"entity {int(chunk_ids[0])} has no URI in entity_uris")
        arrays[uri] = np.unique(chunk_positions).astype(np.int32)
    failures = read_table(out, "failures", columns=["doc_id", "stage", "reason"],
                          lineage=lineage)
    failures = failures.filter(pc.equal(failures["stage"], IMPORT_STAGE))
    marked: dict[str, list[int]] = defaultdict(list)
    for doc_id, reason in zip(failures["doc_id"].to_pylist(), failures["reason"].to_pylist(),
                              strict=True):
        if doc_id is not None and reason != "bad_qa_entities":
            marked[marker_key(reason)].append(doc_id)
    for key, doc_ids in marked.items():
        arrays[key] = np.unique(order.positions(np.array(doc_ids))).astype(np.int32)
    clash = _SAVEZ_RESERVED & arrays.keys()
    if clash:
        raise UsageError(f"numpy cannot store an array named {sorted(clash)[0]!r}")
    with atomic_path(path) as tmp:
        np.savez(tmp, **arrays)
    return {"entities": len(arrays) - len(marked), "markers": len(marked),
            "entries": int(sum(len(a) for a in arrays.values()))}


def export_qa_entities(out: OutputFolder, path: str | Path, lineage: Lineage,
                       style: str = "pyspotlight", source: str | None = None) -> dict:
    """One line per row of the QA file; a question's entities are those of its own (file,
    row), so questions that share an id keep their own entities."""
    require(out, "qa_questions", "entity_uris", lineage=lineage)
    questions = read_table(out, "qa_questions", lineage=lineage)
    sources = sorted(set(questions["source"].to_pylist()))
    if source is None and len(sources) > 1:
        raise UsageError(f"the output folder holds {len(sources)} QA files; pick one with "
                         f"--qa-source ({', '.join(sources)})")
    source = source or (sources[0] if sources else None)
    if source not in sources:
        raise UsageError(f"no QA file {source!r} in the output folder ({', '.join(sources)})")
    questions = questions.filter(pc.equal(questions["source"], source))
    by_row = {row["row"]: row for row in questions.to_pylist()}
    entities = read_table(out, "qa_entities", filter=pc.field("source") == source,
                          lineage=lineage)
    found: dict[tuple[int, str], list[dict]] = defaultdict(list)
    for row in entities.to_pylist():
        found[(row["row"], row["role"])].append(row)
    records = entity_records(out, lineage)
    lines = 0
    with atomic_path(Path(path)) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        for row in range(max(by_row, default=-1) + 1):
            q = by_row.get(row)
            line = {"q_entities": [], "a_entities": []}
            if q is not None and q["linked"]:
                pair = QAPair(q["question_id"], row, source, q["question"], tuple(q["answers"]))
                for role, key, text in (("question", "q_entities", pair.question),
                                        ("answer", "a_entities", answer_text(pair))):
                    offsets = Utf16Offsets(text)
                    mentions = sorted(found[(row, role)], key=lambda m: m["offset"])
                    line[key] = [_render(m, records, offsets, style) for m in mentions]
            fh.write(json.dumps(line, ensure_ascii=False) + "\n")
            lines += 1
    return {"lines": lines, "questions": len(by_row)}


def _render(mention: dict, records: dict, offsets: Utf16Offsets, style: str) -> dict:
    uri, support, types = records.get(mention["entity_id"], (None, 0, []))
    if uri is None:
        raise UsageError(f"entity {mention['entity_id']} has no URI in entity_uris")
    return render_entity(uri, support, types, mention["surface_form"],
                         offsets.to_utf16(mention["offset"]), mention["similarity"],
                         mention["second_rank"], style)
