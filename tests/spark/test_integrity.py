"""The accidents of real work on the bundled sample: a rerun with other settings, a deleted part
file, an input appended to, reused question ids. After each, every command either redoes the
work or refuses in one line; none answers from stale tables, and the manifest's row counts are
the rows readers see.

Stages run in this process on the shared Spark session (through `longtail run`'s own code);
the refusals, `status`, `query` and `docs` run through the real command, which needs no Spark
to refuse.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from longtail.jobs.cli import build_parser
from longtail.linking.spec import LinkerSpec
from longtail.output.folder import OutputFolder
from longtail.output.lineage import Lineage
from longtail.output.views import connect
from longtail.sample import SAMPLE_CORPUS, SAMPLE_QA
from longtail.stage_config import CorpusConfig, CountConfig, IndexConfig, QAConfig
from tests.e2e.conftest import longtail
from tests.spark.stages import run_all, run_count, run_index, run_link, run_qa

pytestmark = pytest.mark.spark


class Messages(list):
    def __call__(self, message: str) -> None:
        self.append(message)

    def text(self) -> str:
        return "\n".join(self)


def run_args(model: str, out: Path, corpus: Path = SAMPLE_CORPUS, qa: Path = SAMPLE_QA,
             *extra: str):
    return build_parser().parse_args([
        "run", "--corpus", str(corpus), "--qa", str(qa), "--qa-format", "nq-open",
        "--model", model, "--confidence", "0.4", "--out", str(out), "--rows-per-shard", "100",
        "--qa-rows-per-shard", "20", "--min-cooccurrence", "1", *extra])


def refusal(*args: str) -> str:
    """Run a command that must refuse; returns its one line."""
    result = longtail(*args, timeout=300)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stderr[-3000:]
    assert len(lines) == 1 and "Traceback" not in result.stderr, lines
    return lines[0]


def assert_manifest_is_what_readers_see(out: Path) -> None:
    manifest = json.loads((out / "manifest.json").read_text())
    with connect(str(out)) as con:
        for table, rows in manifest["tables"].items():
            assert con.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == rows, table
        docs, failed = con.execute(
            "SELECT (SELECT count(*) FROM docs), (SELECT count(*) FROM failures "
            "WHERE stage IN ('read', 'link'))").fetchone()
    link = manifest["stages"]["link"]["stats"]
    assert docs + failed == link["documents_in"] == link["linked"] + link["empty"] + \
        link["failed"]


@pytest.fixture
def finished(spark, sample_model, tmp_path) -> Path:
    out = tmp_path / "out"
    run_all(spark, run_args(sample_model, out), say=Messages())
    assert all(Lineage(OutputFolder(str(out))).freshness(s).fresh
               for s in ("link", "index", "qa", "count"))
    return out


def test_relinking_with_other_settings_makes_index_and_count_stale(spark, sample_model,
                                                                   finished):
    out = str(finished)
    mentions_before = OutputFolder(out).row_count("mentions")
    spec = LinkerSpec(model=sample_model, confidence=0.95)
    run_link(spark, CorpusConfig(corpus=(str(SAMPLE_CORPUS),), rows_per_shard=100), spec, out,
             overwrite=True, say=Messages())
    assert OutputFolder(out).row_count("mentions") < mentions_before

    line = refusal("count", "--out", out)
    assert line == ("longtail: error: doc_entities is stale: `link` ran again after `index` "
                    "did; run `longtail index` first")
    assert "relevant_docs is stale" in refusal("query", out, "SELECT count(*) FROM relevant_docs")
    assert "is stale" in refusal("docs", out, "sample-qa:0")
    status = longtail("status", out)
    assert status.returncode == 0
    assert "index            STALE" in status.stdout and "count            STALE" in status.stdout
    assert "link             fresh" in status.stdout and "qa               fresh" in status.stdout
    assert "not fresh: index, count" in status.stdout
    # the stale table is still there to look at when asked for explicitly
    allowed = longtail("query", out, "SELECT count(*) AS n FROM relevant_docs",
                       "--allow-stale", "--output-format", "csv")
    assert allowed.returncode == 0 and allowed.stdout.splitlines()[1] == "66"

    run_index(spark, IndexConfig(min_cooccurrence=1), out, say=Messages())
    # the corpus is now linked at confidence 0.95, the questions at 0.5: refused, then asked for
    assert refusal("count", "--out", out) == (
        "longtail: error: the corpus and the QA set were linked with different settings "
        "(confidence 0.95 in `link`, 0.4 in `qa`); relink one of them, or pass "
        "--allow-mixed-linkers to count them together anyway")
    record = OutputFolder(out).record("count")
    run_count(spark, CountConfig(allow_mixed_linkers=True), out, say=Messages())
    assert OutputFolder(out).record("count").run_id != record.run_id
    assert OutputFolder(out).record("count").stats["mixed_linkers"] == (
        "confidence 0.95 in `link`, 0.4 in `qa`")
    assert "every stage is fresh" in longtail("status", out).stdout
    assert_manifest_is_what_readers_see(finished)


def test_a_deleted_part_is_redone_and_run_reruns_exactly_the_stale_stages(
        spark, sample_model, finished):
    folder = OutputFolder(str(finished))
    docs_before = folder.row_count("docs")
    victim = folder.committed_files("docs")[1]
    (finished / victim.path).unlink()
    assert "is missing" in refusal("query", str(finished), "SELECT count(*) FROM docs")

    said = Messages()
    results = run_all(spark, run_args(sample_model, finished), say=said)
    text = said.text()
    assert f"{victim.path} is missing; doing it again" in text
    assert "link: 4 shards, 3 already done, 1 to do" in text
    assert "qa: 5 shards, 5 already done, 0 to do" in text  # four of pairs and the read one
    assert "index    up to date" not in text and "count    up to date" not in text
    assert results["link"]["documents_in"] == 314
    assert folder.row_count("docs") == docs_before
    assert_manifest_is_what_readers_see(finished)

    again = Messages()
    run_all(spark, run_args(sample_model, finished), say=again)
    assert "index    up to date" in again.text() and "count    up to date" in again.text()


def test_an_appended_input_is_refused_until_overwritten(spark, sample_model, tmp_path):
    corpus = tmp_path / "corpus.jsonl"
    shutil.copy(SAMPLE_CORPUS, corpus)
    out = tmp_path / "out"
    run_all(spark, run_args(sample_model, out, corpus), say=Messages())
    lines = SAMPLE_CORPUS.read_text(encoding="utf-8").splitlines(keepends=True)
    with corpus.open("a", encoding="utf-8") as fh:
        fh.writelines(lines[:6])

    line = refusal("link", "--corpus", str(corpus), "--model", sample_model, "--confidence",
                   "0.4", "--out", str(out), "--rows-per-shard", "100")
    assert str(corpus) in line and "--overwrite" in line and "restore the file" in line
    assert "changed" in refusal("count", "--out", str(out))

    link = run_link(spark, CorpusConfig(corpus=(str(corpus),), rows_per_shard=100),
                    LinkerSpec(model=sample_model, confidence=0.4), str(out), overwrite=True,
                    say=Messages())
    assert link["documents_in"] == 320
    run_index(spark, IndexConfig(min_cooccurrence=1), str(out), say=Messages())
    run_count(spark, CountConfig(), str(out), say=Messages())
    assert_manifest_is_what_readers_see(out)


def test_questions_sharing_an_id_are_counted_apart(spark, sample_model, finished, tmp_path):
    first = tmp_path / "first.jsonl"
    second = tmp_path / "second.jsonl"
    first.write_text(
        json.dumps({"id": "dup", "question": "Who was the lead singer of Queen?",
                    "answer": ["Freddie Mercury"]}) + "\n"
        + json.dumps({"id": "dup", "question": "Which river flows through Paris?",
                      "answer": ["Seine"]}) + "\n", encoding="utf-8")
    second.write_text(json.dumps({"id": "dup", "question": "Who wrote the Iliad?",
                                  "answer": ["Homer"]}) + "\n", encoding="utf-8")
    out = str(finished)
    said = Messages()
    spec = LinkerSpec(model=sample_model, confidence=0.4)
    stats = run_qa(spark, QAConfig(qa=(str(first), str(second)), qa_format="nq-open"), spec,
                   out, overwrite=True, say=said)
    assert stats["duplicate_ids"] == 1 and stats["records_with_duplicate_ids"] == 3
    assert "1 question ids are shared by 3 records" in said.text()
    run_count(spark, CountConfig(), out, say=Messages())

    with connect(out) as con:
        rows = con.execute("SELECT source, row, question, q_uri, a_uri, status "
                           "FROM relevant_docs ORDER BY source, row").fetchall()
    assert [(Path(s).name, r, q) for s, r, q, *_ in rows] == [
        ("first.jsonl", 0, "Who was the lead singer of Queen?"),
        ("first.jsonl", 1, "Which river flows through Paris?"),
        ("second.jsonl", 0, "Who wrote the Iliad?")]
    pairs = {q: (qu, au) for _, _, q, qu, au, _ in rows}
    assert pairs["Which river flows through Paris?"] == (
        "http://dbpedia.org/resource/Paris", "http://dbpedia.org/resource/Seine")
    assert pairs["Who wrote the Iliad?"] != pairs["Which river flows through Paris?"]
    assert json.loads((finished / "manifest.json").read_text())["stages"]["qa"]["stats"][
        "duplicate_ids"] == 1

    shown = longtail("docs", out, "dup")
    assert shown.returncode == 0, shown.stderr[-2000:]
    for question in ("lead singer of Queen", "flows through Paris", "wrote the Iliad"):
        assert question in shown.stdout
    assert "3 questions have this id" in shown.stdout
