"""`longtail import paper`: the released entity map and QA entities as longtail tables.

Writes docs, doc_entities, entity_uris, entities, failures and, with QA entities, qa_questions
and qa_entities, as the pipeline's stages would, so `longtail count` and every analysis run
on them. Document index i becomes doc_id i (input file 0, row i). What the archive cannot say
is filled plainly: n_chars 0 (the texts are not there), mentions 1 per (document, entity)
(the map is a set), support 0 and no types for entities no QA record describes. Every index
below `num_docs` (default: the largest index + 1) is a document, mentioning entities or not;
documents under a failure marker go to failures instead (reason e.g. `spotlight_exception`).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa

from longtail.analysis.configs import ImportPaperConfig
from longtail.analysis.paper_formats import (
    IMPORT_STAGE,
    BadRecord,
    marker_key,
    marker_reason,
    parse_entity,
)
from longtail.console import print_rows
from longtail.errors import UsageError
from longtail.indexes.postings import ROW_GROUP_ROWS as POSTINGS_ROW_GROUP_ROWS
from longtail.indexes.postings import in_files as postings_in_files
from longtail.linking.annotation import entity_id
from longtail.linking.spotlight.wire import Utf16Offsets
from longtail.output.context import StageContext
from longtail.output.failures import FailureRecord, failures_table
from longtail.output.folder import OutputFolder
from longtail.output.records import StageRecord
from longtail.output.runner import WholeStage
from longtail.qa.linking import answer_text
from longtail.qa.readers import QAPair, read_qa, resolve_qa_paths
from longtail.schemas.tables import (
    DOC_ENTITIES,
    DOCS,
    ENTITIES,
    ENTITY_URIS,
    QA_ENTITIES,
    QA_QUESTIONS,
)

ROWS_PER_PART = 5_000_000
WRITES = ["docs", "doc_entities", "entity_docs", "entity_uris", "entities", "failures",
          "qa_questions", "qa_entities"]
# The stages an import stands in for (and the count from them), cleared when it runs.
REPLACES = ["link", "index", "qa", "count"]


def run_import(ctx: StageContext, config: ImportPaperConfig) -> StageRecord:
    """The `import` stage: its commit retires the pipeline stages it stands in for."""
    out = ctx.out
    present = [stage for stage in (*REPLACES, IMPORT_STAGE)
               if stage in ctx.lineage.records or out.has_work(stage)]
    if present and not ctx.overwrite:
        raise UsageError(f"{out.display()} already holds the {', '.join(present)} stages; pass "
                         "--overwrite to replace them or choose another --out")
    archive = _open_archive(config.entity_map)
    source = config.source or str(config.entity_map)
    with ctx.whole(config) as run:
        run.stats.update(_import(run, archive, config.entity_map, config.qa_entities,
                                 list(config.qa), config.qa_format, config.question_field,
                                 config.answers_field, config.num_docs, source))
    stats = run.record.stats
    print(f"imported into {out.display()}")
    print_rows(["", "count"], list(stats.items()))
    print(f"next: longtail count --out {out.display()}")
    return run.record


def import_paper(out_root: str, entity_map: str, **options) -> StageRecord:
    """Import without the command line (tests, scripts): `options` are ImportPaperConfig's."""
    from longtail.output.context import Planned, run_stages
    from longtail.stages import stage

    overwrite = options.pop("overwrite", False)
    options["qa"] = tuple(options.get("qa") or ())
    config = ImportPaperConfig(entity_map=entity_map, **options)
    return run_stages([Planned(stage("import"), config)], OutputFolder(out_root),
                      overwrite=overwrite, say=lambda message: None)["import"]


