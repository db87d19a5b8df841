"""Output folders of the bundled sample, built in this process without Spark.

The model is imported from longtail/sample/wikistats (what `longtail model build` wrote for the
sample wiki). Link and qa run the stages' own shard functions (`link_shard`, `link_qa_shard`)
through the stage runner with a local executor; index and count are the same tables the Spark
stages write, computed here with pyarrow and set intersections (min_cooccurrence 1, no country
exclusion), committed by the runner. So a folder is real: stage records, lineage, views.
"""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from longtail.corpus import plan_shards, resolve_inputs
from longtail.indexes.postings import postings
from longtail.linking.shard import link_shard
from longtail.linking.spec import LinkerSpec
from longtail.linking.statistical import import_wikistats
from longtail.output.context import StageContext
from longtail.output.folder import OutputFolder
from longtail.output.runner import commit_stage, local_executor
from longtail.qa.linking import READ_SHARD, link_qa_shard, write_read_failures
from longtail.qa.readers import QAPair, read_qa, resolve_qa_paths
from longtail.qa.relevant import QAEntityLists, relevant_docs_table
from longtail.sample import SAMPLE_CORPUS, SAMPLE_QA, SAMPLE_WIKISTATS
from longtail.schemas.tables import DOC_ENTITIES, ENTITIES
from longtail.stage_config import CorpusConfig, QAConfig
from longtail.stages import stage as registered

GOLDEN_WIKISTATS = SAMPLE_WIKISTATS


def quiet(message: str) -> None:
    pass


def sample_model(folder: Path) -> str:
    """The sample's model, imported from the golden wikistats (a second or two)."""
    if not (folder / "model.json").exists():
        import_wikistats(GOLDEN_WIKISTATS, folder, min_surface_form_count=1,
                         min_context_count=1)
    return str(folder)


def link(out: OutputFolder, spec: LinkerSpec, corpus: list[str], rows_per_shard: int = 100
         ) -> dict:
    config = CorpusConfig(corpus=tuple(corpus), rows_per_shard=rows_per_shard)
    files = resolve_inputs(config.corpus)
    paths = [f.path for f in files]
    stage = StageContext(registered("link"), out, quiet, linker=spec).sharded(
        config, {"corpus": paths})
    stage.prepare(overwrite=False)
    stage.fingerprint_inputs(paths)
    shards = {s.shard_id: s for s in plan_shards(files, config.rows_per_shard)}
    return stage.run(shards, lambda item: link_shard(item[1], spec, out, "text", None),
                     local_executor)


def qa(out: OutputFolder, spec: LinkerSpec, qa_files: list[str], qa_format: str) -> dict:
    config = QAConfig(qa=tuple(qa_files), qa_format=qa_format)
    paths = resolve_qa_paths(config.qa)
    stage = StageContext(registered("qa"), out, quiet, linker=spec).sharded(
        config, {"qa": paths}, digest=("qa",))
    stage.prepare(overwrite=False)
    stage.fingerprint_inputs(paths)
    pairs, failures = [], []
    for record in read_qa(paths, qa_format, "question", "answer", False):
        (pairs if isinstance(record, QAPair) else failures).append(record)
    shards: dict[str, object] = {READ_SHARD: failures, "000000": pairs}

    def work(item):
        shard_id, payload = item
        if shard_id == READ_SHARD:
            return write_read_failures(out, payload)
        return link_qa_shard(shard_id, payload, spec, out)

    return stage.run(shards, work, local_executor)


