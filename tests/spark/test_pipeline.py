"""The pipeline on Spark, end to end on the bundled sample, checked against independent counts."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from itertools import combinations
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from pyspark.testing import assertDataFrameEqual

from longtail.jobs.tables import read_files
from longtail.linking.annotation import entity_id
from longtail.linking.spec import LinkerSpec
from longtail.output.folder import OutputFolder
from longtail.output.runner import commit_stage
from longtail.qa.countries import load_countries
from longtail.sample import SAMPLE_CORPUS, SAMPLE_QA
from longtail.schemas.tables import PIPELINE_TABLES
from longtail.stage_config import CorpusConfig, CountConfig, IndexConfig, QAConfig
from tests.spark.stages import run_count, run_index, run_link, run_qa

pytestmark = pytest.mark.spark


@pytest.fixture(scope="module")
def sample_out(spark, sample_model, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("pipeline") / "out"
    spec = LinkerSpec(model=sample_model, confidence=0.4)
    run_link(spark, CorpusConfig(corpus=(str(SAMPLE_CORPUS),), rows_per_shard=64), spec,
             str(out))
    run_index(spark, IndexConfig(min_cooccurrence=1, max_entities_per_doc=0), str(out))
    run_qa(spark, QAConfig(qa=(str(SAMPLE_QA),), qa_format="nq-open", qa_rows_per_shard=25),
           spec, str(out))
    run_count(spark, CountConfig(), str(out))
    return out


def spark_table(spark, out: OutputFolder, table: str):
    return read_files(spark, out, table, out.committed_files(table))


def rows(con: duckdb.DuckDBPyConnection, out: Path, table: str, sql: str = "*") -> list[tuple]:
    return con.execute(f"SELECT {sql} FROM read_parquet('{out}/{table}/*.parquet')").fetchall()


def test_every_written_file_matches_its_declaration(sample_out):
    checked = 0
    for table, schema in PIPELINE_TABLES.items():
        for path in sorted((sample_out / table).glob("*.parquet")):
            written = pq.read_schema(path)
            assert written.names == schema.names, path
            assert [f.type for f in written] == [f.type for f in schema], path
            data = pq.read_table(path)
            for field in schema:
                if not field.nullable:
                    assert data[field.name].null_count == 0, (path, field.name)
            checked += 1
    assert checked >= 20
    assert not list(sample_out.rglob(".tmp-*"))


def test_manifest_counts_add_up(sample_out):
    manifest = json.loads((sample_out / "manifest.json").read_text())
    link = manifest["stages"]["link"]["stats"]
    assert link["documents_in"] == 314
    assert link["documents_in"] == link["linked"] + link["empty"] + link["failed"]
    # the record says how many rows the stage read of each input (from its shard plan)
    assert [e["rows"] for e in manifest["stages"]["link"]["inputs"]["corpus"]] == [314]
    assert (link["empty"], link["failed"]) == (1, 1)
    docs = pq.read_table(sample_out / "docs").num_rows
    failures = pq.read_table(sample_out / "failures").to_pylist()
    link_failures = [f for f in failures if f["stage"] in ("read", "link")]
    assert docs + len(link_failures) == link["documents_in"]
    assert [(f["row"], f["reason"]) for f in link_failures] == [(312, "invalid_json")]
    assert manifest["tables"]["relevant_docs"] == 66
    assert set(manifest["versions"]) >= {"longtail", "pyspark", "pyarrow", "python"}


def test_index_tables_equal_independent_aggregates(spark, sample_out):
    mentions = pq.read_table(sample_out / "mentions").to_pylist()
    per_doc = Counter((m["doc_id"], m["entity_id"]) for m in mentions)
    expected = spark.createDataFrame(
        [(d, e, n) for (d, e), n in per_doc.items()], "doc_id long, entity_id long, mentions int")
    out = OutputFolder(str(sample_out))
    assertDataFrameEqual(spark_table(spark, out, "doc_entities"), expected)

    docs_of: dict[int, set[int]] = defaultdict(set)
    for d, e in per_doc:
        docs_of[e].add(d)
    entities = {r["entity_id"]: r for r in pq.read_table(sample_out / "entities").to_pylist()}
    for e, docs in docs_of.items():
        assert entities[e]["doc_count"] == len(docs)
        assert entities[e]["mention_count"] == sum(per_doc[(d, e)] for d in docs)

    pairs: Counter = Counter()
    by_doc: dict[int, list[int]] = defaultdict(list)
    for d, e in per_doc:
        by_doc[d].append(e)
    for ents in by_doc.values():
        pairs.update(combinations(sorted(ents), 2))
    expected_pairs = spark.createDataFrame(
        [(a, b, n) for (a, b), n in pairs.items()], "entity_a long, entity_b long, doc_count long")
    assertDataFrameEqual(spark_table(spark, out, "cooccurrence"), expected_pairs)


def independent_relevant_docs(out: Path, excluded: set[int] = frozenset()) -> dict[str, tuple]:
    """The heuristic computed straight from mentions and qa_entities with DuckDB and sets."""
    with duckdb.connect() as con:
        docs_of: dict[int, set[int]] = defaultdict(set)
        for d, e in rows(con, out, "mentions", "doc_id, entity_id"):
            docs_of[e].add(d)
        uri = dict(rows(con, out, "entity_uris", "DISTINCT entity_id, uri"))
        q_ents: dict[str, set[int]] = defaultdict(set)
        a_list: dict[str, list[int]] = defaultdict(list)
        for qid, role, e in rows(con, out, "qa_entities", "question_id, role, entity_id"):
            if role == "question" and e not in excluded:
                q_ents[qid].add(e)
            elif role == "answer":
                a_list[qid].append(e)
        result = {}
        for (qid,) in rows(con, out, "qa_questions", "question_id"):
            q = q_ents.get(qid, set())
            answers = [a for a in a_list.get(qid, []) if a not in q]
            if not q:
                result[qid] = ("no question entity", None)
                continue
            if not answers:
                result[qid] = ("no answer entity", None)
                continue
            counts = Counter(answers)
            top = max(counts.values())
            best = max(len(docs_of[x] & docs_of[a]) for x in q for a in counts
                       if counts[a] == top)
            # The first maximum with answers outermost, each side in URI order.
            winners = sorted((uri[a], uri[x]) for x in q for a in counts
                             if counts[a] == top and len(docs_of[x] & docs_of[a]) == best)
            pair = (winners[0][1], winners[0][0]) if best else (None, None)
            result[qid] = ("counted" if best else "zero", best, *pair)
        return result


def test_relevant_docs_equal_the_heuristic_computed_from_mentions(sample_out):
    expected = independent_relevant_docs(sample_out)
    got = pq.read_table(sample_out / "relevant_docs").to_pylist()
    assert len(got) == len(expected) == 66
    for row in got:
        want = expected[row["question_id"]]
        assert row["status"] == want[0], row
        assert row["relevant_docs"] == want[1], row
        if row["status"] in ("counted", "zero"):
            assert (row["q_uri"], row["a_uri"]) == want[2:], row
    statuses = Counter(r["status"] for r in got)
    assert statuses["counted"] >= 40 and statuses["zero"] >= 1
    assert statuses["no question entity"] >= 1 and statuses["no answer entity"] >= 1


def test_q_docs_and_a_docs_are_single_entity_maxima(sample_out):
    with duckdb.connect() as con:
        doc_count = dict(rows(con, sample_out, "entities", "entity_id, doc_count"))
        for r in pq.read_table(sample_out / "relevant_docs").to_pylist():
            if r["q_uri"]:
                assert r["q_docs"] >= doc_count[entity_id(r["q_uri"])]
                assert r["a_docs"] >= doc_count[entity_id(r["a_uri"])]
                assert min(r["q_docs"], r["a_docs"]) >= r["relevant_docs"]


def test_exclude_countries_changes_only_country_questions(spark, sample_out, tmp_path):
    import shutil

    out = tmp_path / "countries"
    shutil.copytree(sample_out, out)
    run_count(spark, CountConfig(exclude_countries=True), str(out))
    excluded = {entity_id(u) for u in load_countries()}
    expected = independent_relevant_docs(out, excluded)
    got = {r["question_id"]: r for r in pq.read_table(out / "relevant_docs").to_pylist()}
    assert {q: (r["status"], r["relevant_docs"]) for q, r in got.items()} == {
        q: w[:2] for q, w in expected.items()}
    changed = [q for q in got if expected[q][:2] != independent_relevant_docs(sample_out)[q][:2]]
    assert changed, "the sample has questions about countries"


def test_count_is_the_same_when_files_split_documents(spark, sample_out, tmp_path):
    """doc_entities written by something else (e.g. an import) may spread a document over
    several files; the count stage then groups rows by document itself."""
    import shutil

    import pyarrow.compute as pc

    from longtail.indexes.pair_counts import doc_ranges_disjoint

    out = tmp_path / "split"
    shutil.copytree(sample_out, out)
    table = pq.read_table(out / "doc_entities")
    folder = OutputFolder(str(out))
    entities = folder.read_table("entities", folder.committed_files("entities"))
    odd = pc.equal(pc.bit_wise_and(table["entity_id"], 1), 1)
    commit_stage(folder, "index", {"doc_entities": [table.filter(odd),
                                                    table.filter(pc.invert(odd))],
                                   "entities": entities}, reads=["mentions"])
    files = [f.path for f in folder.committed_files("doc_entities")]
    assert len(files) == 2 and not doc_ranges_disjoint(folder, files)
    original = OutputFolder(str(sample_out))
    assert doc_ranges_disjoint(original, [f.path for f in original.committed_files(
        "doc_entities")])
    run_count(spark, CountConfig(), str(out))
    assert (pq.read_table(out / "relevant_docs").to_pylist()
            == pq.read_table(sample_out / "relevant_docs").to_pylist())


def test_entity_docs_are_doc_entities_by_entity_and_pair_docs_counts_like_the_heuristic(
        sample_out):
    from longtail.output.views import connect

    out = OutputFolder(str(sample_out))
    postings = out.read_table("entity_docs", out.committed_files("entity_docs"))
    pairs = [(e, d) for e, d in zip(postings["entity_id"].to_pylist(),
                                    postings["doc_id"].to_pylist(), strict=True)]
    assert pairs == sorted(pairs)  # by entity, then document, across files in order
    doc_entities = out.read_table("doc_entities", out.committed_files("doc_entities"))
    assert sorted(pairs) == sorted(zip(doc_entities["entity_id"].to_pylist(),
                                       doc_entities["doc_id"].to_pylist(), strict=True))
    with connect(out) as con:
        counted = con.execute("SELECT q_uri, a_uri, relevant_docs FROM relevant_docs "
                              "WHERE status = 'counted'").fetchall()
        assert len(counted) >= 40
        for q_uri, a_uri, n in counted:
            assert con.execute("SELECT count(*) FROM pair_docs(?, ?)",
                               [q_uri, a_uri]).fetchone()[0] == n
        name = counted[0][0].removeprefix("http://dbpedia.org/resource/").replace("_", " ")
        assert con.execute("SELECT count(*) FROM entity_docs_of(?)", [name]).fetchone()[0] == \
            con.execute("SELECT doc_count FROM entities WHERE uri = ?",
                        [counted[0][0]]).fetchone()[0]
