"""The stages on real public data: the C4 sample, NQ-open dev and EntityQuestions dev."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from longtail.linking.spec import LinkerSpec
from longtail.stage_config import CorpusConfig, CountConfig, IndexConfig, QAConfig
from tests.conftest import shared_path
from tests.spark.stages import run_count, run_index, run_link, run_qa

pytestmark = pytest.mark.spark


def test_c4_nq_open_and_entityquestions_run_and_add_up(spark, sample_model, tmp_path):
    c4 = shared_path("c4", "c4-sample-449.jsonl")
    nq = shared_path("nq-open", "NQ-open.dev.jsonl")
    eq = shared_path("entityquestions", "dev")
    out = tmp_path / "out"
    spec = LinkerSpec(model=sample_model, confidence=0.4)

    c4_config = CorpusConfig(corpus=(str(c4),), id_field="meta.url", rows_per_shard=150)
    link = run_link(spark, c4_config, spec, str(out))
    assert link["documents_in"] == 449
    assert link["documents_in"] == link["linked"] + link["empty"] + link["failed"]
    docs = pq.read_table(out / "docs")
    assert docs.num_rows == link["linked"] + link["empty"]
    assert docs["external_id"].null_count == 0  # meta is a JSON string in some rows
    assert all(u.startswith("http") for u in docs["external_id"].to_pylist())

    index = run_index(spark, IndexConfig(min_cooccurrence=1), str(out))
    assert index["entities"] > 0
    nq_stats = run_qa(spark, QAConfig(qa=(str(nq),), qa_format="nq-open",
                                      qa_rows_per_shard=4000), spec, str(out))
    assert nq_stats["records_in"] == nq_stats["pairs"] == nq_stats["linked"] == 3610

    eq_out = tmp_path / "eq"
    run_link(spark, c4_config, spec, str(eq_out))
    run_index(spark, IndexConfig(min_cooccurrence=1), str(eq_out))
    eq_stats = run_qa(spark, QAConfig(qa=(str(eq),), qa_format="entityquestions",
                                      qa_rows_per_shard=6000), spec, str(eq_out))
    assert eq_stats["records_in"] == eq_stats["pairs"] == eq_stats["linked"] == 22068

    for folder, questions in ((out, 3610), (eq_out, 22068)):
        stats = run_count(spark, CountConfig(), str(folder))
        assert stats["questions"] == questions
        assert sum(stats["status"].values()) == questions
        manifest = json.loads((folder / "manifest.json").read_text())
        assert manifest["tables"]["relevant_docs"] == questions
        assert manifest["tables"]["qa_questions"] == questions
