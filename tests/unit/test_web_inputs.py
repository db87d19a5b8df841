"""Corpus and QA files over http(s):// and hf://, against real servers on 127.0.0.1: a static
file server that misbehaves on purpose (tests/servers/http_files.py) and a server answering
the Hub's routes (tests/servers/hub.py), each in its own process."""

from __future__ import annotations

import os
import pickle
import shutil

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from longtail.corpus import resolve_inputs
from longtail.errors import UsageError
from longtail.output import storage as storage_module
from longtail.output.storage import Storage, glob_locations, location_kind, open_source
from longtail.qa.readers import read_qa, resolve_qa_paths
from longtail.sample import SAMPLE_CORPUS, SAMPLE_QA
from tests.servers.http_files import HttpFileServer
from tests.servers.hub import HubProcess

TOKEN = "hf_test_token_5c1e"


@pytest.fixture(scope="module")
def web_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("web")
    (root / "corpus").mkdir()
    shutil.copy(SAMPLE_CORPUS, root / "corpus" / "sample-corpus.jsonl")
    shutil.copy(SAMPLE_QA, root / "sample-qa.jsonl")
    rng = pa.array([os.urandom(4000).hex() for _ in range(600)])  # incompressible, ~4.8 MB
    pq.write_table(pa.table({"id": pa.array(range(600)), "text": rng}),
                   root / "corpus" / "groups.parquet", row_group_size=200,
                   compression="none")
    return root


@pytest.fixture(scope="module")
def web(web_root):
    with HttpFileServer(web_root) as server:
        yield server


@pytest.fixture
def clean(web):
    web.reset()
    yield web
    web.reset()


@pytest.fixture(scope="module")
def hub_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("hub")
    data = root / "datasets" / "allenai" / "c4" / "en"
    data.mkdir(parents=True)
    shutil.copy(SAMPLE_CORPUS, data / "c4-train.00000-of-00002.json")
    shutil.copy(SAMPLE_CORPUS, data / "c4-train.00001-of-00002.json")
    shutil.copy(SAMPLE_QA, data / "c4-validation.00000-of-00001.json")
    return root


@pytest.fixture(scope="module")
def hub(hub_root):
    with HubProcess(hub_root, token=TOKEN, page_size=2) as server:
        yield server


@pytest.fixture
def hub_env(hub, monkeypatch):
    for key, value in hub.env().items():
        monkeypatch.setenv(key, value)
    storage_module._folder_storage.cache_clear()
    yield hub
    storage_module._folder_storage.cache_clear()


# -- http(s):// -----------------------------------------------------------------------------


def test_a_url_reads_as_the_file_with_seeks_and_its_etag_changes_with_it(web, web_root, clean):
    url = f"{web.url}/corpus/sample-corpus.jsonl"
    data = SAMPLE_CORPUS.read_bytes()
    with open_source(url) as handle:
        assert handle.read() == data
        handle.seek(31_000)
        assert handle.read(500) == data[31_000:31_500]
    storage, name = Storage.for_file(url)
    before = storage.stat(name)
    assert before.size == len(data) and before.etag and before.mtime_ns > 0
    path = web_root / "corpus" / "sample-corpus.jsonl"
    try:
        path.write_bytes(data.replace(b"Paris", b"Lyons", 1))  # same size, new content
        after = storage.stat(name)
        assert after.size == before.size and after.etag != before.etag
    finally:
        path.write_bytes(data)
    assert storage.stat(name).etag == before.etag


def test_parquet_row_groups_are_fetched_alone_with_range_requests(web, web_root, clean):
    url = f"{web.url}/corpus/groups.parquet"
    local = pq.ParquetFile(web_root / "corpus" / "groups.parquet")
    with open_source(url) as handle:
        remote = pq.ParquetFile(handle)
        assert remote.metadata.num_row_groups == 3
        assert remote.read_row_group(2).equals(local.read_row_group(2))
    gets = [r for r in web.requests() if r[0] == "GET"]
    assert gets and all(r[2] and r[2].startswith("bytes=") for r in gets)
    fetched = sum(int(b) - int(a) + 1 for a, b in
                  (r[2].removeprefix("bytes=").split("-") for r in gets))
    size = (web_root / "corpus" / "groups.parquet").stat().st_size
    assert fetched < size * 0.5, (fetched, size)  # one group of three and the footer


