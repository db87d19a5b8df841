"""`longtail run` with its corpus and QA file over http:// and hf://, against real servers on
127.0.0.1 (a static file server that fails on purpose, and a server answering the Hub's
routes), through the real command; every table must equal the local run's."""

from __future__ import annotations

import shutil

import pytest

from longtail.output.folder import OutputFolder
from longtail.output.lineage import Lineage
from longtail.sample import SAMPLE_CORPUS, SAMPLE_QA
from tests.e2e.test_object_storage import TABLES, rows, run, run_args
from tests.servers.http_files import HttpFileServer
from tests.servers.hub import HubProcess

pytestmark = [pytest.mark.slow, pytest.mark.spark]

TOKEN = "hf_e2e_token_93ab"


@pytest.fixture(scope="module")
def web(tmp_path_factory):
    root = tmp_path_factory.mktemp("web")
    (root / "corpus").mkdir()
    shutil.copy(SAMPLE_CORPUS, root / "corpus" / SAMPLE_CORPUS.name)
    shutil.copy(SAMPLE_QA, root / SAMPLE_QA.name)
    with HttpFileServer(root) as server:
        yield server


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    root = tmp_path_factory.mktemp("hub")
    repo = root / "datasets" / "longtail" / "sample"
    (repo / "corpus").mkdir(parents=True)
    (repo / "qa").mkdir()
    shutil.copy(SAMPLE_CORPUS, repo / "corpus" / SAMPLE_CORPUS.name)
    shutil.copy(SAMPLE_QA, repo / "qa" / SAMPLE_QA.name)
    with HubProcess(root, token=TOKEN, page_size=1) as server:
        yield server


def test_a_run_over_http_equals_the_local_run(web, demo, tmp_path):
    corpus = f"{web.url}/corpus/{SAMPLE_CORPUS.name}"
    web.fault(f"/corpus/{SAMPLE_CORPUS.name}", status=503, times=2)
    web.fault(f"/corpus/{SAMPLE_CORPUS.name}", cut_after=20_000, times=2)
    web.fault(f"/{SAMPLE_QA.name}", status=502, times=1)
    out = str(tmp_path / "out")
    result = run(*run_args(corpus, f"{web.url}/{SAMPLE_QA.name}", str(demo[0] / "model"), out))
    assert result.returncode == 0, result.stderr[-3000:]
    for table in TABLES:
        assert rows(out, table) == rows(str(demo[0]), table), table
    assert Lineage(OutputFolder(out)).freshness("count").fresh
    served = web.requests()
    assert [r for r in served if r[2] is not None]  # read with range requests
    assert any(r[0] == "GET" and r[2] not in (None, "bytes=0-0") and not r[2].startswith(
        "bytes=0-") for r in served), "no read resumed or started mid-file"


def test_a_run_over_the_hub_equals_the_local_run(hub, demo, tmp_path):
    out = str(tmp_path / "out")
    result = run(*run_args("hf://datasets/longtail/sample/corpus/*.jsonl",
                           f"hf://datasets/longtail/sample/qa/{SAMPLE_QA.name}",
                           str(demo[0] / "model"), out), env=hub.env())
    assert result.returncode == 0, result.stderr[-3000:]
    for table in TABLES:
        assert rows(out, table) == rows(str(demo[0]), table), table
    assert TOKEN not in result.stderr + result.stdout
    for path in (tmp_path / "out").rglob("*"):
        if path.is_file() and path.suffix in (".json", ".jsonl", ".txt"):
            assert TOKEN not in path.read_text(encoding="utf-8", errors="replace"), path


def test_urls_that_cannot_be_read_stop_with_one_line(web, hub, tmp_path):
    web.fault("/secret.jsonl", status=403, times=-1)
    model = str(tmp_path / "model")
    cases = [
        (["link", "--corpus", f"{web.url}/missing.jsonl"], {}, "input not found"),
        (["link", "--corpus", f"{web.url}/secret.jsonl"], {}, "HTTP 403 Forbidden"),
        (["link", "--corpus", f"{web.url}/corpus/*.jsonl"], {}, "@FILE"),
        (["link", "--corpus", "@" + str(tmp_path / "urls.txt")], {}, "list file not found"),
        (["link", "--corpus", "hf://datasets/longtail/sample/corpus/*.jsonl"],
         {**hub.env(), "HF_TOKEN": "hf_not_the_token"}, "HF_TOKEN gives no access"),
    ]
    for args, env, said in cases:
        result = run(*args, "--model", model, "--out", str(tmp_path / "o"), env=env,
                     timeout=180)
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 2, (args, result.stderr[-2000:])
        assert len(lines) == 1 and lines[0].startswith("longtail: error: "), (args, lines)
        assert said in lines[0], (args, lines)
        assert "hf_not_the_token" not in result.stderr
