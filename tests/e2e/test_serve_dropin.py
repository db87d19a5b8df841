"""`longtail serve` as a process, used by Spotlight clients that know nothing about it.

The unmodified `spacy-dbpedia-spotlight` component and our own `SpotlightClient` are pointed at
`python -m longtail.serve` and must get what the embedded linker gives in this process.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
import spacy

from longtail.linking.spotlight import SpotlightClient, parse_annotate_json
from longtail.linking.statistical import StatisticalLinker
from longtail.sample import SAMPLE_CORPUS
from tests.servers.longtail_serve import PROJECT_ROOT, ServeProcess
from tests.unit.test_serve import TEXTS, write_model

# spacy-dbpedia-spotlight reads Spotlight's offsets as code points; Spotlight's (and this
# server's) are UTF-16 units, so the texts given to it have no characters outside the BMP.
SPACY_TEXTS = [
    "Marie Curie won the Nobel Prize in Paris. Mercury is the planet nearest the sun, and "
    "Berlin is far away from Zürich.",
    "Mercury sang with Queen, the band, and the singer stayed at a Paris hotel.",
]


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    return write_model(tmp_path_factory.mktemp("dropin"))


@pytest.fixture(scope="module")
def serve(model):
    server = ServeProcess(model, "--threads", "2")
    yield server
    server.stop()


def spotlight_nlp(url: str, **config) -> spacy.Language:
    nlp = spacy.blank("en")
    nlp.add_pipe("dbpedia_spotlight", config={"dbpedia_rest_endpoint": url, **config})
    return nlp


@pytest.mark.parametrize("confidence", [0.5, 0.75])
def test_spacy_dbpedia_spotlight_gets_the_linkers_entities(serve, model, confidence):
    linker = StatisticalLinker.load(model)
    nlp = spotlight_nlp(serve.url, confidence=confidence)
    for text in SPACY_TEXTS:
        doc = nlp(text)
        got = [(e.start_char, e.end_char, e.text, e.kb_id_, e.label_) for e in doc.ents]
        want = [(a.offset, a.offset + len(a.surface_form), a.surface_form, a.uri, "DBPEDIA_ENT")
                for a in linker.annotate(text, confidence=confidence)]
        assert got == want
        assert got  # every text has entities at these confidences
        raw = [e._.dbpedia_raw_result["@similarityScore"] for e in doc.ents]
        assert [float(s) for s in raw] == [a.similarity for a in linker.annotate(
            text, confidence=confidence)]


def test_spacy_types_filter_reaches_the_server(serve):
    doc = spotlight_nlp(serve.url, types="DBpedia:City")(SPACY_TEXTS[0])
    assert [e.kb_id_ for e in doc.ents] == ["http://dbpedia.org/resource/Paris",
                                             "http://dbpedia.org/resource/Berlin",
                                             "http://dbpedia.org/resource/Zürich"]


def test_spacy_candidates_process_gets_the_best_candidates(serve, model):
    # At confidence 0.5 each spot of this text keeps one candidate, the linker's annotation.
    linker = StatisticalLinker.load(model)
    text = SPACY_TEXTS[0]
    doc = spotlight_nlp(serve.url, process="candidates", confidence=0.5)(text)
    assert [(e.start_char, e.text, e.kb_id_) for e in doc.ents] == \
        [(a.offset, a.surface_form, a.uri) for a in linker.annotate(text, confidence=0.5)]


def test_spotlight_client_gets_what_the_linker_gives_in_process(serve, model):
    linker = StatisticalLinker.load(model, confidence=0.4, support=20)
    texts = TEXTS + [json.loads(line)["text"] for line in
                     SAMPLE_CORPUS.read_text(encoding="utf-8").splitlines()[:100]]
    with SpotlightClient([serve.url], confidence=0.4, support=20) as client:
        remote = list(client.annotate_many(enumerate(texts)))
    local = list(linker.annotate_many(enumerate(texts)))
    assert [r.key for r in remote] == list(range(len(texts)))
    assert all(r.ok for r in remote)
    assert [r.annotations for r in remote] == [r.annotations for r in local]
    assert sum(len(r.annotations) for r in remote) >= 6


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_stops_cleanly_on_a_signal(model, sig):
    server = ServeProcess(model, "--threads", "1")
    with SpotlightClient([server.url]) as client:
        assert client.annotate("Paris and Berlin.")
    server.process.send_signal(sig)
    assert server.stop() == 0
    assert refuses(port_of(server.url))


def test_access_log_goes_to_stderr_one_line_per_request(model):
    server = ServeProcess(model)  # started with --access-log
    with SpotlightClient([server.url]) as client:
        client.annotate("Paris and Berlin.")
        client.annotate("Marie Curie.")
    assert server.stop() == 0
    assert len(server.log_lines) == 2
    assert all(" POST /rest/annotate 200 " in line for line in server.log_lines)
    assert not any("Paris" in line for line in server.log_lines)


@pytest.mark.parametrize("args, message", [
    (["--model", "no-such-folder"], "model folder not found"),
    (["--threads", "0"], "--threads"),
])
def test_wrong_usage_is_one_line_and_exit_2(model, args, message):
    full = ["--model", str(model), *args] if args[0] != "--model" else args
    result = subprocess.run([sys.executable, "-m", "longtail.serve", "--port", "0", *full],
                            cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_a_port_in_use_is_a_usage_error(model):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "longtail.serve", "--model", str(model), "--port", str(port)],
            cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and f"cannot listen on 127.0.0.1:{port}" in result.stderr


def port_of(url: str) -> int:
    return int(url.split(":")[-1].split("/")[0])


def refuses(port: int, within_seconds: float = 20.0) -> bool:
    """True once nothing accepts connections on the port (polled, for a bounded time)."""
    deadline = time.monotonic() + within_seconds
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) != 0:
                return True
        time.sleep(0.2)
    return False


def test_workers_share_the_port_and_stop_together(model):
    linker = StatisticalLinker.load(model)
    server = ServeProcess(model, "--workers", "2", "--threads", "1")

    def ask(text: str) -> list:
        response = requests.post(f"{server.url}/annotate", data={"text": text},
                                 headers={"Accept": "application/json", "Connection": "close"},
                                 timeout=10)
        return parse_annotate_json(response.content, text)

    # A new connection each time, several at once: both workers wake for each one, and the
    # one that does not get it must not stay blocked in accept (it would never stop).
    texts = TEXTS * 10
    with ThreadPoolExecutor(6) as pool:
        assert list(pool.map(ask, texts)) == [linker.annotate(t) for t in texts]
    assert server.stop() == 0
    assert refuses(port_of(server.url))


def test_workers_stop_when_their_parent_is_killed(model):
    server = ServeProcess(model, "--workers", "2", "--threads", "1")
    server.kill()
    server.stop()
    assert refuses(port_of(server.url))