def test_5xx_and_connections_cut_mid_file_are_retried_where_they_stopped(web, clean):
    url = f"{web.url}/corpus/sample-corpus.jsonl"
    web.fault("/corpus/sample-corpus.jsonl", status=503, times=2)
    web.fault("/corpus/sample-corpus.jsonl", status=502, times=1)
    with open_source(url) as handle:
        web.fault("/corpus/sample-corpus.jsonl", cut_after=10_000, times=2)
        assert handle.read() == SAMPLE_CORPUS.read_bytes()
    ranges = [r[2] for r in web.requests() if r[0] == "GET"]
    assert ranges[:3] == ["bytes=0-70219", "bytes=10000-70219", "bytes=20000-70219"]


def test_a_server_that_always_fails_stops_with_one_line(web, clean):
    web.fault("/corpus/sample-corpus.jsonl", status=500, times=-1)
    with pytest.raises(UsageError) as err:
        resolve_inputs([f"{web.url}/corpus/sample-corpus.jsonl"])
    message = str(err.value)
    assert "HTTP 500" in message and "after 5 attempts" in message and "\n" not in message


def test_404_and_403_are_one_line_for_corpus_and_qa(web, clean):
    missing = f"{web.url}/corpus/missing.jsonl"
    with pytest.raises(UsageError, match=f"^input not found: {missing}$"):
        resolve_inputs([missing])
    with pytest.raises(UsageError, match=f"^QA file not found: {missing}$"):
        resolve_qa_paths([missing])
    web.fault("/sample-qa.jsonl", status=403, times=-1)
    with pytest.raises(UsageError) as err:
        resolve_qa_paths([f"{web.url}/sample-qa.jsonl"])
    assert str(err.value).startswith(f"cannot use {web.url}/sample-qa.jsonl: HTTP 403")


def test_a_glob_over_http_says_to_list_the_urls(web, clean):
    with pytest.raises(UsageError, match="cannot be listed.*@FILE"):
        resolve_inputs([f"{web.url}/corpus/*.jsonl"])
    # a `?` in a query string is not a glob: the URL is taken as it is
    assert glob_locations(f"{web.url}/sample-qa.jsonl?download=1") == [
        f"{web.url}/sample-qa.jsonl?download=1"]


def test_servers_that_ignore_range_or_refuse_head_are_still_read(web, clean):
    url = f"{web.url}/corpus/sample-corpus.jsonl"
    data = SAMPLE_CORPUS.read_bytes()
    web.fault("/corpus/sample-corpus.jsonl", head=405, times=-1)
    web.fault("/corpus/sample-corpus.jsonl", ignore_range=True, times=-1)
    assert location_kind(url) == "file"
    with open_source(url) as handle:
        handle.seek(60_000)
        assert handle.read(100) == data[60_000:60_100]


def test_a_file_that_changes_while_it_is_read_stops_the_read(web, web_root, clean):
    path = web_root / "corpus" / "groups.parquet"
    data = path.read_bytes()
    with open_source(f"{web.url}/corpus/groups.parquet") as handle:
        handle.read(10)
        try:
            path.write_bytes(data[::-1])
            handle.seek(len(data) - 10)  # beyond the first span: a new request
            with pytest.raises(OSError, match="changed while it was being read"):
                handle.read(5)
        finally:
            path.write_bytes(data)


