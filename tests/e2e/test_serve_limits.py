"""`longtail serve` against clients that half-close, trickle, or send texts too costly to link.

Real server processes on 127.0.0.1 and real sockets; the worker's memory is read with psutil
while a request runs. Waits are generous bounds on how long a test may wait, not speed targets.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote

import psutil
import pytest
import requests

from longtail.serve.limits import DATA_MARGIN
from tests.e2e.test_serve_dropin import port_of
from tests.e2e.test_serve_load import open_connections, trickle
from tests.servers.longtail_serve import PROJECT_ROOT, ServeProcess
from tests.unit.test_serve import write_model

WAIT_SECONDS = 20.0
TIMEOUT = 1.0  # --request-timeout of the shared server
MB = 1 << 20
NEAR_THE_CAP = "Paris " * 330_000  # 1,980,005 bytes as a form body, under the 2 MB cap


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    return write_model(tmp_path_factory.mktemp("limits"))


@pytest.fixture(scope="module")
def serve(model):
    server = ServeProcess(model, "--request-timeout", str(TIMEOUT))
    yield server
    server.stop()


def read_to_end(sock: socket.socket) -> bytes:
    """Everything until the server closes (bounded by WAIT_SECONDS)."""
    sock.settimeout(WAIT_SECONDS)
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def half_closed_exchange(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=WAIT_SECONDS) as sock:
        sock.sendall(request)
        sock.shutdown(socket.SHUT_WR)
        return read_to_end(sock)


def responses(raw: bytes) -> list[tuple[int, dict[str, str], bytes]]:
    """The HTTP responses in `raw`, one after another (each with a Content-Length)."""
    found = []
    while raw:
        head, _, rest = raw.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = dict(line.lower().split(": ", 1) for line in lines[1:])
        length = int(headers["content-length"])
        found.append((int(lines[0].split()[1]), headers, rest[:length]))
        raw = rest[length:]
    return found


def surface_forms(body: bytes) -> list[str]:
    return [r["@surfaceForm"] for r in json.loads(body)["Resources"]]


FORM = b"text=Paris+and+Berlin"
JSON = b"Accept: application/json\r\n"
HALF_CLOSED = {
    "HTTP/1.0 GET": b"GET /rest/annotate?text=Paris%20and%20Berlin HTTP/1.0\r\n" + JSON + b"\r\n",
    "HTTP/1.1 GET": b"GET /rest/annotate?text=Paris%20and%20Berlin HTTP/1.1\r\nHost: a\r\n"
                    + JSON + b"\r\n",
    "HTTP/1.0 POST": b"POST /rest/annotate HTTP/1.0\r\n" + JSON
                     + b"Content-Length: %d\r\n\r\n" % len(FORM) + FORM,
    "HTTP/1.1 POST": b"POST /rest/annotate HTTP/1.1\r\nHost: a\r\n" + JSON
                     + b"Content-Length: %d\r\n\r\n" % len(FORM) + FORM,
    "HTTP/1.1 POST, Connection: close": b"POST /rest/annotate HTTP/1.1\r\nHost: a\r\n" + JSON
                     + b"Connection: close\r\nContent-Length: %d\r\n\r\n" % len(FORM) + FORM,
}


@pytest.mark.parametrize("name", list(HALF_CLOSED))
def test_a_client_that_half_closes_after_its_request_gets_the_answer(serve, name):
    raw = half_closed_exchange(port_of(serve.url), HALF_CLOSED[name])
    [(status, headers, body)] = responses(raw)  # and then the server closed
    assert status == 200
    assert headers["content-type"].startswith("application/json")
    assert surface_forms(body) == ["Paris", "Berlin"]


def test_pipelined_requests_then_a_half_close_are_all_answered_in_order(serve):
    texts = ["Paris", "Berlin", "Marie Curie in Zürich"]
    request = b"".join(f"GET /rest/annotate?text={quote(t)} HTTP/1.1\r\nHost: a\r\n".encode()
                       + JSON + b"\r\n" for t in texts)
    answers = responses(half_closed_exchange(port_of(serve.url), request))
    assert [status for status, _, _ in answers] == [200, 200, 200]
    assert [surface_forms(body) for _, _, body in answers] == [["Paris"], ["Berlin"],
                                                               ["Marie Curie", "Zürich"]]


@pytest.mark.parametrize("partial, message", [
    (b"GET /rest/annotate?text=Paris HTTP/1.1\r\nHost: a\r\n",
     "the client closed its side in the middle of a request head"),
    (b"POST /rest/annotate HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\ntext=Par",
     "the client closed its side before the request body was complete"),
])
def test_a_half_close_in_the_middle_of_a_request_gets_400(serve, partial, message):
    [(status, _, body)] = responses(half_closed_exchange(port_of(serve.url), partial))
    assert status == 400
    assert json.loads(body) == {"error": message}


def linker_threads(server: ServeProcess) -> int:
    return one_worker(psutil.Process(server.process.pid)).num_threads()


def annotate(url: str, text: str) -> requests.Response:
    return requests.post(f"{url}/annotate", data={"text": text}, timeout=WAIT_SECONDS,
                         headers={"Accept": "application/json", "Connection": "close"})


def test_slow_senders_get_408_after_the_timeout_while_others_are_answered(serve):
    port = port_of(serve.url)
    with ThreadPoolExecutor(2) as pool:  # texts two at a time: both linker threads exist now
        for _ in range(3):
            warm = list(pool.map(lambda i: annotate(serve.url, "Paris Berlin " * 3000), [0, 1]))
            assert [a.status_code for a in warm] == [200, 200]
    threads_before = linker_threads(serve)
    slow_head = b"POST /rest/annotate HTTP/1.1\r\nHost: a\r\nX-Padding: " + b"x" * 50
    slow_body = b"POST /rest/annotate HTTP/1.1\r\nHost: a\r\nContent-Length: 60\r\n\r\n" \
        + b"text=" + b"Paris+" * 9
    stop = threading.Event()
    opened = time.monotonic()
    with open_connections(port, 30) as heads, open_connections(port, 10) as bodies:
        for sock in bodies:  # the head at once, then the body byte by byte
            sock.sendall(slow_body[:slow_body.index(b"\r\n\r\n") + 4])
        tricklers = [threading.Thread(target=trickle, args=(heads, slow_head, stop)),
                     threading.Thread(target=trickle, args=(bodies, b"text=Paris", stop))]
        for t in tricklers:
            t.start()
        try:
            answers = [annotate(serve.url, f"Berlin, client {i}.") for i in range(5)]
            threads_during = linker_threads(serve)
            endings = [read_to_end(sock) for sock in heads + bodies]
            closed = time.monotonic() - opened
        finally:
            stop.set()
            for t in tricklers:
                t.join()
    assert [a.status_code for a in answers] == [200] * 5
    assert all(surface_forms(a.content) == ["Berlin"] for a in answers)
    assert threads_during == threads_before  # slow clients cost no thread
    for raw in endings:
        [(status, headers, body)] = responses(raw)
        assert status == 408
        assert headers["connection"] == "close"
        assert json.loads(body) == {"error": f"the request did not arrive within {TIMEOUT:g} s"}
    assert closed >= TIMEOUT  # not before the timeout


def test_a_connection_that_sends_nothing_is_closed_after_the_timeout(serve):
    began = time.monotonic()
    with socket.create_connection(("127.0.0.1", port_of(serve.url))) as sock:
        assert read_to_end(sock) == b""
    assert time.monotonic() - began >= TIMEOUT


def test_a_kept_alive_connection_times_out_its_next_request_not_the_idle_time(serve):
    with socket.create_connection(("127.0.0.1", port_of(serve.url))) as sock:
        sock.sendall(HALF_CLOSED["HTTP/1.1 GET"])
        time.sleep(2 * TIMEOUT)  # idle between requests: the keep-alive time applies
        sock.sendall(b"GET /health HTTP/1.1\r\n")  # then a request head that never ends
        answers = responses(read_to_end(sock))
    assert [status for status, _, _ in answers] == [200, 408]


def sample_worker_rss(server: ServeProcess, stop: threading.Event, peak: dict[int, int]) -> None:
    master = psutil.Process(server.process.pid)
    while not stop.is_set():
        for worker in master.children():
            with contextlib.suppress(psutil.Error):  # a worker that just ended
                peak[worker.pid] = max(peak.get(worker.pid, 0), worker.memory_info().rss)
        time.sleep(0.005)


def post_sampling_rss(server: ServeProcess, text: str) -> tuple[requests.Response, int, int]:
    """Post `text` while psutil samples the worker's RSS: (answer, RSS before, peak RSS)."""
    assert annotate(server.url, "Paris").status_code == 200
    idle = one_worker(psutil.Process(server.process.pid)).memory_info().rss
    peak: dict[int, int] = {}
    stop = threading.Event()
    sampler = threading.Thread(target=sample_worker_rss, args=(server, stop, peak))
    sampler.start()
    try:
        answer = requests.post(f"{server.url}/annotate", data={"text": text},
                               headers={"Accept": "application/json"}, timeout=300)
    finally:
        stop.set()
        sampler.join()
    return answer, idle, max(peak.values())


