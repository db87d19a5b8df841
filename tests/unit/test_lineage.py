"""The stage runner and lineage without Spark: commits, verified resume, staleness, cleanup.

A toy sharded stage copies the rows of input files into a table, one shard per file, through
the same runner the link and qa stages use; a toy whole stage sums it up.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from longtail.errors import UsageError
from longtail.output.folder import OutputFolder
from longtail.output.lineage import Lineage
from longtail.output.runner import (
    ShardedStage,
    ShardWriter,
    StageSpec,
    WholeStage,
    add_stats,
    local_executor,
    sum_stats,
)
from longtail.output.views import connect
from longtail.schemas.tables import DOCS


def docs_rows(path: str, file_index: int) -> pa.Table:
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    n = len(lines)
    return pa.table({
        "doc_id": [(file_index << 40) | i for i in range(n)], "source": [path] * n,
        "row": list(range(n)), "external_id": lines, "n_chars": [len(t) for t in lines],
        "n_mentions": [0] * n, "status": ["linked"] * n}, schema=DOCS)


class ToyLink:
    """A sharded stage like `link`: one shard per input file, rows copied into docs."""

    def __init__(self, out: OutputFolder, inputs: list[str], parameter: int = 1):
        self.out = out
        self.inputs = inputs
        self.spec = StageSpec("link", ["docs"], {"parameter": parameter}, {"corpus": inputs})
        self.messages: list[str] = []
        self.worked: list[str] = []

    def work(self, item):
        shard_id, (path, index) = item
        self.worked.append(shard_id)
        writer = ShardWriter(self.out, "link", shard_id)
        rows = writer.write("docs", docs_rows(path, index))
        return writer.commit_marker({"documents_in": rows, "linked": rows,
                                     "by_file": {Path(path).name: rows}})

    def run(self, overwrite: bool = False) -> dict:
        stage = ShardedStage(self.out, self.spec, say=self.messages.append)
        stage.prepare(overwrite)
        stage.fingerprint_inputs(self.inputs)
        stage.record_rows({p: len(Path(p).read_text().splitlines()) for p in self.inputs})
        shards = {f"f{i:05d}": (p, i) for i, p in enumerate(self.inputs)}
        return stage.run(shards, self.work, local_executor)


def toy_index(out: OutputFolder, parameter: int = 1, say=lambda m: None) -> dict:
    """A whole stage like `index`: one row per source with its document count."""
    with WholeStage(out, StageSpec("index", ["entities"], {"parameter": parameter}),
                    reads=["docs"], say=say) as run:
        docs = out.read_table("docs", run.committed_files("docs"))
        counts: dict[str, int] = {}
        for source in docs["source"].to_pylist():
            counts[source] = counts.get(source, 0) + 1
        names = sorted(counts)
        run.write("entities", pa.table({
            "entity_id": list(range(len(names))), "uri": names, "support": [0] * len(names),
            "types": [[] for _ in names], "doc_count": [counts[n] for n in names],
            "mention_count": [counts[n] for n in names]}))
        run.stats["entities"] = len(names)
    return run.record


@pytest.fixture
def inputs(tmp_path) -> list[str]:
    paths = []
    for name, n in (("a.txt", 5), ("b.txt", 3), ("c.txt", 4)):
        path = tmp_path / "in" / name
        path.parent.mkdir(exist_ok=True)
        path.write_text("".join(f"{name} line {i}\n" for i in range(n)), encoding="utf-8")
        paths.append(str(path))
    return paths


def visible_rows(out: OutputFolder, table: str) -> int:
    with connect(out, allow_stale=True) as con:
        return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def assert_manifest_matches_tables(out: OutputFolder) -> None:
    """Every row count the manifest gives is the number of rows a reader sees."""
    manifest = json.loads(Path(out.location, "manifest.json").read_text())
    assert manifest["tables"], "the manifest lists the tables"
    for table, rows in manifest["tables"].items():
        assert visible_rows(out, table) == rows, table


def test_stats_add_numbers_and_merge_dicts():
    total = sum_stats([{"a": 1, "r": {"x": 1}, "s": "f1"}, {"a": 2, "r": {"x": 2, "y": 1}}])
    assert total == {"a": 3, "r": {"x": 3, "y": 1}}
    assert add_stats({"a": 1}, {"flag": True}) == {"a": 1}


def test_a_finished_stage_is_fresh_and_its_manifest_adds_up(tmp_path, inputs):
    out = OutputFolder(str(tmp_path / "out"))
    record = ToyLink(out, inputs).run()
    assert record.stats["documents_in"] == 12 and record.stats["shards"] == 3
    assert record.stats["by_file"] == {"a.txt": 5, "b.txt": 3, "c.txt": 4}
    assert [e.rows for e in record.inputs["corpus"]] == [5, 3, 4]
    assert [e.location for e in record.inputs["corpus"]] == inputs  # absolute paths
    assert Lineage(out).freshness("link").fresh
    assert visible_rows(out, "docs") == 12
    assert_manifest_matches_tables(out)


def test_resume_redoes_only_a_shard_whose_file_is_missing_and_says_so(tmp_path, inputs):
    out = OutputFolder(str(tmp_path / "out"))
    first = ToyLink(out, inputs).run()
    victim = first.files["docs"][1].path
    os.remove(os.path.join(out.location, victim))
    state = Lineage(out).freshness("link")
    assert not state.fresh and "is missing" in state.reason

    again = ToyLink(out, inputs)
    record = again.run()
    assert again.worked == ["f00001"]
    assert any("shard f00001" in m and "doing it again" in m for m in again.messages)
    assert "3 shards, 2 already done, 1 to do" in again.messages[-1]
    assert record.run_id != first.run_id  # a redone shard is a new output
    assert visible_rows(out, "docs") == 12
    assert_manifest_matches_tables(out)


def test_resume_redoes_a_shard_whose_file_changed(tmp_path, inputs):
    out = OutputFolder(str(tmp_path / "out"))
    first = ToyLink(out, inputs).run()
    path = os.path.join(out.location, first.files["docs"][0].path)
    with open(path, "ab") as fh:
        fh.write(b"garbage")
    again = ToyLink(out, inputs)
    again.run()
    assert again.worked == ["f00000"]
    assert_manifest_matches_tables(out)


def test_nothing_to_do_keeps_the_record_and_its_run_id(tmp_path, inputs):
    out = OutputFolder(str(tmp_path / "out"))
    first = ToyLink(out, inputs).run()
    again = ToyLink(out, inputs)
    second = again.run()
    assert again.worked == []
    assert second == first


def test_a_changed_input_stops_the_run_with_one_line(tmp_path, inputs):
    out = OutputFolder(str(tmp_path / "out"))
    ToyLink(out, inputs).run()
    with open(inputs[1], "a", encoding="utf-8") as fh:
        fh.write("one more line\n")
    state = Lineage(out).freshness("link")
    assert not state.fresh and inputs[1] in state.reason and "--overwrite" in state.rerun
    with pytest.raises(UsageError) as err:
        ToyLink(out, inputs).run()
    message = str(err.value)
    assert inputs[1] in message and "--overwrite" in message and "restore" in message
    assert "\n" not in message
    record = ToyLink(out, inputs).run(overwrite=True)
    assert record.stats["documents_in"] == 13
    assert_manifest_matches_tables(out)


def test_other_parameters_are_refused_unless_overwritten(tmp_path, inputs):
    out = OutputFolder(str(tmp_path / "out"))
    ToyLink(out, inputs).run()
    with pytest.raises(UsageError, match="run with other parameter; pass --overwrite"):
        ToyLink(out, inputs, parameter=2).run()
    with pytest.raises(UsageError, match="other input files"):
        ToyLink(out, inputs[:2]).run()
    assert ToyLink(out, inputs, parameter=2).run(overwrite=True).parameters == {
        "parameter": 2}


def test_downstream_is_stale_after_upstream_reruns_and_refuses_to_read_it(tmp_path, inputs):
    out = OutputFolder(str(tmp_path / "out"))
    ToyLink(out, inputs).run()
    index = toy_index(out)
    assert index.upstream == {"link": Lineage(out).records["link"].run_id}
    assert Lineage(out).freshness("index").fresh

    ToyLink(out, inputs, parameter=2).run(overwrite=True)
    lineage = Lineage(out)
    state = lineage.freshness("index")
    assert not state.fresh
    assert state.reason == "`link` ran again after `index` did"
    assert state.rerun == "longtail index"
    with pytest.raises(UsageError) as err:
        lineage.require(["entities"])
    assert str(err.value) == ("entities is stale: `link` ran again after `index` did; run "
                              "`longtail index` first")
    with pytest.raises(duckdb.Error, match="entities is stale"), connect(out) as con:
        con.execute("SELECT count(*) FROM entities").fetchall()
    toy_index(out)
    assert Lineage(out).freshness("index").fresh


def test_a_stage_that_stopped_part_way_is_not_read(tmp_path, inputs):
    out = OutputFolder(str(tmp_path / "out"))
    toy = ToyLink(out, inputs)

    def crash_on_second(item):
        if item[0] == "f00001":
            raise RuntimeError("killed")
        return toy.work(item)

    stage = ShardedStage(out, toy.spec, say=lambda m: None)
    stage.prepare(False)
    with pytest.raises(RuntimeError):
        stage.run({f"f{i:05d}": (p, i) for i, p in enumerate(inputs)}, crash_on_second,
                  local_executor)
    with pytest.raises(UsageError, match="docs is stale: `link` stopped before it finished"):
        Lineage(out).require(["docs"])
    again = ToyLink(out, inputs)
    again.run()
    assert again.worked == ["f00001", "f00002"]
    assert_manifest_matches_tables(out)


def test_files_no_marker_names_are_invisible_and_removed(tmp_path, inputs):
    """A task killed after writing, and a duplicate of a finished task: their files stay in
    the stage's work folder, are never read, and go when the stage next commits."""
    out = OutputFolder(str(tmp_path / "out"))
    toy = ToyLink(out, inputs)
    toy.run()
    orphan = ShardWriter(out, "link", "f00000")  # a duplicate attempt, never committed
    orphan.write("docs", docs_rows(inputs[0], 0))
    half = ShardWriter(out, "link", "f00009")  # a killed task of a shard not in the plan
    half.write("docs", docs_rows(inputs[1], 1))
    assert len(os.listdir(os.path.join(out.location, "docs"))) == 3
    assert len(os.listdir(os.path.join(out.location, "_work", "link", "docs"))) == 2
    assert visible_rows(out, "docs") == 12
    assert out.read_table("docs", out.committed_files("docs")).num_rows == 12
    assert Lineage(out).freshness("link").fresh  # extra files do not make it stale

    os.remove(os.path.join(out.location, toy.out.committed_files("docs")[2].path))
    ToyLink(out, inputs).run()
    assert len(os.listdir(os.path.join(out.location, "docs"))) == 3
    assert not os.path.exists(os.path.join(out.location, "_work", "link"))
    assert_manifest_matches_tables(out)


