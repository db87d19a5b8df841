"""The index stage's two plans, one DuckDB task and the Spark plan, write the same tables: on the
bundled sample linked for real, and on a synthetic link output with ties and capped documents."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from longtail.jobs import index_tables
from longtail.linking.spec import LinkerSpec
from longtail.output.folder import OutputFolder
from longtail.output.runner import commit_stage
from longtail.sample import SAMPLE_CORPUS
from longtail.schemas.tables import ENTITY_URIS, MENTIONS
from longtail.stage_config import CorpusConfig, IndexConfig
from tests.spark.stages import run_index, run_link

pytestmark = pytest.mark.spark

IN_TASK_MENTIONS = index_tables.IN_TASK_MENTIONS
ORDER = {"doc_entities": ["doc_id", "entity_id"], "entity_docs": ["entity_id", "doc_id"],
         "entities": ["uri"], "cooccurrence": ["entity_a", "entity_b"]}


def index_both_ways(spark, out: Path, config: IndexConfig, monkeypatch) -> list[dict]:
    """The tables and stats of the index stage run with each plan."""
    runs = []
    for limit in (IN_TASK_MENTIONS, -1):  # in one task, then the Spark plan
        monkeypatch.setattr(index_tables, "IN_TASK_MENTIONS", limit)
        stats = run_index(spark, config, str(out), say=lambda line: None)
        folder = OutputFolder(str(out))
        tables = {t: folder.read_table(t, folder.committed_files(t)) for t in ORDER}
        runs.append({"stats": stats, "tables": tables,
                     "files": {t: len(folder.committed_files(t)) for t in ORDER}})
    return runs


def assert_same_tables(in_task: dict, spark_plan: dict) -> None:
    assert in_task["stats"] == spark_plan["stats"]
    for table, keys in ORDER.items():
        mine, theirs = in_task["tables"][table], spark_plan["tables"][table]
        assert mine.schema == theirs.schema, table
        assert mine.num_rows == theirs.num_rows > 0, table
        # the Spark plan's cooccurrence files are in no order; every other table is sorted
        # the same way file after file
        if table == "cooccurrence":
            theirs = theirs.sort_by([(k, "ascending") for k in keys])
        assert mine.equals(theirs), table
        assert mine.equals(mine.sort_by([(k, "ascending") for k in keys])), table


@pytest.fixture(scope="module")
def linked_sample(spark, sample_model, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("index-plans") / "out"
    run_link(spark, CorpusConfig(corpus=(str(SAMPLE_CORPUS),), rows_per_shard=64),
             LinkerSpec(model=sample_model, confidence=0.4), str(out),
             say=lambda line: None)
    return out


@pytest.mark.parametrize(("least", "cap"), [(1, 0), (2, 3)])
def test_both_plans_index_the_sample_alike(spark, linked_sample, monkeypatch, least, cap):
    in_task, spark_plan = index_both_ways(
        spark, linked_sample, IndexConfig(min_cooccurrence=least, max_entities_per_doc=cap),
        monkeypatch)
    assert_same_tables(in_task, spark_plan)
    assert (in_task["stats"]["docs_capped"] > 0) == bool(cap)


def synthetic_link_output(out: Path, shards: int = 6, docs_per_shard: int = 700) -> None:
    """mentions and entity_uris as link shards write them: Zipf-like entities, repeated
    mentions (ties in the cap's ranking), an entity seen by several shards."""
    rng = np.random.default_rng(5)
    n_entities = 3000
    ids = rng.choice(1 << 62, size=n_entities, replace=False).astype(np.int64)
    weights = 1.0 / np.arange(1, n_entities + 1)
    weights /= weights.sum()
    mentions, uris = [], []
    for shard in range(shards):
        per_doc = rng.integers(0, 40, size=docs_per_shard)
        docs = np.repeat((shard << 40) + np.arange(docs_per_shard, dtype=np.int64), per_doc)
        entities = ids[rng.choice(n_entities, size=len(docs), p=weights)]
        mentions.append(pa.table({
            "doc_id": docs, "entity_id": entities,
            "surface_form": pa.array(["x"] * len(docs)),
            "offset": pa.array(np.arange(len(docs)) % 1000, pa.int32()),
            "similarity": np.ones(len(docs)), "second_rank": np.zeros(len(docs))},
            schema=MENTIONS))
        seen = np.unique(entities)
        rank = {int(e): i for i, e in enumerate(ids)}
        uris.append(pa.table({
            "entity_id": seen, "uri": [f"http://dbpedia.org/resource/E{rank[int(e)]}"
                                       for e in seen],
            "support": np.full(len(seen), 100 + shard, dtype=np.int64),
            "types": [["DBpedia:Place"] if rank[int(e)] % 3 else [] for e in seen]},
            schema=ENTITY_URIS))
    commit_stage(OutputFolder(str(out)), "link", {"mentions": mentions, "entity_uris": uris})


def test_both_plans_index_a_synthetic_link_output_alike(spark, tmp_path, monkeypatch):
    out = tmp_path / "out"
    synthetic_link_output(out)
    for least, cap in ((2, 8), (1, 0)):
        in_task, spark_plan = index_both_ways(
            spark, out, IndexConfig(min_cooccurrence=least, max_entities_per_doc=cap),
            monkeypatch)
        assert_same_tables(in_task, spark_plan)
        assert in_task["files"]["doc_entities"] >= 2  # cut by document ranges for the count
    assert in_task["stats"]["docs_capped"] == 0 and spark_plan["stats"]["entities"] > 1000


def test_an_entity_id_with_two_uris_stops_the_in_task_plan(spark, tmp_path):
    out = tmp_path / "out"
    mentions = pa.table({"doc_id": [1, 2], "entity_id": [7, 7], "surface_form": ["a", "b"],
                         "offset": pa.array([0, 0], pa.int32()), "similarity": [1.0, 1.0],
                         "second_rank": [0.0, 0.0]}, schema=MENTIONS)
    uris = [pa.table({"entity_id": [7], "uri": [uri], "support": [30], "types": [[]]},
                     schema=ENTITY_URIS) for uri in ("http://x/A", "http://x/B")]
    commit_stage(OutputFolder(str(out)), "link", {"mentions": mentions, "entity_uris": uris})
    with pytest.raises(RuntimeError, match="1 entity ids are shared by different URIs"):
        run_index(spark, IndexConfig(), str(out), say=lambda line: None)
    assert not list((out / "doc_entities").glob("*.parquet"))
