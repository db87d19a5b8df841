"""The storage layer on a local disk, and what it says about URIs it cannot reach."""

from __future__ import annotations

import os
import pickle

import pytest

from longtail.corpus import resolve_inputs
from longtail.errors import UsageError
from longtail.output.remote import redact
from longtail.output.storage import Storage, glob_locations, is_remote, location_kind, walk


def test_local_storage_writes_atomically_lists_and_deletes(tmp_path):
    storage = Storage(str(tmp_path / "root"))
    storage.write_json("a/b.json", {"x": 1})
    storage.write_bytes("a/c.bin", b"12345")
    assert storage.read_json("a/b.json") == {"x": 1}
    assert storage.read_json("a/missing.json") is None
    assert {p: s.size for p, s in storage.list("a").items()} == {"a/b.json": 13, "a/c.bin": 5}
    assert not [p for p in os.listdir(tmp_path / "root" / "a") if p.startswith(".tmp-")]
    storage.delete("a/c.bin")
    storage.delete("a/c.bin")  # already gone: fine
    assert storage.stat("a/c.bin") is None
    storage.delete_dir("a")
    assert storage.list("a") == {}
    copy = pickle.loads(pickle.dumps(storage))
    assert copy.root == storage.root and copy.local


def test_a_folder_that_cannot_be_written_is_one_line(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x", encoding="utf-8")
    with pytest.raises(UsageError) as err:
        Storage(str(blocker / "out")).check_writable()
    assert "cannot write to" in str(err.value) and "\n" not in str(err.value)


def test_locations_walks_and_globs_are_the_same_for_every_filesystem(tmp_path):
    (tmp_path / "d" / "e").mkdir(parents=True)
    for name in ("d/x.jsonl", "d/e/y.jsonl", "d/e/z.txt"):
        (tmp_path / name).write_text("{}\n", encoding="utf-8")
    assert location_kind(str(tmp_path / "d")) == "folder"
    assert location_kind(str(tmp_path / "d" / "x.jsonl")) == "file"
    assert location_kind(str(tmp_path / "nothing")) is None
    assert [len(files) for _, _, files in walk(str(tmp_path / "d"))] == [1, 2]
    assert glob_locations(str(tmp_path / "d" / "**" / "*.jsonl")) == [
        str(tmp_path / "d" / "e" / "y.jsonl"), str(tmp_path / "d" / "x.jsonl")]
    assert not is_remote(str(tmp_path)) and is_remote("s3://bucket/key")


def test_credentials_written_into_a_uri_are_never_shown():
    assert redact("s3://AKIAKEY:secret@bucket/prefix") == "s3://bucket/prefix"
    assert redact("s3://bucket/prefix") == "s3://bucket/prefix"


@pytest.mark.parametrize(("uri", "said"), [
    ("abfs://container/corpus/", "pip install 'longtail[azure]'"),
    ("hdfs://namenode:8020/corpus/", "libhdfs"),
    ("nosuchscheme://x/y", "install the fsspec library"),
])
def test_a_filesystem_whose_library_is_missing_is_one_line(uri, said, monkeypatch):
    monkeypatch.delenv("HADOOP_HOME", raising=False)
    monkeypatch.delenv("ARROW_LIBHDFS_DIR", raising=False)
    with pytest.raises(UsageError) as err:
        resolve_inputs([uri])
    assert said in str(err.value) and "\n" not in str(err.value)
