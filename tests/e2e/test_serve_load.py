"""`longtail serve` under ordinary load: many connections at once, idle ones, slow ones.

Real server processes on 127.0.0.1 and real sockets. The timeouts are generous bounds on how long
a test may wait, not speed targets (the figures are in bench/serve.py).
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path
from urllib.parse import urlencode

import pytest
import requests

from tests.e2e.test_serve_dropin import port_of, refuses
from tests.servers.longtail_serve import ServeProcess
from tests.unit.test_serve import write_model

WAIT_SECONDS = 10.0  # how long a client may wait for its answer (a functional bound)


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    return write_model(tmp_path_factory.mktemp("load"))


async def post_at_once(port: int, texts: list[str]) -> list[tuple[int | str, bytes]]:
    """One connection per text, all opened at once, each posting its text and reading the
    answer to the end: (status or the error's name, body) per text."""

    async def one(text: str) -> tuple[int | str, bytes]:
        body = urlencode({"text": text}).encode()
        head = (f"POST /rest/annotate HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\n"
                f"Content-Type: application/x-www-form-urlencoded\r\nConnection: close\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode()
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            try:
                writer.write(head + body)
                await writer.drain()
                answer = await asyncio.wait_for(reader.read(), timeout=60)
            finally:
                writer.close()
        except (OSError, asyncio.TimeoutError) as err:
            return type(err).__name__, b""
        if not answer:
            return "closed without an answer", b""
        return int(answer.split(b" ", 2)[1]), answer.partition(b"\r\n\r\n")[2]

    return await asyncio.gather(*(one(text) for text in texts))


@pytest.mark.parametrize("workers", ["1", "2"])
def test_hundreds_of_connections_at_once_are_all_answered(model, workers):
    texts = [f"Paris and Berlin, request {i}." for i in range(400)]
    with ServeProcess(model, "--workers", workers) as server:
        answers = asyncio.run(post_at_once(port_of(server.url), texts))
    assert Counter(status for status, _ in answers) == {200: len(texts)}
    for text, (_, body) in zip(texts, answers, strict=True):
        doc = json.loads(body)
        assert doc["@text"] == text
        assert [r["@surfaceForm"] for r in doc["Resources"]] == ["Paris", "Berlin"]


@contextmanager
def open_connections(port: int, count: int) -> Iterator[list[socket.socket]]:
    """`count` connections to the server, closed on exit."""
    with ExitStack() as stack:
        yield [stack.enter_context(socket.create_connection(("127.0.0.1", port), timeout=30))
               for _ in range(count)]


def annotate(url: str, text: str) -> requests.Response:
    """A new client: its own connection, closed after the answer."""
    return requests.post(f"{url}/annotate", data={"text": text}, timeout=WAIT_SECONDS,
                         headers={"Accept": "application/json", "Connection": "close"})


def test_idle_connections_do_not_keep_other_clients_out(model):
    server = ServeProcess(model)
    try:
        with open_connections(port_of(server.url), 300):  # connected, nothing sent
            answers = [annotate(server.url, f"Paris, client {i}.") for i in range(5)]
            assert [a.status_code for a in answers] == [200] * 5
            assert all(a.json()["Resources"][0]["@surfaceForm"] == "Paris" for a in answers)
            # and the server still stops cleanly with them open
            assert server.stop() == 0
            assert refuses(port_of(server.url))
    finally:
        server.stop()


def trickle(connections: list[socket.socket], data: bytes, stop: threading.Event) -> None:
    """Send `data` one byte per second on every connection, until `stop` or the data ends."""
    for byte in data:
        for sock in connections:
            with suppress(OSError):  # a connection the server closed: the others go on
                sock.sendall(bytes([byte]))
        if stop.wait(1.0):
            return


def test_slow_clients_do_not_keep_other_clients_out(model):
    slow_request = b"POST /rest/annotate HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: " + b"x" * 50
    stop = threading.Event()
    with ServeProcess(model) as server, open_connections(port_of(server.url), 300) as slow:
        trickler = threading.Thread(target=trickle, args=(slow, slow_request, stop))
        trickler.start()
        try:
            answers = [annotate(server.url, f"Berlin, client {i}.") for i in range(5)]
        finally:
            stop.set()
            trickler.join()
        assert [a.status_code for a in answers] == [200] * 5
        assert all(a.json()["Resources"][0]["@surfaceForm"] == "Berlin" for a in answers)


def test_idle_and_slow_clients_together_with_two_workers(model):
    stop = threading.Event()
    with ServeProcess(model, "--workers", "2") as server, \
            open_connections(port_of(server.url), 200), \
            open_connections(port_of(server.url), 200) as slow:
        trickler = threading.Thread(target=trickle, args=(slow, b"GET /health HTTP/1.1\r\n", stop))
        trickler.start()
        try:
            answers = asyncio.run(post_at_once(port_of(server.url),
                                               [f"Paris {i}" for i in range(100)]))
        finally:
            stop.set()
            trickler.join()
        assert Counter(status for status, _ in answers) == {200: 100}