def _import(run: WholeStage, archive, entity_map: str, qa_entities: str | None,
            qa: list[str] | None, qa_format: str, question_field: str, answers_field: str,
            num_docs: int | None, source: str) -> dict:
    entities: dict[int, tuple[str, int, list[str]]] = {}
    doc_counts: dict[int, int] = {}
    failures: list[FailureRecord] = []
    per_doc = np.zeros(0, dtype=np.int64)
    buffer_docs: list[np.ndarray] = []
    buffer_ids: list[np.ndarray] = []
    buffered = 0
    failed_docs: set[int] = set()

    def flush() -> None:
        nonlocal buffered, per_doc
        if not buffered:
            return
        docs = np.concatenate(buffer_docs)
        run.write("doc_entities", pa.table({
            "doc_id": docs, "entity_id": np.concatenate(buffer_ids),
            "mentions": np.ones(len(docs), dtype=np.int32)}, schema=DOC_ENTITIES))
        unique, counts = np.unique(docs, return_counts=True)
        if len(unique) and unique[-1] >= len(per_doc):
            per_doc = np.concatenate([per_doc, np.zeros(unique[-1] + 1 - len(per_doc), np.int64)])
        per_doc[unique] += counts
        buffer_docs.clear()
        buffer_ids.clear()
        buffered = 0

    largest = -1
    postings: list[tuple[int, np.ndarray]] = []
    for key in archive.files:
        indices = _indices(archive, key, entity_map)
        if len(indices):
            largest = max(largest, int(indices.max()))
        reason = marker_reason(key)
        if reason is not None:
            failed_docs.update(indices.tolist())
            failures.extend(FailureRecord(int(i), source, int(i), IMPORT_STAGE, reason,
                                          f"listed under {marker_key(reason)} in the entity map")
                            for i in indices.tolist())
            continue
        eid = entity_id(key)
        if eid in entities and entities[eid][0] != key:
            raise RuntimeError(f"entity id collision: {key} and {entities[eid][0]}")
        entities[eid] = (key, 0, [])
        doc_counts[eid] = len(indices)
        buffer_docs.append(indices)
        buffer_ids.append(np.full(len(indices), eid, dtype=np.int64))
        postings.append((eid, indices))
        buffered += len(indices)
        if buffered >= ROWS_PER_PART:
            flush()
    flush()
    _write_postings(run, postings)
    n_docs = largest + 1 if num_docs is None else num_docs
    if n_docs <= largest:
        raise UsageError(f"--num-docs {num_docs} is too small: the entity map has index {largest}")
    per_doc = np.concatenate([per_doc, np.zeros(max(0, n_docs - len(per_doc)), np.int64)])
    docs_written = _write_docs(run, source, n_docs, per_doc, failed_docs)

    questions = qa_rows = 0
    if qa_entities is not None:
        questions, qa_rows = _import_qa(run, qa_entities, qa or [], qa_format, question_field,
                                        answers_field, entities, failures)
    run.write("entity_uris", _entity_uris(entities))
    run.write("entities", _entities(entities, doc_counts))
    run.write("failures", failures_table(failures))
    return {"documents": docs_written, "entities": len(doc_counts),
            "doc_entities": int(per_doc.sum()), "failed_documents": len(failed_docs),
            "qa_rows": qa_rows, "questions": questions, "failures": len(failures),
            "num_docs": n_docs}


def _open_archive(path: str):
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError) as err:
        raise UsageError(f"cannot read entity map {path}: {err}") from err


def _indices(archive, key: str, path: str) -> np.ndarray:
    try:
        array = archive[key]
    except ValueError as err:
        raise UsageError(f"{path}: array {key!r} cannot be read: {err}") from err
    if array.ndim != 1 or not np.issubdtype(array.dtype, np.integer):
        raise UsageError(f"{path}: array {key!r} is {array.dtype} with shape {array.shape}, "
                         "not a list of document indices")
    if len(array) and array.min() < 0:
        raise UsageError(f"{path}: array {key!r} holds a negative document index")
    return np.unique(array.astype(np.int64))


def _write_postings(run: WholeStage, postings: list[tuple[int, np.ndarray]]) -> None:
    """entity_docs in the index stage's layout: by entity id, small row groups."""
    postings.sort(key=lambda item: item[0])
    none = [np.zeros(0, np.int64)]
    table = pa.table({
        "entity_id": np.concatenate([np.full(len(d), e, np.int64) for e, d in postings] or none),
        "doc_id": np.concatenate([d for _, d in postings] or none)})
    for part in postings_in_files(table):
        run.write("entity_docs", part, POSTINGS_ROW_GROUP_ROWS)


