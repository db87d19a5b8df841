"""The output folder's guarantees where they depend on the store or the input's home: the lock
on S3 (conditional writes, a lease), an input served over HTTP that changes (its ETag), and a
model file damaged in place (`status --verify`). Real servers on 127.0.0.1."""

from __future__ import annotations

import json
import os
import time

import pytest

from longtail.errors import UsageError
from longtail.jobs.cli import main
from longtail.linking.statistical import import_wikistats
from longtail.output.folder import OutputFolder
from longtail.output.lineage import Lineage
from longtail.output.lock import REMOTE_LOCK, FolderLock
from longtail.output.runner import commit_stage
from longtail.output.storage import Storage
from longtail.schemas.tables import DOCS
from tests.servers.http_files import HttpFileServer
from tests.servers.object_store import s3_environment

DBR = "http://dbpedia.org/resource/"


def docs_table(n: int = 3):
    import pyarrow as pa

    return pa.table({"doc_id": list(range(n)), "source": ["c.jsonl"] * n, "row": list(range(n)),
                     "external_id": [None] * n, "n_chars": [1] * n, "n_mentions": [0] * n,
                     "status": ["linked"] * n}, schema=DOCS)


@pytest.fixture(scope="module")
def s3():
    with s3_environment("locks") as server:
        yield server


def test_one_writer_at_a_time_on_s3_and_an_expired_lease_is_taken_over(s3):
    storage = Storage("s3://locks/out")
    first = FolderLock(storage, "longtail link --out s3://locks/out")
    first.acquire()
    try:
        with pytest.raises(UsageError) as err:
            FolderLock(storage, "longtail index --out s3://locks/out").acquire()
        assert "`longtail link --out s3://locks/out` (process" in str(err.value)
        held = json.loads(storage.read_bytes(REMOTE_LOCK))
        assert held["command"] == "longtail link --out s3://locks/out"
    finally:
        first.release()
    assert storage.stat(REMOTE_LOCK) is None  # released: the lease object is gone
    # a holder that was killed leaves its lease; once expired, the next writer takes over
    stale = {**held, "pid": 999_999, "expires": time.time() - 1}
    storage.write_bytes(REMOTE_LOCK, json.dumps(stale).encode())
    said: list[str] = []
    second = FolderLock(storage, "longtail index", say=said.append)
    second.acquire()
    try:
        assert said and "process 999999" in said[0] and "no longer running" in said[0]
        assert json.loads(storage.read_bytes(REMOTE_LOCK))["command"] == "longtail index"
    finally:
        second.release()


def test_a_remote_input_that_changes_makes_its_stage_stale(tmp_path):
    served = tmp_path / "served"
    served.mkdir()
    (served / "corpus.jsonl").write_text('{"text": "Paris"}\n', encoding="utf-8")
    out = OutputFolder(str(tmp_path / "out"))
    with HttpFileServer(served) as server:
        url = f"{server.url}/corpus.jsonl"
        record = commit_stage(out, "link", {"docs": docs_table()}, inputs={"corpus": [url]})
        [entry] = record.inputs["corpus"]
        assert entry.location == url and entry.etag
        assert Lineage(out).freshness("link").fresh
        (served / "corpus.jsonl").write_text('{"text": "Lyon"}\n', encoding="utf-8")  # same size
        state = Lineage(out).freshness("link")
    assert not state.fresh and f"input {url} changed (another version)" in state.reason


def test_verify_names_a_damaged_model_file(tmp_path, capsys):
    stats = tmp_path / "wikistats"
    stats.mkdir()
    (stats / "sfAndTotalCounts").write_text("Paris\t10\t20\n", encoding="utf-8")
    (stats / "pairCounts").write_text(f"Paris\t{DBR}Paris\t10\n", encoding="utf-8")
    (stats / "uriCounts").write_text(f"{DBR}Paris\t50\n", encoding="utf-8")
    model = tmp_path / "model"
    import_wikistats(stats, model)
    out = OutputFolder(str(tmp_path / "out"))
    from longtail.output.runner import StageSpec, WholeStage

    with WholeStage(out, StageSpec("link", ["docs"], {}, model=str(model))) as run:
        run.write("docs", docs_table())
    assert run.record.model.location == str(model)
    victim = max((p for p in model.iterdir() if p.suffix == ".bin"),
                 key=lambda p: p.stat().st_size)
    stat = victim.stat()
    data = bytearray(victim.read_bytes())
    data[-1] ^= 0xFF
    victim.write_bytes(bytes(data))
    os.utime(victim, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # same size, same time
    assert main(["status", out.location, "--verify"]) == 1
    printed = capsys.readouterr().out
    assert f"damaged: model {model}:" in printed and victim.name in printed