def test_a_text_near_the_cap_over_the_budget_is_refused_before_linking(model):
    with ServeProcess(model, "--max-request-memory", "64M") as server:
        answer, idle, peak = post_sampling_rss(server, NEAR_THE_CAP)
    assert answer.status_code == 413
    assert re.fullmatch(r"linking this text needs about [\d,]+ MB, more than the 64 MB of memory "
                        r"a request may use; send it in smaller pieces", answer.json()["error"])
    assert peak <= idle + 64 * MB  # the body and its form, not the linking


def test_a_text_the_estimate_lets_through_is_stopped_and_the_worker_stays_bounded(model):
    budget, threads = 64 * MB, 2
    with ServeProcess(model, "--max-request-memory", "64M", "--threads", str(threads),
                      linker_estimate=False) as server:
        answer, idle, peak = post_sampling_rss(server, NEAR_THE_CAP)
        worker = one_worker(psutil.Process(server.process.pid))
        data_cap = worker.rlimit(psutil.RLIMIT_DATA)[0]
        after = annotate(server.url, "Paris and Berlin")
        health = requests.get(server.url.replace("/rest", "/health"), timeout=WAIT_SECONDS)
        workers = psutil.Process(server.process.pid).children()
    assert answer.status_code == 413
    assert answer.json() == {"error": "linking this text needs more than the 64 MB of memory a "
                                      "request may use; send it in smaller pieces"}
    # the worker's hard cap on private memory, and what psutil saw: within the documented bound
    assert data_cap != psutil.RLIM_INFINITY
    assert peak <= idle + threads * budget + DATA_MARGIN
    # and the worker (or the one that replaced it) goes on answering
    assert after.status_code == 200
    assert surface_forms(after.content) == ["Paris", "Berlin"]
    assert health.json()["max_request_memory_bytes"] == budget
    assert len(workers) == 1