def _write_docs(run: WholeStage, source: str, n_docs: int, per_doc: np.ndarray,
                failed: set[int]) -> int:
    failed_array = np.array(sorted(failed), dtype=np.int64)
    written = 0
    for start in range(0, n_docs, ROWS_PER_PART):
        ids = np.arange(start, min(n_docs, start + ROWS_PER_PART), dtype=np.int64)
        ids = ids[~np.isin(ids, failed_array)]
        written += run.write("docs", pa.table({
            "doc_id": ids, "source": pa.array([source] * len(ids), pa.string()), "row": ids,
            "external_id": pa.nulls(len(ids), pa.string()),
            "n_chars": np.zeros(len(ids), np.int64),
            "n_mentions": per_doc[ids].astype(np.int32),
            "status": pa.array(["linked"] * len(ids), pa.string())}, schema=DOCS))
    return written


def _entity_uris(entities: dict[int, tuple[str, int, list[str]]]) -> pa.Table:
    ids = sorted(entities)
    return pa.table({"entity_id": ids, "uri": [entities[i][0] for i in ids],
                     "support": [entities[i][1] for i in ids],
                     "types": [entities[i][2] for i in ids]}, schema=ENTITY_URIS)


def _entities(entities: dict[int, tuple[str, int, list[str]]], doc_counts: dict[int, int]
              ) -> pa.Table:
    ids = sorted(entities)
    counts = [doc_counts.get(i, 0) for i in ids]
    return pa.table({"entity_id": ids, "uri": [entities[i][0] for i in ids],
                     "support": [entities[i][1] for i in ids],
                     "types": [entities[i][2] for i in ids],
                     "doc_count": counts, "mention_count": counts}, schema=ENTITIES)


def _import_qa(run: WholeStage, path: str, qa: list[str], qa_format: str, q_field: str,
               a_field: str, entities: dict, failures: list[FailureRecord]) -> tuple[int, int]:
    """qa_questions and qa_entities from the QA file and its entity lines; (questions, rows)."""
    files = resolve_qa_paths(qa)
    if len(files) != 1:
        raise UsageError(f"--qa names {len(files)} files; the entity lines follow one QA file")
    records: dict[int, QAPair | FailureRecord] = {
        r.row: r for r in read_qa([str(files[0])], qa_format, q_field, a_field)}
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise UsageError(f"cannot read QA entities {path}: {err}") from err
    if len(lines) != len(records):
        raise UsageError(f"{path} has {len(lines)} lines but {files[0]} has {len(records)} "
                         "records: line i must be QA row i")
    q_cols: dict[str, list] = {name: [] for name in QA_QUESTIONS.names}
    e_cols: dict[str, list] = {name: [] for name in QA_ENTITIES.names}
    for row, line in enumerate(lines):
        record = records[row]
        if isinstance(record, FailureRecord):
            failures.append(record)
            continue
        try:
            found = _qa_line(line, record)
        except BadRecord as bad:
            failures.append(FailureRecord(None, record.source, row, IMPORT_STAGE,
                                          "bad_qa_entities", f"{path} line {row + 1}: {bad}"))
            found = None
        for name, value in zip(QA_QUESTIONS.names, (
                record.question_id, row, record.source, record.question,
                list(record.answers), found is not None), strict=True):
            q_cols[name].append(value)
        for role, uri, support, types, surface, offset, sim, second in found or []:
            eid = entity_id(uri)
            if eid not in entities or (entities[eid][1] == 0 and not entities[eid][2]):
                entities[eid] = (uri, support, types)
            for name, value in zip(QA_ENTITIES.names, (
                    record.question_id, row, record.source, role, eid, surface, offset, sim,
                    second),
                    strict=True):
                e_cols[name].append(value)
    run.write("qa_questions", pa.table(q_cols, schema=QA_QUESTIONS))
    run.write("qa_entities", pa.table(e_cols, schema=QA_ENTITIES))
    return len(q_cols["question_id"]), len(lines)


def _qa_line(line: str, pair: QAPair) -> list[tuple]:
    try:
        record = json.loads(line)
    except ValueError as err:
        raise BadRecord(f"not JSON: {err}") from err
    if not isinstance(record, dict):
        raise BadRecord("not a JSON object")
    found = []
    for role, key, text in (("question", "q_entities", pair.question),
                            ("answer", "a_entities", answer_text(pair))):
        items = record.get(key)
        if not isinstance(items, list):
            raise BadRecord(f"no list {key!r}")
        offsets = Utf16Offsets(text)
        for item in items:
            uri, support, types, surface, offset, sim, second = parse_entity(item)
            found.append((role, uri, support, types, surface, offsets.to_code_points(offset),
                          sim, second))
    return found