def test_a_whole_stage_rerun_replaces_its_files_and_recovery_removes_strays(tmp_path, inputs):
    """The previous run's files go with the commit that replaces them; a table file no record
    names (an older version's, or an interrupted commit's) goes when a writer takes OUT."""
    out = OutputFolder(str(tmp_path / "out"))
    ToyLink(out, inputs).run()
    folder = os.path.join(out.location, "entities")
    said: list[str] = []
    toy_index(out, say=said.append)
    first = os.listdir(folder)
    toy_index(out, say=said.append)
    assert said == []
    second = os.listdir(folder)
    assert len(first) == len(second) == 1 and first != second
    stray = out.write_table_file("entities", "entities/part-index-all-0123456789ab.parquet",
                                 out.read_table("entities", out.committed_files("entities")))
    assert len(os.listdir(folder)) == 2
    assert out.recover(["entities"]) == ["removed 1 table files no record names"]
    assert os.listdir(folder) == second and not os.path.exists(stray.path)
    assert_manifest_matches_tables(out)


def test_a_failed_whole_stage_leaves_the_previous_run_as_it_was(tmp_path, inputs):
    out = OutputFolder(str(tmp_path / "out"))
    ToyLink(out, inputs).run()
    before = toy_index(out)
    with pytest.raises(RuntimeError), WholeStage(out, StageSpec("index", ["entities"], {}),
                                                 reads=["docs"], say=lambda m: None) as run:
        run.write("entities", pa.table({
            "entity_id": [1], "uri": ["x"], "support": [0], "types": [[]], "doc_count": [1],
            "mention_count": [1]}))
        raise RuntimeError("stopped")
    assert out.record("index") == before
    assert [f.path for f in out.committed_files("entities")] == [
        f"entities/{name}" for name in os.listdir(os.path.join(out.location, "entities"))]
    assert not os.path.exists(os.path.join(out.location, "_work", "index"))
    assert Lineage(out).freshness("index").fresh
