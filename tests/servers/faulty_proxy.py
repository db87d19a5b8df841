"""A reverse proxy in front of a Spotlight server that misbehaves on purpose.

It forwards `/rest/*` to a real upstream (e.g. `longtail serve`), so the annotations it passes
on are the upstream's, and misbehaves by text:

- a fraction `rate` of distinct texts (chosen by a stable hash of seed and text) fails on its
  first request only: HTTP 500, or a stall of `stall_seconds` (longer than the client's
  timeout) before the upstream's answer. The fault is transient: the same text sent again is
  forwarded, so a client that retries ends with exactly the upstream's annotations.
- a text containing `bad_marker` always gets HTTP 400 with a Java stack trace, as Spotlight
  answers a text that raises inside it. That is a permanent failure, not a transient one: a
  Spotlight client does not send the same text again after a 400 (`SpotlightClient` halves it
  to isolate the bad part), so a 400 is only injected where failing is the right outcome.

    with FaultyProxy(upstream_url, ProxyFaults(rate=0.1)) as proxy:
        client = SpotlightClient([proxy.url])
"""

from __future__ import annotations

import hashlib
import threading
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests

from tests.servers.background import BackgroundServer

STACK_TRACE = (
    "java.lang.ArrayIndexOutOfBoundsException: Index 3 out of bounds for length 3\n"
    "\tat org.dbpedia.spotlight.db.DBTwoStepDisambiguator.bestK(DBTwoStepDisambiguator.scala:189)\n"
)


@dataclass
class ProxyFaults:
    """What the proxy does wrong (see the module docstring)."""

    rate: float = 0.1
    kinds: tuple[str, ...] = ("500", "stall")
    stall_seconds: float = 3.0
    bad_marker: str | None = "CRASHME"
    seed: int = 0


@dataclass
class ProxyLog:
    """What the proxy saw and did; read it after the run."""

    requests: int = 0
    seen: Counter = field(default_factory=Counter)  # text -> requests
    faults: Counter = field(default_factory=Counter)  # "500", "stall", "400"
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, upstream: str, faults: ProxyFaults):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.upstream = upstream.rstrip("/")
        self.faults = faults
        self.log = ProxyLog()
        self.stopping = threading.Event()
        self._local = threading.local()

    @property
    def session(self) -> requests.Session:
        """One session per handler thread (a Session is not meant to be shared)."""
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
            session.trust_env = False
        return session

    def handle_error(self, request, client_address):
        pass  # a client that timed out closed its end


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self._serve(body)

    def do_GET(self) -> None:
        self._serve(b"")

    def _serve(self, body: bytes) -> None:
        parts = urlsplit(self.path)
        form = parse_qs(body.decode("utf-8") or parts.query, keep_blank_values=True)
        text = form.get("text", [""])[0]
        fault = self._fault(text)
        if fault == "400":
            self._send(400, STACK_TRACE.encode(), "text/html")
            return
        if fault == "500":
            self._send(500, b"<html><body><h1>500 Internal Server Error</h1></body></html>",
                       "text/html")
            return
        if fault == "stall":
            self.server.stopping.wait(self.server.faults.stall_seconds)
        path = parts.path[len("/rest"):] if parts.path.startswith("/rest") else parts.path
        try:
            answer = self.server.session.request(
                self.command, self.server.upstream + path, params=parts.query or None,
                data=body or None, timeout=30,
                headers={k: v for k, v in self.headers.items()
                         if k.lower() in ("accept", "content-type")})
        except requests.RequestException as err:
            self._send(502, str(err).encode(), "text/plain")
            return
        self._send(answer.status_code, answer.content,
                   answer.headers.get("Content-Type", "application/json"))

    def _fault(self, text: str) -> str | None:
        faults, log = self.server.faults, self.server.log
        with log.lock:
            log.requests += 1
            first = log.seen[text] == 0
            log.seen[text] += 1
            fault = None
            if faults.bad_marker and faults.bad_marker in text:
                fault = "400"
            elif first and faults.kinds:
                digest = hashlib.blake2b(f"{faults.seed}\0{text}".encode(), digest_size=8)
                u = int.from_bytes(digest.digest(), "big")
                if (u >> 8) / 2**56 < faults.rate:
                    fault = faults.kinds[(u & 0xFF) % len(faults.kinds)]
            if fault:
                log.faults[fault] += 1
            return fault

    def _send(self, status: int, data: bytes, content_type: str) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            self.close_connection = True


class FaultyProxy(BackgroundServer):
    """The proxy in a background thread of this process, on a free port of 127.0.0.1."""

    def __init__(self, upstream: str, faults: ProxyFaults | None = None):
        super().__init__(_Server(upstream, faults or ProxyFaults()))

    @property
    def log(self) -> ProxyLog:
        return self._server.log

