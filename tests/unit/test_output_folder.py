"""An output folder that stays true when it is moved, copied, attached, raced or damaged.

The toy stages of test_lineage run through the same runner as the real ones; no Spark.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pytest

from longtail.errors import UsageError
from longtail.jobs.cli import main
from longtail.output.context import writing
from longtail.output.folder import OutputFolder
from longtail.output.lineage import Lineage
from longtail.output.runner import ShardedStage, local_executor
from longtail.output.views import connect
from tests.unit.test_lineage import ToyLink, toy_index


def build(root: Path, name: str = "out", inside: bool = True) -> tuple[OutputFolder, list[str]]:
    """A folder with a finished toy link (two inputs outside OUT, one inside) and index."""
    out = OutputFolder(str(root / name))
    paths = []
    for folder, file, n in ((root / "in", "a.txt", 5), (root / "in", "b.txt", 3),
                            (root / name / "inputs", "c.txt", 4)):
        if not inside and folder.parent.name == name:
            continue
        folder.mkdir(parents=True, exist_ok=True)
        (folder / file).write_text("".join(f"{file} {i}\n" for i in range(n)), "utf-8")
        paths.append(str(folder / file))
    ToyLink(out, paths).run()
    toy_index(out)
    return out, paths


def answers(out: OutputFolder) -> list:
    with connect(out) as con:
        return con.execute("SELECT source, count(*) FROM docs GROUP BY source ORDER BY 1"
                           ).fetchall()


def all_fresh(out: OutputFolder) -> dict[str, str]:
    lineage = Lineage(out)
    return {stage: lineage.freshness(stage).reason for stage in lineage.records
            if not lineage.freshness(stage).fresh}


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and p.name != "_lock"}


def test_inputs_are_recorded_absolute_and_inside_out_relative(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out, paths = build(tmp_path)
    record = out.record("link")
    recorded = [(e.location, e.inside_out) for e in record.inputs["corpus"]]
    assert recorded == [(paths[0], False), (paths[1], False), ("inputs/c.txt", True)]
    assert all(not f.path.startswith("/") for f in record.all_files())
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert str(tmp_path / "out") not in json.dumps(manifest["stages"]["link"]["inputs"])


def test_a_moved_folder_stays_fresh_and_answers_the_same(tmp_path):
    out, _ = build(tmp_path)
    before = answers(out)
    moved = tmp_path / "elsewhere" / "moved-out"
    moved.parent.mkdir()
    shutil.move(str(tmp_path / "out"), str(moved))
    again = OutputFolder(str(moved))
    assert all_fresh(again) == {}
    assert answers(again) == before


def test_a_copy_with_new_modification_times_stays_fresh(tmp_path):
    out, _ = build(tmp_path)
    before = answers(out)
    time.sleep(0.01)
    subprocess.run(["cp", "-r", str(tmp_path / "out"), str(tmp_path / "copy")], check=True)
    copy = OutputFolder(str(tmp_path / "copy"))
    entry = copy.record("link").all_files()[0]
    assert os.stat(tmp_path / "copy" / entry.path).st_mtime_ns != entry.mtime_ns
    assert all_fresh(copy) == {}
    assert answers(copy) == before


def test_two_folders_attach_from_anywhere_and_join(tmp_path):
    first, _ = build(tmp_path, "corpus-a")
    second, _ = build(tmp_path, "corpus-b", inside=False)
    script = textwrap.dedent(f"""
        import duckdb
        con = duckdb.connect()
        con.execute("ATTACH '{tmp_path}/corpus-a/longtail.duckdb' AS a (READ_ONLY)")
        con.execute("ATTACH '{tmp_path}/corpus-b/longtail.duckdb' AS b (READ_ONLY)")
        con.execute("SET file_search_path = '{tmp_path}/corpus-a,{tmp_path}/corpus-b'")
        print(con.execute('''SELECT x.source, x.n, y.n FROM
            (SELECT source, count(*) n FROM a.docs GROUP BY 1) x
            JOIN (SELECT source, count(*) n FROM b.docs GROUP BY 1) y USING (source)
            ORDER BY 1''').fetchall())
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            cwd="/", timeout=120)
    assert result.returncode == 0, result.stderr
    a, b = (str(tmp_path / "in" / name) for name in ("a.txt", "b.txt"))
    assert result.stdout.strip() == str([(a, 5, 5), (b, 3, 3)])


def test_a_gone_input_is_reported_and_relocate_points_the_folder_at_it(tmp_path, capsys):
    out, _ = build(tmp_path)
    shutil.move(str(tmp_path / "in"), str(tmp_path / "moved-in"))
    state = Lineage(out).freshness("link")
    assert not state.fresh and "is gone" in state.reason and "--relocate" in state.reason
    assert main(["status", out.location, "--relocate",
                 f"{tmp_path / 'in'}={tmp_path / 'moved-in'}"]) == 0
    printed = capsys.readouterr().out
    assert "relocated 2 inputs" in printed and "every stage is fresh" in printed
    record = out.record("link")
    assert [r.old for r in record.relocations] == [str(tmp_path / "in")]
    assert record.inputs["corpus"][0].location == str(tmp_path / "moved-in" / "a.txt")
    assert all_fresh(out) == {}