def index(out: OutputFolder) -> dict:
    """doc_entities, entities and entity_docs from mentions, as the index stage writes them."""
    from longtail.analysis.tables import read_table

    mentions = read_table(out, "mentions", columns=["doc_id", "entity_id"])
    per_pair = Counter(zip(mentions["doc_id"].to_pylist(), mentions["entity_id"].to_pylist(),
                           strict=True))
    keys = sorted(per_pair)
    doc_entities = pa.table({"doc_id": [d for d, _ in keys], "entity_id": [e for _, e in keys],
                             "mentions": [per_pair[k] for k in keys]}, schema=DOC_ENTITIES)
    uris = read_table(out, "entity_uris").to_pylist()
    known = {}
    for row in uris:
        known.setdefault(row["entity_id"], row)
    docs_of: Counter = Counter(e for _, e in keys)
    mentions_of: Counter = Counter()
    for (_, e), n in per_pair.items():
        mentions_of[e] += n
    ids = sorted(docs_of)
    entities = pa.table({
        "entity_id": ids, "uri": [known[e]["uri"] for e in ids],
        "support": [known[e]["support"] for e in ids], "types": [known[e]["types"] for e in ids],
        "doc_count": [docs_of[e] for e in ids], "mention_count": [mentions_of[e] for e in ids]},
        schema=ENTITIES)
    return commit_stage(out, "index", {"doc_entities": doc_entities, "entities": entities,
                                       "entity_docs": postings(doc_entities)},
                        parameters={"min_cooccurrence": 1}, reads=["mentions", "entity_uris"])


def count(out: OutputFolder) -> dict:
    from longtail.analysis.tables import read_table

    lists = QAEntityLists.from_tables(read_table(out, "qa_questions"),
                                      read_table(out, "qa_entities"))
    de = read_table(out, "doc_entities", columns=["doc_id", "entity_id"])
    docs_of: dict[int, set[int]] = defaultdict(set)
    for d, e in zip(de["doc_id"].to_pylist(), de["entity_id"].to_pylist(), strict=True):
        docs_of[e].add(d)
    pair_docs = {(q, a): len(docs_of.get(q, set()) & docs_of.get(a, set()))
                 for q, a in lists.needed_pairs()}
    uris = {r["entity_id"]: r["uri"] for r in read_table(out, "entity_uris").to_pylist()}
    table = relevant_docs_table(lists, {k: n for k, n in pair_docs.items() if n},
                                {e: len(d) for e, d in docs_of.items()}, uris)
    return commit_stage(out, "count", {"relevant_docs": table}, parameters={
        "exclude_countries": False, "allow_mixed_linkers": False},
        reads=["doc_entities", "entities", "qa_questions", "qa_entities"])


def build_sample_out(out_dir: Path | str, model: str, confidence: float, *,
                     corpus: list[str] | None = None, qa_files: list[str] | None = None,
                     qa_format: str = "nq-open") -> OutputFolder:
    """Link, qa, index and count the sample (or the given files) into `out_dir`."""
    out = OutputFolder(str(out_dir))
    spec = LinkerSpec(model=model, confidence=confidence, support=0)
    link(out, spec, corpus or [str(SAMPLE_CORPUS)])
    qa(out, spec, qa_files or [str(SAMPLE_QA)], qa_format)
    index(out)
    count(out)
    return out


@dataclass(frozen=True)
class SampleOutputs:
    """The sample linked at confidence 0.4 (`strict`) and 0.1 (`loose`, whose QA file is a
    copy of the bundled one at another path), built once per test process. Read-only: a
    test that changes a folder copies it first."""

    root: Path
    model: str
    strict: OutputFolder
    loose: OutputFolder
    qa_copy: Path


@functools.lru_cache(maxsize=1)
def sample_outputs() -> SampleOutputs:
    root = Path(tempfile.mkdtemp(prefix="longtail-sample-outs-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    model = sample_model(root / "model")
    qa_copy = root / "elsewhere" / "questions.jsonl"
    qa_copy.parent.mkdir()
    shutil.copyfile(SAMPLE_QA, qa_copy)
    strict = build_sample_out(root / "c4-like", model, 0.4)
    loose = build_sample_out(root / "pile-like", model, 0.1, qa_files=[str(qa_copy)])
    return SampleOutputs(root, model, strict, loose, qa_copy)
