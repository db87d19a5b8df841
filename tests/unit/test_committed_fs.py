"""`longtail://`: an output folder's committed files, readable from many threads, unwritable."""

from __future__ import annotations

import threading

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from longtail.output.committed_fs import CommittedFilesystem, ReadOnlyFileError
from longtail.output.folder import OutputFolder
from longtail.output.lineage import Lineage
from longtail.output.runner import commit_stage
from longtail.output.views import connect
from longtail.schemas.tables import DOC_ENTITIES

ROWS = 400_000


@pytest.fixture(scope="module")
def out(tmp_path_factory) -> OutputFolder:
    """doc_entities in two files of many small row groups, so that DuckDB reads each file
    from several threads at once."""
    out = OutputFolder(tmp_path_factory.mktemp("committed_fs") / "out")
    rng = np.random.default_rng(3)
    parts = [pa.table({"doc_id": np.arange(start, start + ROWS // 2, dtype=np.int64),
                       "entity_id": rng.integers(0, 1 << 62, ROWS // 2, dtype=np.int64),
                       "mentions": rng.integers(1, 9, ROWS // 2, dtype=np.int32)},
                      schema=DOC_ENTITIES) for start in (0, ROWS // 2)]
    commit_stage(out, "index", {"doc_entities": parts}, row_groups={"doc_entities": 2_048})
    return out


def committed(out: OutputFolder) -> CommittedFilesystem:
    return CommittedFilesystem(out.storage, [f.path for f in
                                             Lineage(out).committed_files("doc_entities")])


def test_each_thread_reads_at_its_own_position(out):
    """DuckDB seeks, then reads, on one handle from several threads: a seek in one thread
    must not move another's reads."""
    fs = committed(out)
    path = fs.ls("longtail://doc_entities", detail=False)[0]
    expected = out.storage.read_bytes(path)
    handle = fs.open(f"longtail://{path}", "rb")
    a_sought, b_sought = threading.Event(), threading.Event()
    got = {}

    def reader(name: str, offset: int, mine: threading.Event, other: threading.Event) -> None:
        handle.seek(offset)
        mine.set()
        other.wait(5)  # the other thread has sought too, on the same handle
        got[name] = (handle.read(100), handle.read(100), handle.tell())

    threads = [threading.Thread(target=reader, args=("a", 10, a_sought, b_sought)),
               threading.Thread(target=reader, args=("b", 5_000, b_sought, a_sought))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert got["a"] == (expected[10:110], expected[110:210], 210)
    assert got["b"] == (expected[5_000:5_100], expected[5_100:5_200], 5_200)
    handle.close()


def test_duckdb_reads_the_same_rows_as_pyarrow(out):
    """A parallel scan through longtail:// gives exactly what pyarrow reads from the files."""
    files = out.read_table("doc_entities", Lineage(out).committed_files("doc_entities"))
    expected = (files.num_rows, int(pc.sum(files["entity_id"].cast(pa.decimal128(38)))
                                    .as_py()), int(pc.sum(files["mentions"]).as_py()))
    with connect(out) as con:
        for _ in range(5):
            assert con.execute("SELECT count(*), sum(entity_id::HUGEINT), sum(mentions) "
                               "FROM doc_entities").fetchone() == expected


def test_it_holds_the_committed_files_and_nothing_else(out):
    fs = committed(out)
    names = fs.ls("longtail://", detail=False)
    assert names == ["doc_entities"]
    assert len(fs.ls("longtail://doc_entities", detail=False)) == 2
    assert fs.info("longtail://doc_entities")["type"] == "directory"
    assert not fs.exists("longtail://manifest.json")
    assert out.storage.stat("manifest.json") is not None  # in OUT, but not a table file
    with pytest.raises(FileNotFoundError):
        fs.open("longtail://manifest.json", "rb")
    with pytest.raises(FileNotFoundError):
        fs.open("longtail://doc_entities/../manifest.json", "rb")


@pytest.mark.parametrize("change", [
    lambda fs, p: fs.open(p, "wb"), lambda fs, p: fs.open(p, "ab"),
    lambda fs, p: fs.open(p, "r+b"), lambda fs, p: fs.open("longtail://new.parquet", "wb"),
    lambda fs, p: fs.rm(p), lambda fs, p: fs.rm_file(p), lambda fs, p: fs.mv(p, p + ".x"),
    lambda fs, p: fs.copy(p, p + ".x"), lambda fs, p: fs.mkdir("longtail://x"),
    lambda fs, p: fs.makedirs("longtail://x/y"), lambda fs, p: fs.rmdir("longtail://x"),
    lambda fs, p: fs.touch(p), lambda fs, p: fs.pipe_file(p, b"x"),
    lambda fs, p: fs.put_file(__file__, p),
    lambda fs, p: fs.open(p, "rb").write(b"x"),
])
def test_every_change_is_refused(out, change):
    fs = committed(out)
    path = "longtail://" + fs.ls("longtail://doc_entities", detail=False)[0]
    before = fs.cat_file(path)
    with pytest.raises(ReadOnlyFileError):
        change(fs, path)
    assert fs.cat_file(path) == before