def damage(path: Path, keep_mtime: bool) -> None:
    """Other bytes of the same size, in the middle of the file and in its footer."""
    stat = path.stat()
    data = bytearray(path.read_bytes())
    for i in range(len(data) // 3, len(data) - 10):
        data[i] ^= 0x5A
    path.write_bytes(bytes(data))
    if keep_mtime:
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def test_same_size_damage_makes_the_stage_stale_and_reads_stop_in_one_line(tmp_path):
    out, _ = build(tmp_path)
    victim = out.record("link").files["docs"][1]
    damage(tmp_path / "out" / victim.path, keep_mtime=False)
    state = Lineage(out).freshness("link")
    assert not state.fresh and f"{victim.path} is damaged" in state.reason
    with pytest.raises(UsageError, match="docs is stale: .* is damaged"):
        Lineage(out).require(["docs"])
    with pytest.raises(UsageError, match=victim.path):
        out.read_table("docs", out.committed_files("docs"))


def test_verify_finds_damage_the_cheap_check_cannot_see(tmp_path, capsys):
    out, _ = build(tmp_path)
    victim = out.record("index").files["entities"][0]
    damage(tmp_path / "out" / victim.path, keep_mtime=True)
    assert all_fresh(out) == {}  # same size, same time: only the full checksum can tell
    assert main(["status", out.location, "--verify"]) == 1
    printed = capsys.readouterr().out
    assert f"damaged: {victim.path} is damaged" in printed and "(written by `index`)" in printed
    assert "verify: 1 damaged of" in printed
    # a query that reads it stops with one line naming the file, not DuckDB's complaint
    assert main(["query", out.location, "SELECT count(*) FROM entities"]) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and f"{victim.path} is damaged" in error[0], error


def test_a_killed_overwrite_leaves_the_previous_run_readable_and_whole(tmp_path):
    out, paths = build(tmp_path)
    before = snapshot(tmp_path / "out")
    toy = ToyLink(out, paths, parameter=2)

    def killed_on_second(item):
        if item[0] == "f00001":
            raise KeyboardInterrupt
        return toy.work(item)

    stage = ShardedStage(out, toy.spec, say=lambda m: None)
    stage.prepare(True)
    with pytest.raises(KeyboardInterrupt):
        stage.run({f"f{i:05d}": (p, i) for i, p in enumerate(paths)}, killed_on_second,
                  local_executor)
    assert all_fresh(out) == {}
    committed = {k: v for k, v in snapshot(tmp_path / "out").items()
                 if not k.startswith("_work/")}
    assert committed == before  # the new run's files live in _work until it commits
    with duckdb.connect() as con:
        glob = str(tmp_path / "out" / "docs" / "*.parquet")
        assert con.execute(f"SELECT count(*) FROM read_parquet('{glob}')").fetchone()[0] == 12
    record = ToyLink(out, paths, parameter=2).run(overwrite=True)
    assert record.parameters == {"parameter": 2}
    assert not (tmp_path / "out" / "_work" / "link").exists()


HOLDER = textwrap.dedent("""
    import sys, time
    from longtail.output.lock import FolderLock
    from longtail.output.storage import Storage
    lock = FolderLock(Storage(sys.argv[1]), "longtail link --out X")
    lock.acquire()
    print("held", flush=True)
    time.sleep(600)
""")


def test_a_second_writer_is_refused_and_a_killed_writers_lock_is_taken_over(tmp_path, capsys):
    out, _ = build(tmp_path)
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, out.location],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(UsageError) as err, writing(out, say=lambda m: None):
            pass
        message = str(err.value)
        assert f"process {holder.pid}" in message and "`longtail link --out X`" in message
        assert "\n" not in message
        assert main(["status", out.location]) == 0  # readers do not wait
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(timeout=30)
        said: list[str] = []
        with writing(out, say=said.append):
            pass
        assert any(f"left by `longtail link --out X` (process {holder.pid}" in line
                   for line in said), said
    finally:
        if holder.poll() is None:
            holder.kill()


def test_status_shows_linking_coverage(tmp_path, capsys):
    from tests.unit.test_analysis_fixture import build_out

    fixture = build_out(tmp_path)
    assert main(["status", fixture.out.location]) == 0
    printed = capsys.readouterr().out
    docs = fixture.out.read_table("docs", fixture.out.committed_files("docs")).to_pylist()
    with_entity = sum(1 for d in docs if d["n_mentions"] > 0)
    statuses = [r["status"] for r in fixture.out.read_table(
        "relevant_docs", fixture.out.committed_files("relevant_docs")).to_pylist()]
    counted = statuses.count("counted") + statuses.count("zero")
    assert "linking coverage" in printed
    assert f"{len(docs):,} read" in printed and f"{with_entity:,} with at least one entity" \
        in printed
    assert f"{counted:,} with a count" in printed and "no answer entity 1" in printed