def test_a_text_over_the_cpu_limit_gets_413(model):
    with ServeProcess(model, "--max-request-seconds", "0.2") as server:
        answer = requests.post(f"{server.url}/annotate", data={"text": NEAR_THE_CAP},
                               headers={"Accept": "application/json"}, timeout=300)
        after = annotate(server.url, "Paris and Berlin")
    assert answer.status_code == 413
    assert answer.json() == {"error": "linking this text took more than 0.2 s of CPU, the most "
                                      "a request may use; send it in smaller pieces"}
    assert surface_forms(after.content) == ["Paris", "Berlin"]


def test_the_default_limits_answer_an_ordinary_large_text(serve):
    text = "Marie Curie won the Nobel Prize in Paris and moved to Berlin. " * 3000  # 186 KB
    answer = requests.post(f"{serve.url}/annotate", data={"text": text},
                           headers={"Accept": "application/json"}, timeout=300)
    assert answer.status_code == 200
    assert surface_forms(answer.content)[:4] == ["Marie Curie", "Nobel Prize", "Paris", "Berlin"]
    assert len(surface_forms(answer.content)) == 4 * 3000


@pytest.mark.parametrize("flag, value, message", [
    ("--max-request-memory", "12X", "--max-request-memory must be a size such as 512M or 2G, "
                                    "got '12X'"),
    ("--max-request-memory", "100k", "--max-request-memory must be at least 1M, got '100k'"),
    ("--request-timeout", "0", "--request-timeout must be > 0 seconds, got 0"),
    ("--max-request-seconds", "-1", "--max-request-seconds must be >= 0, got -1"),
])
def test_wrong_limits_stop_with_one_line(model, flag, value, message):
    done = subprocess.run([sys.executable, "-m", "longtail.serve", "--model", str(model),
                           "--port", "0", flag, value], cwd=PROJECT_ROOT, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr == f"longtail serve: error: {message}\n"
    assert done.stdout == ""


def test_a_pipelined_request_left_unfinished_gets_408_after_the_answers(serve):
    with socket.create_connection(("127.0.0.1", port_of(serve.url))) as sock:
        sock.sendall(HALF_CLOSED["HTTP/1.1 GET"] + b"GET /health HTTP/1.1\r\nHost: a\r\n")
        answers = responses(read_to_end(sock))  # one packet: the second head never ends
    assert [status for status, _, _ in answers] == [200, 408]
    assert surface_forms(answers[0][2]) == ["Paris", "Berlin"]


def one_worker(master: psutil.Process) -> psutil.Process:
    """The master's one worker, once it is there (a worker is forked after "listening on")."""
    deadline = time.monotonic() + WAIT_SECONDS
    while len(workers := master.children()) != 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    [worker] = workers
    return worker


def test_a_worker_left_holding_memory_after_a_stop_is_replaced(model):
    # A 1 MB budget: a fresh worker's first large text outgrows it, and what the worker keeps
    # afterwards (caches, allocator pages) is over half of it, so the worker asks to go.
    with ServeProcess(model, "--max-request-memory", "1M", linker_estimate=False) as server:
        master = psutil.Process(server.process.pid)
        first = one_worker(master)
        answer = annotate(server.url, "Paris Berlin " * 20_000)
        deadline = time.monotonic() + WAIT_SECONDS
        while time.monotonic() < deadline and [w.pid for w in master.children()] in (
                [first.pid], []):
            time.sleep(0.1)
        workers = master.children()
        health = requests.get(server.url.replace("/rest", "/health"), timeout=WAIT_SECONDS)
    assert answer.status_code == 413
    assert len(workers) == 1 and workers[0].pid != first.pid
    assert health.status_code == 200
    assert any(f"worker {first.pid} keeps memory after a text over the per-request limit; a new "
               f"worker replaces it" in line for line in server.log_lines)
