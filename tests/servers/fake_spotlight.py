"""A small real HTTP server that speaks DBpedia Spotlight's REST API and misbehaves on demand.

Its annotator is a fixed dictionary matched on word boundaries; responses are built here,
independently of `longtail.linking.spotlight.wire`, so tests of the client do not check the
client's wire code against itself. Offsets are UTF-16 units, as Spotlight's.

In a thread::

    with FakeSpotlight(Faults(error_rate=0.1)) as server:
        client = SpotlightClient([server.url])

As a process that a test can kill::

    python -m tests.servers.fake_spotlight --port 0 --fault-rate 0.1
    # prints "listening on http://127.0.0.1:PORT/rest", serves until killed
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import asdict, dataclass, field, fields
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import parse_qs, urlsplit

from tests.servers.background import BackgroundServer

PROJECT_ROOT = Path(__file__).resolve().parents[2]
RESOURCE = "http://dbpedia.org/resource/"


class Entity(NamedTuple):
    uri: str
    support: int
    types: str


DICTIONARY: dict[str, Entity] = {
    "Paris": Entity(RESOURCE + "Paris", 98345, "Schema:Place,DBpedia:Place,DBpedia:City"),
    "Berlin": Entity(RESOURCE + "Berlin", 56021, "Schema:Place,DBpedia:Place,DBpedia:City"),
    "New York City": Entity(RESOURCE + "New_York_City", 120411,
                            "Schema:Place,DBpedia:Place,DBpedia:City"),
    "Marie Curie": Entity(RESOURCE + "Marie_Curie", 2210, "DBpedia:Person,Schema:Person"),
    "Zürich": Entity(RESOURCE + "Zürich", 20455, "Schema:Place,DBpedia:Place,DBpedia:City"),
    "Kraków": Entity(RESOURCE + "Kraków", 9001, "Schema:Place,DBpedia:Place,DBpedia:City"),
    "Nobel Prize": Entity(RESOURCE + "Nobel_Prize", 15012, ""),
    "physics": Entity(RESOURCE + "Physics", 30770, ""),
    "Python": Entity(RESOURCE + "Python_(programming_language)", 4512, ""),
    "東京": Entity(RESOURCE + "Tokyo", 80400, "Schema:Place,DBpedia:Place,DBpedia:City"),
    "𝔊𝔬𝔱𝔥𝔦𝔠": Entity(RESOURCE + "Blackletter", 312, ""),
}

INPUT_EXCEPTION = (
    "org.dbpedia.spotlight.exceptions.InputException: No text was specified in the &text "
    "parameter.\n"
    "\tat org.dbpedia.spotlight.web.rest.SpotlightInterface.getOccurrences("
    "SpotlightInterface.java:146)\n"
    "\tat org.dbpedia.spotlight.web.rest.SpotlightInterface.getJSON(SpotlightInterface.java:291)\n"
    "\tat org.dbpedia.spotlight.web.rest.resources.Annotate.getJSON(Annotate.java:163)\n"
)
INTERNAL_EXCEPTION = (
    "java.lang.ArrayIndexOutOfBoundsException: Index 3 out of bounds for length 3\n"
    "\tat org.dbpedia.spotlight.db.DBTwoStepDisambiguator.bestK(DBTwoStepDisambiguator.scala:189)\n"
    "\tat org.dbpedia.spotlight.web.rest.SpotlightInterface.disambiguate("
    "SpotlightInterface.java:80)\n"
    "\tat org.dbpedia.spotlight.web.rest.resources.Annotate.getJSON(Annotate.java:163)\n"
)


@dataclass
class Faults:
    """What the server does wrong. Rates are fractions of distinct texts (chosen by a stable
    hash of seed and text); such a text misbehaves on its first `fault_times` requests to this
    server (0: on every request)."""

    error_rate: float = 0.0  # answer HTTP 500
    stall_rate: float = 0.0  # answer only after stall_seconds
    stall_seconds: float = 2.0
    fault_times: int = 1
    bad_marker: str | None = "CRASHME"  # texts containing it: 400 + Java stack trace
    garbage_marker: str | None = "GARBAGEME"  # texts containing it: 200 with a non-JSON body
    delay_seconds: float = 0.0  # every annotate request takes at least this long
    max_body_bytes: int = 2_000_000  # larger bodies: 413
    code_point_offsets: bool = False  # a broken server: offsets in code points, not UTF-16
    seed: int = 0


class Match(NamedTuple):
    surface_form: str
    offset: int  # code points
    utf16_offset: int
    entity: Entity


class DictionaryAnnotator:
    """Finds dictionary names on word boundaries, longest first, without overlaps."""

    def __init__(self, dictionary: dict[str, Entity] = DICTIONARY):
        self.dictionary = dictionary
        names = sorted(dictionary, key=len, reverse=True)
        self._pattern = re.compile(r"(?<!\w)(?:" + "|".join(map(re.escape, names)) + r")(?!\w)")

    def annotate(self, text: str) -> list[Match]:
        matches = []
        cp = utf16 = 0
        for m in self._pattern.finditer(text):
            utf16 += len(text[cp : m.start()].encode("utf-16-le")) // 2
            cp = m.start()
            matches.append(Match(m.group(), cp, utf16, self.dictionary[m.group()]))
        return matches


def scores(surface_form: str) -> tuple[str, str]:
    """Deterministic (similarityScore, percentageOfSecondRank) strings for a surface form."""
    h = int.from_bytes(hashlib.blake2b(surface_form.encode(), digest_size=4).digest(), "big")
    return str(0.5 + (h % 4999) / 10000), str((h % 997) / 2000)


@dataclass
class RequestLog:
    """What one server saw; safe to read while it serves."""

    texts: list[str] = field(default_factory=list)  # annotate/candidates texts, arrival order
    statuses: Counter = field(default_factory=Counter)
    faults: Counter = field(default_factory=Counter)  # "500", "stall", "400", "garbage"
    seen: Counter = field(default_factory=Counter)
    current: int = 0
    max_concurrent: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {
                "texts": list(self.texts),
                "statuses": {str(k): v for k, v in self.statuses.items()},
                "faults": dict(self.faults),
                "max_concurrent": self.max_concurrent,
            }


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int, faults: Faults, annotator: DictionaryAnnotator):
        super().__init__(("127.0.0.1", port), _Handler)
        self.faults = faults
        self.annotator = annotator
        self.log = RequestLog()
        self.stopping = threading.Event()
        self.open_sockets: set[socket.socket] = set()
        self.sockets_lock = threading.Lock()

    def process_request_thread(self, request, client_address):
        with self.sockets_lock:
            self.open_sockets.add(request)
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self.sockets_lock:
                self.open_sockets.discard(request)

    def drop_connections(self) -> None:
        with self.sockets_lock:
            for sock in self.open_sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request, client_address):
        pass  # clients that time out close their end; nothing to report


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    wbufsize = -1  # headers and body leave in one write; flushed after each request
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        if parts.path == "/stats":
            self._send(200, json.dumps(self.server.log.snapshot()), "application/json")
        elif parts.path in ("/rest/annotate", "/rest/candidates"):
            self._serve(parts.path, parse_qs(parts.query, keep_blank_values=True))
        else:
            self._send(404, "not found", "text/plain")

    def do_POST(self) -> None:
        path = urlsplit(self.path).path
        if path not in ("/rest/annotate", "/rest/candidates"):
            self._send(404, "not found", "text/plain")
            return
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            self._send(411, "Content-Length required", "text/plain", close=True)
            return
        length = int(length)
        cap = self.server.faults.max_body_bytes
        if length > cap:
            while 0 < length <= 8 * cap:  # read it so that the client sees the answer
                chunk = self.rfile.read(min(length, 65536))
                length = length - len(chunk) if chunk else 0
            self._send(413, f"Request body larger than {cap} bytes", "text/plain", close=True)
            return
        body = self.rfile.read(length).decode("utf-8", "replace")
        self._serve(path, parse_qs(body, keep_blank_values=True))

    def _serve(self, path: str, form: dict[str, list[str]]) -> None:
        text = form.get("text", [""])[0]
        log, faults = self.server.log, self.server.faults
        with log.lock:
            log.texts.append(text)
            times_seen = log.seen[text]
            log.seen[text] += 1
            log.current += 1
            log.max_concurrent = max(log.max_concurrent, log.current)
        try:
            if faults.delay_seconds:
                time.sleep(faults.delay_seconds)
            fault = _fault(faults, text, times_seen)
            if fault:
                with log.lock:
                    log.faults[fault] += 1
            if fault == "stall":
                self.server.stopping.wait(faults.stall_seconds)
                fault = None
            if fault == "500":
                self._send(500, "<html><body><h1>500 Internal Server Error</h1></body></html>",
                           "text/html")
            elif fault == "400":
                self._send(400, INTERNAL_EXCEPTION, "application/json")
            elif not text.strip():
                self._send(400, INPUT_EXCEPTION, "application/json")
            elif fault == "garbage":
                self._send(200, "<html>Service Temporarily Unavailable", "application/json")
            elif path == "/rest/candidates":
                self._send(200, self._candidates(text), "application/json")
            elif "xml" in self.headers.get("Accept", ""):
                self._send(200, self._annotate_xml(text, form), "text/xml")
            else:
                self._send(200, self._annotate_json(text, form), "application/json")
        finally:
            with log.lock:
                log.current -= 1

    def _params(self, form: dict[str, list[str]]) -> list[tuple[str, str]]:
        def get(name: str, default: str) -> str:
            return form.get(name, [default])[0]

        return [("confidence", str(float(get("confidence", "0.5")))),
                ("support", get("support", "0")), ("types", get("types", "")),
                ("sparql", get("sparql", "")), ("policy", get("policy", "whitelist"))]

    def _resources(self, text: str) -> list[list[tuple[str, str]]]:
        out = []
        for m in self.server.annotator.annotate(text):
            similarity, second = scores(m.surface_form)
            offset = m.offset if self.server.faults.code_point_offsets else m.utf16_offset
            out.append([("URI", m.entity.uri), ("support", str(m.entity.support)),
                        ("types", m.entity.types), ("surfaceForm", m.surface_form),
                        ("offset", str(offset)), ("similarityScore", similarity),
                        ("percentageOfSecondRank", second)])
        return out

    def _annotate_json(self, text: str, form: dict[str, list[str]]) -> str:
        doc: dict[str, Any] = {"@text": text}
        doc.update(("@" + k, v) for k, v in self._params(form))
        resources = self._resources(text)
        if resources:  # like Spotlight: no Resources key at all when nothing is found
            doc["Resources"] = [{"@" + k: v for k, v in r} for r in resources]
        return json.dumps(doc)

    def _annotate_xml(self, text: str, form: dict[str, list[str]]) -> str:
        root = ET.Element("Annotation", {"text": text, **dict(self._params(form))})
        resources = self._resources(text)
        if resources:
            parent = ET.SubElement(root, "Resources")
            for r in resources:
                ET.SubElement(parent, "Resource", dict(r))
        return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, "unicode")

    def _candidates(self, text: str) -> str:
        spots = []
        for m in self.server.annotator.annotate(text):
            similarity, second = scores(m.surface_form)
            name = m.entity.uri[len(RESOURCE):]
            resources = [
                {"@label": name.replace("_", " "), "@uri": name, "@contextualScore": similarity,
                 "@percentageOfSecondRank": second, "@support": str(m.entity.support),
                 "@priorScore": "0.25", "@finalScore": similarity, "@types": m.entity.types},
                {"@label": m.surface_form + " (band)", "@uri": name + "_(band)",
                 "@contextualScore": "0.01", "@percentageOfSecondRank": "0.0", "@support": "7",
                 "@priorScore": "0.001", "@finalScore": "0.01", "@types": ""},
            ]
            spots.append({"@name": m.surface_form, "@offset": str(m.utf16_offset),
                          "resource": resources})
        annotation: dict[str, Any] = {"@text": text}
        if spots:
            annotation["surfaceForm"] = spots[0] if len(spots) == 1 else spots
        return json.dumps({"annotation": annotation})

    def _send(self, status: int, body: str, content_type: str, close: bool = False) -> None:
        data = body.encode("utf-8")
        with self.server.log.lock:
            self.server.log.statuses[status] += 1
        try:
            self.send_response(status)
            self.send_header("Content-Type", f"{content_type}; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            if close:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            self.close_connection = True  # the client gave up (timeout) or the server stopped


def _fault(faults: Faults, text: str, times_seen: int) -> str | None:
    if faults.bad_marker and faults.bad_marker in text:
        return "400"
    if faults.garbage_marker and faults.garbage_marker in text:
        return "garbage"
    if faults.fault_times and times_seen >= faults.fault_times:
        return None
    digest = hashlib.blake2b(f"{faults.seed}\0{text}".encode(), digest_size=8).digest()
    u = int.from_bytes(digest, "big") / 2**64
    if u < faults.error_rate:
        return "500"
    if u < faults.error_rate + faults.stall_rate:
        return "stall"
    return None


class FakeSpotlight(BackgroundServer):
    """The server in a background thread of this process; `stop()` refuses new connections
    and drops open ones, as a crashed server would."""

    def __init__(self, faults: Faults | None = None, port: int = 0,
                 annotator: DictionaryAnnotator | None = None):
        self.faults = faults or Faults()
        super().__init__(_Server(port, self.faults, annotator or DictionaryAnnotator()))

    @property
    def log(self) -> RequestLog:
        return self._server.log


class SpotlightProcess:
    """The server as a child process (`python -m tests.servers.fake_spotlight`), to kill."""

    def __init__(self, faults: Faults | None = None, port: int = 0):
        self.faults = faults or Faults()
        args = [sys.executable, "-m", "tests.servers.fake_spotlight", "--port", str(port)]
        for name, value in asdict(self.faults).items():
            args += ["--" + name.replace("_", "-"), "" if value is None else str(value)]
        self._process = subprocess.Popen(
            args, cwd=PROJECT_ROOT, stdout=subprocess.PIPE, text=True)
        line = self._process.stdout.readline() if self._process.stdout else ""
        if not line.startswith("listening on "):
            self._process.kill()
            raise RuntimeError(f"fake Spotlight did not start: {line!r}")
        self.url = line.split()[-1]
        self.port = int(urlsplit(self.url).port or 0)

    def stats(self) -> dict[str, Any]:
        import requests

        return requests.get(f"http://127.0.0.1:{self.port}/stats", timeout=5).json()

    def kill(self) -> None:
        """SIGKILL: connections drop mid-request, the port refuses from then on."""
        if self._process.poll() is None:
            self._process.kill()
        self._process.wait()
        if self._process.stdout:
            self._process.stdout.close()

    def __enter__(self) -> SpotlightProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()


def unused_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (connections to it are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--fault-rate", "--error-rate", dest="error_rate", type=float,
                        default=0.0, help="fraction of texts answered with HTTP 500")
    parsers = {"float": float, "int": int, "bool": lambda v: v.lower() in ("1", "true", "yes"),
               "str | None": lambda v: v or None}
    for f in fields(Faults):
        if f.name != "error_rate":
            parser.add_argument("--" + f.name.replace("_", "-"), type=parsers[str(f.type)],
                                default=f.default)
    options = vars(parser.parse_args(argv))
    port = options.pop("port")
    server = FakeSpotlight(Faults(**options), port=port)
    signal.signal(signal.SIGTERM, lambda *_: server.stop())
    print(f"listening on {server.url}", flush=True)
    try:
        while server._thread.is_alive():
            server._thread.join(0.5)
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