def test_list_files_name_corpus_and_qa_inputs(web, tmp_path, clean):
    listing = tmp_path / "urls.txt"
    listing.write_text(f"# the sample over HTTP\n\n{web.url}/corpus/sample-corpus.jsonl\n"
                       "local.jsonl\n", encoding="utf-8")
    shutil.copy(SAMPLE_CORPUS, tmp_path / "local.jsonl")
    files = resolve_inputs([f"@{listing}"])
    assert sorted(f.path for f in files) == sorted(
        [f"{web.url}/corpus/sample-corpus.jsonl", str(tmp_path / "local.jsonl")])
    qa_list = tmp_path / "qa.txt"
    qa_list.write_text(f"{web.url}/sample-qa.jsonl\n", encoding="utf-8")
    over_http = [p for p in read_qa([f"@{qa_list}"], "nq-open")]
    assert len(over_http) == 66
    assert [p.question for p in over_http] == [p.question for p in read_qa([SAMPLE_QA],
                                                                           "nq-open")]
    # a list served over HTTP, naming files relative to itself
    (web.root / "list.txt").write_text("corpus/sample-corpus.jsonl\n", encoding="utf-8")
    assert [f.path for f in resolve_inputs([f"@{web.url}/list.txt"])] == [
        f"{web.url}/corpus/sample-corpus.jsonl"]
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing yet\n", encoding="utf-8")
    with pytest.raises(UsageError, match="lists no location"):
        resolve_inputs([f"@{empty}"])
    with pytest.raises(UsageError, match="^list file not found: "):
        resolve_qa_paths([f"@{tmp_path / 'nope.txt'}"])


def test_http_storage_pickles_to_its_location_and_refuses_writes(web, clean):
    storage, name = Storage.for_file(f"{web.url}/sample-qa.jsonl")
    copy = pickle.loads(pickle.dumps(storage))
    assert copy.read_bytes(name) == SAMPLE_QA.read_bytes()
    with pytest.raises(UsageError, match="read-only"):
        Storage(f"{web.url}/out").check_writable()


# -- hf:// ----------------------------------------------------------------------------------


def test_hub_globs_list_through_pages_and_files_read_whole_and_in_parts(hub_env):
    found = glob_locations("hf://datasets/allenai/c4/en/c4-train.0000*")
    assert found == [f"hf://datasets/allenai/c4/en/c4-train.0000{i}-of-00002.json"
                     for i in (0, 1)]
    files = resolve_inputs(["hf://datasets/allenai/c4/en/c4-train.*.json"])
    assert [f.format for f in files] == ["jsonl", "jsonl"]
    data = SAMPLE_CORPUS.read_bytes()
    with open_source(found[1]) as handle:
        handle.seek(50_000)
        assert handle.read(1000) == data[50_000:51_000]
        handle.seek(0)
        assert handle.read() == data
    assert len(list(read_qa(["hf://datasets/allenai/c4/en/c4-validation.00000-of-00001.json"],
                            "nq-open"))) == 66


def test_hub_stat_is_the_blob_id_and_changes_with_the_file(hub_env, hub_root):
    url = "hf://datasets/allenai/c4/en/c4-train.00000-of-00002.json"
    storage, name = Storage.for_file(url)
    before = storage.stat(name)
    assert before.size == SAMPLE_CORPUS.stat().st_size and len(before.etag) == 40
    path = hub_root / "datasets" / "allenai" / "c4" / "en" / "c4-train.00000-of-00002.json"
    try:
        path.write_bytes(SAMPLE_CORPUS.read_bytes().replace(b"Paris", b"Lyons", 1))
        assert storage.stat(name).etag != before.etag
    finally:
        shutil.copy(SAMPLE_CORPUS, path)
    assert location_kind("hf://datasets/allenai/c4/en/nothing.json") is None


def test_hub_token_comes_from_the_environment_and_is_never_shown(hub_env, monkeypatch):
    url = "hf://datasets/allenai/c4/en/c4-train.00000-of-00002.json"
    storage, _ = Storage.for_file(url)
    assert TOKEN.encode() not in pickle.dumps(storage)
    monkeypatch.setenv("HF_TOKEN", "hf_wrong_token")
    storage_module._folder_storage.cache_clear()
    with pytest.raises(UsageError) as err:
        resolve_inputs([url])
    message = str(err.value)
    assert message.startswith(f"cannot use {url}: no such repository") and "HF_TOKEN" in message
    assert "hf_wrong_token" not in message and "\n" not in message
    monkeypatch.delenv("HF_TOKEN")
    storage_module._folder_storage.cache_clear()
    with pytest.raises(UsageError, match=r"\(HF_TOKEN is not set\)"):
        resolve_inputs([url])
