"""The pipeline linking through `longtail serve` processes equals the pipeline linking in-process.

Three runs of link, index, qa and count on the bundled sample with its model built here:
- in-process (`--model`);
- through two `longtail serve` processes (`--spotlight URL URL`): every table must be equal;
- through two servers that fail: one `longtail serve` is killed with SIGKILL in the middle of
  linking, the other sits behind a proxy that answers about 10% of texts with HTTP 500 or a
  stall past the client's timeout on their first request only (transient faults: the retry
  gets the real answer), and always answers 400 to a few extra documents carrying a marker (a
  permanent fault: those documents must end in `failures`, once each). Every table of the
  sample's documents must equal the in-process run's, relevant_docs included.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow.dataset as ds
import pytest

from longtail.linking.spec import LinkerSpec
from longtail.sample import SAMPLE_CORPUS, SAMPLE_QA
from longtail.stage_config import CorpusConfig, CountConfig, IndexConfig, QAConfig
from tests.servers.faulty_proxy import FaultyProxy, ProxyFaults
from tests.servers.longtail_serve import ServeProcess
from tests.spark.stages import run_count, run_index, run_link, run_qa

pytestmark = [pytest.mark.spark, pytest.mark.slow]

CONFIDENCE = 0.4
ROWS_PER_SHARD = 40  # 8 shards of the 314-line sample: linking spans several tasks
TABLES = ["docs", "mentions", "entity_uris", "doc_entities", "entities", "qa_entities",
          "relevant_docs"]
CRASH_DOCS = [
    {"id": "crash-1", "text": "CRASHME: this page makes the server throw."},
    {"id": "crash-2", "text": "Another page. CRASHME again, with Paris in it."},
    {"id": "crash-3", "text": "A third CRASHME page about Homer and the Iliad."},
]


@pytest.fixture(scope="module")
def model(sample_model) -> str:
    return sample_model


def run_pipeline(spark, spec: LinkerSpec, out: Path, corpus: list[str]) -> None:
    run_link(spark, CorpusConfig(corpus=tuple(corpus), rows_per_shard=ROWS_PER_SHARD), spec,
             str(out))
    run_rest(spark, spec, out)


def run_rest(spark, spec: LinkerSpec, out: Path) -> None:
    run_index(spark, IndexConfig(min_cooccurrence=1, max_entities_per_doc=0), str(out))
    run_qa(spark, QAConfig(qa=(str(SAMPLE_QA),), qa_format="nq-open", qa_rows_per_shard=25),
           spec, str(out))
    run_count(spark, CountConfig(), str(out))


def rows(out: Path, table: str, drop: tuple[str, ...] = ()) -> list[tuple]:
    data = ds.dataset(str(out / table), format="parquet").to_table().to_pylist()
    return sorted((tuple((k, v) for k, v in sorted(row.items()) if k not in drop)
                   for row in data), key=repr)


@pytest.fixture(scope="module")
def in_process(spark, model, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("in-process") / "out"
    run_pipeline(spark, LinkerSpec(model=model, confidence=CONFIDENCE), out, [str(SAMPLE_CORPUS)])
    return out


def test_two_servers_give_the_in_process_tables(spark, model, in_process, tmp_path):
    out = tmp_path / "out"
    with ServeProcess(model, "--threads", "2") as one, ServeProcess(model, "--threads", "2") as two:
        spec = LinkerSpec(spotlight=(one.url, two.url), confidence=CONFIDENCE)
        run_pipeline(spark, spec, out, [str(SAMPLE_CORPUS)])
        assert one.answered > 50 and two.answered > 50  # both servers did a share
    for table in TABLES:
        got = rows(out, table)
        assert got == rows(in_process, table), table
        assert got or table == "qa_entities", table
    assert rows(out, "failures") == rows(in_process, "failures")
    counted = [r for r in rows(out, "relevant_docs") if dict(r)["status"] == "counted"]
    assert len(counted) >= 20


def test_a_killed_server_and_a_faulty_one_lose_nothing(spark, model, in_process, tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(SAMPLE_CORPUS, corpus / "a-sample.jsonl")  # file index 0, as in_process's
    (corpus / "b-crash.jsonl").write_text(
        "".join(json.dumps(doc) + "\n" for doc in CRASH_DOCS), encoding="utf-8")
    out = tmp_path / "out"
    faults = ProxyFaults(rate=0.1, kinds=("500", "stall"), stall_seconds=4.0)
    with ServeProcess(model, "--threads", "2", kill_after=40) as doomed, \
            ServeProcess(model, "--threads", "2") as upstream, \
            FaultyProxy(upstream.url, faults) as proxy:
        spec = LinkerSpec(spotlight=(doomed.url, proxy.url), confidence=CONFIDENCE, timeout=2.0)
        run_link(spark, CorpusConfig(corpus=(str(corpus),), rows_per_shard=ROWS_PER_SHARD),
                 spec, str(out))
        assert doomed.killed.is_set()  # killed while linking was under way
        assert proxy.log.faults["500"] > 0 and proxy.log.faults["stall"] > 0
        assert proxy.log.faults["400"] == len(CRASH_DOCS)
        run_rest(spark, spec, out)
    assert doomed.answered >= 40

    # Every input line is in docs or in failures, once.
    docs = [dict(r) for r in rows(out, "docs")]
    failures = [dict(r) for r in rows(out, "failures")]
    keys = [(Path(r["source"]).name, r["row"]) for r in docs + failures]
    assert len(keys) == len(set(keys)) == 314 + len(CRASH_DOCS)
    crash_failures = [f for f in failures if Path(f["source"]).name == "b-crash.jsonl"]
    assert sorted(f["row"] for f in crash_failures) == list(range(len(CRASH_DOCS)))
    assert {f["reason"] for f in crash_failures} == {"http_400"}
    manifest = json.loads((out / "manifest.json").read_text())["stages"]["link"]["stats"]
    assert manifest["documents_in"] == 314 + len(CRASH_DOCS) == \
        manifest["linked"] + manifest["empty"] + manifest["failed"]

    # The sample's documents: the same tables as linking in-process.
    assert rows(out, "docs", drop=("source",)) == rows(in_process, "docs", drop=("source",))
    sample_failures = [f for f in failures if f not in crash_failures]
    assert [(f["row"], f["reason"]) for f in sample_failures] == \
        [(dict(r)["row"], dict(r)["reason"]) for r in rows(in_process, "failures")]
    for table in TABLES[1:]:
        assert rows(out, table) == rows(in_process, table), table
