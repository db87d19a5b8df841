"""The HTTP server: Spotlight's REST paths, a pool of linkers, size caps and clean shutdown.

    server = SpotlightServer(StatisticalModel.load("model/"), port=0).start()
    server.url        # http://127.0.0.1:PORT/rest
    server.stop()

Every connection gets a thread (HTTP/1.1 keep-alive, as Spotlight clients pool connections);
linking is bounded by a pool of `threads` linkers. A `StatisticalLinker` keeps per-instance
caches (token features, stems, spot scores) and a stateful stemmer, so it is not shared
between threads: each pooled linker is its own instance over the same memory-mapped model.
Linking holds Python's interpreter lock, so more CPUs are used with worker processes
(`serve_until_signalled(server, workers=N)`), which share the port and the model's pages.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TextIO
from urllib.parse import urlsplit

from longtail import __version__
from longtail.linking.annotation import LinkError
from longtail.linking.statistical import StatisticalLinker, StatisticalModel
from longtail.serve import api
from longtail.serve.parameters import (
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_THREADS,
    BadRequest,
    form_fields,
    response_format,
    spotlight_params,
)

MAX_CONNECTIONS = 256
IDLE_SECONDS = 60.0  # an idle keep-alive connection is closed after this
_DRAIN_FACTOR = 4  # an oversized body is read (and dropped) up to this many caps, then cut
_CONTENT_TYPES = {"json": "application/json", "xml": "text/xml"}
_ALL_SPOTLIGHT_PATHS = ("annotate", "candidates", "spot", "disambiguate")


class LinkerPool:
    """`size` linkers over one model; `borrow()` waits until one is free."""

    def __init__(self, model: StatisticalModel, size: int):
        self.size = size
        self._free: queue.LifoQueue[StatisticalLinker] = queue.LifoQueue()
        for _ in range(size):
            self._free.put(StatisticalLinker(model))

    @contextlib.contextmanager
    def borrow(self) -> Iterator[StatisticalLinker]:
        linker = self._free.get()
        try:
            yield linker
        finally:
            self._free.put(linker)


class SpotlightServer(ThreadingHTTPServer):
    """Spotlight's REST API for one model, on `host:port` (port 0: any free port)."""

    daemon_threads = True
    block_on_close = False

    def __init__(self, model: StatisticalModel, host: str = "127.0.0.1", port: int = 2222,
                 threads: int = DEFAULT_THREADS, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
                 access_log: TextIO | None = None):
        self.model = model
        self.threads = threads or DEFAULT_THREADS
        self.pool = LinkerPool(model, self.threads)
        self.max_body_bytes = max_body_bytes
        self.access_log = access_log
        self.started = time.time()
        self._log_lock = threading.Lock()
        self._active = 0
        self._active_lock = threading.Condition()
        self._connections = threading.BoundedSemaphore(MAX_CONNECTIONS)
        self._thread: threading.Thread | None = None
        super().__init__((host, port), SpotlightHandler)
        # Worker processes share this socket: all wake for one connection and only one gets
        # it, so accept must not block (http.server drops the loser's BlockingIOError).
        self.socket.setblocking(False)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/rest"

    def info(self) -> dict[str, Any]:
        """What `/health` and `/rest/` answer."""
        header = self.model.header
        return {
            "status": "ok",
            "server": f"longtail {__version__}",
            "model": {
                "folder": str(self.model.folder),
                **{k: header.get(k) for k in ("surface_forms", "pairs", "entities",
                                               "vocabulary", "total_support")},
                "types": len(self.model.types),
            },
            "endpoints": [f"/rest/{name}" for name in api.OPERATIONS],
            "threads": self.threads,
            "max_body_bytes": self.max_body_bytes,
            "defaults": {"confidence": 0.5, "support": 0, "policy": "whitelist"},
            "sparql": "accepted and echoed, not evaluated",
            "uptime_seconds": round(time.time() - self.started, 1),
        }

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> SpotlightServer:
        """Serve from a background thread; returns self."""
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="spotlight-server", daemon=True)
        self._thread.start()
        return self

    def stop(self, grace_seconds: float = 10.0) -> None:
        """Stop accepting, let requests being linked finish (up to `grace_seconds`), close."""
        if self._thread is not None and self._thread.is_alive():
            self.shutdown()
        with self._active_lock:
            self._active_lock.wait_for(lambda: self._active == 0, timeout=grace_seconds)
        self.server_close()
        if self._thread is not None:
            self._thread.join(timeout=grace_seconds)

    def __enter__(self) -> SpotlightServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def process_request(self, request, client_address):
        if not self._connections.acquire(blocking=False):
            with contextlib.suppress(OSError):
                request.sendall(_raw_response(503, "too many connections"))
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request, client_address):
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._connections.release()

    def handle_error(self, request, client_address):
        pass  # a client that went away mid-answer; nothing to report

    @contextlib.contextmanager
    def working(self) -> Iterator[None]:
        with self._active_lock:
            self._active += 1
        try:
            yield
        finally:
            with self._active_lock:
                self._active -= 1
                self._active_lock.notify_all()

    def log_request_line(self, line: str) -> None:
        if self.access_log is not None:
            with self._log_lock:
                print(line, file=self.access_log, flush=True)


class SpotlightHandler(BaseHTTPRequestHandler):
    """One connection: Spotlight paths to `api` functions, errors as one-line JSON."""

    protocol_version = "HTTP/1.1"
    server_version = f"longtail/{__version__}"
    timeout = IDLE_SECONDS
    disable_nagle_algorithm = True
    server: SpotlightServer

    def do_GET(self) -> None:
        self._route(body=b"")

    def do_POST(self) -> None:
        body = self._read_body()
        if body is not None:
            self._route(body)

    def do_PUT(self) -> None:
        self._error(405, f"{self.command} is not supported; use GET or POST", close=True)

    do_HEAD = do_DELETE = do_PATCH = do_PUT

    # -- routing --------------------------------------------------------------------------

    def _route(self, body: bytes) -> None:
        self._started = time.perf_counter()
        parts = urlsplit(self.path)
        path = parts.path.rstrip("/") or "/"
        if path in ("/health", "/rest"):
            self._send(200, json.dumps(self.server.info()), "application/json")
            return
        name = path[len("/rest/"):] if path.startswith("/rest/") else ""
        operation: Callable[..., str] | None = getattr(api, name, None) \
            if name in api.OPERATIONS else None
        if operation is None:
            hint = "; this server answers /rest/annotate, /rest/candidates and /rest/spot"
            what = "not supported" if name in _ALL_SPOTLIGHT_PATHS else "not found"
            self._error(404, f"{parts.path} is {what}{hint}")
            return
        try:
            params = spotlight_params(form_fields(parts.query, body,
                                                  self.headers.get("Content-Type")))
            fmt = response_format(self.headers.get("Accept"))
            with self.server.working(), self.server.pool.borrow() as linker:
                answer = operation(linker, params, fmt)
        except BadRequest as err:
            self._error(err.status, err.message)
            return
        except LinkError as err:  # like Spotlight: the text could not be linked, 400
            self._error(400, f"{err.reason}: {err.detail}" if err.detail else err.reason)
            return
        except Exception as err:  # noqa: BLE001 - one request's bug must not stop the server
            self._error(500, f"internal error: {type(err).__name__}: {err}")
            return
        extra = {"X-Sparql": "not evaluated"} if params.sparql.strip() else {}
        self._send(200, answer, _CONTENT_TYPES[fmt], extra)

    def _read_body(self) -> bytes | None:
        """The POST body, or None after answering 411/413/400."""
        self._started = time.perf_counter()
        if self.headers.get("Transfer-Encoding", "").lower() not in ("", "identity"):
            self._error(411, "send the body with a Content-Length (no chunked encoding)",
                        close=True)
            return None
        length_header = self.headers.get("Content-Length", "0").strip() or "0"
        if not length_header.isdigit():
            self._error(400, f"bad Content-Length {length_header!r}", close=True)
            return None
        length, cap = int(length_header), self.server.max_body_bytes
        if length > cap:
            self._drain(length, _DRAIN_FACTOR * cap)
            self._error(413, f"request body of {length} bytes is larger than the "
                             f"{cap}-byte limit", close=True)
            return None
        body = self.rfile.read(length)
        if len(body) < length:
            self.close_connection = True
            return None
        return body

    def _drain(self, length: int, limit: int) -> None:
        """Read and drop an oversized body so that the client sees the 413 (up to `limit`)."""
        if length > limit:
            return
        while length > 0:
            chunk = self.rfile.read(min(length, 65536))
            if not chunk:
                return
            length -= len(chunk)

    # -- answers --------------------------------------------------------------------------

    def send_error(self, code: int, message: str | None = None, explain: str | None = None):
        """Protocol errors found by http.server (bad request line, 414, ...) as JSON too."""
        self._started = getattr(self, "_started", time.perf_counter())
        self._error(code, message or self.responses.get(code, ("error",))[0], close=True)

    def _error(self, status: int, message: str, close: bool = False) -> None:
        self._send(status, json.dumps({"error": " ".join(message.split())}), "application/json",
                   close=close)

    def _send(self, status: int, body: str, content_type: str,
              headers: dict[str, str] | None = None, close: bool = False) -> None:
        data = body.encode("utf-8")
        try:
            self.send_response_only(status)
            self.send_header("Content-Type", f"{content_type}; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            if close:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
        except OSError:
            self.close_connection = True
        started = getattr(self, "_started", None)
        millis = (time.perf_counter() - started) * 1000 if started else 0.0
        path = urlsplit(self.path).path if getattr(self, "path", None) else "-"
        self.server.log_request_line(
            f"{self.client_address[0]} {self.command or '-'} {path} {status} {len(data)} "
            f"{millis:.1f}ms")

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass  # one access-log line per request is written by _send


def _raw_response(status: int, message: str) -> bytes:
    body = json.dumps({"error": message}).encode()
    return (f"HTTP/1.1 {status} Service Unavailable\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode() + body


def serve_until_signalled(server: SpotlightServer, workers: int = 1,
                          out: TextIO = sys.stdout) -> None:
    """Serve with `workers` processes, print the ready line, stop cleanly on SIGTERM/SIGINT.

    Workers beyond the first are forked after the socket is bound and the model mapped, so they
    share the listening socket (the kernel spreads connections) and the model's pages; each
    has its own linker pool. A worker whose parent is gone stops too.
    """
    children = []
    for _ in range(workers - 1):
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                _serve_until_stopped(server, parent=parent)
            except BaseException:  # noqa: BLE001 - a forked worker must never return
                code = 1
            finally:
                os._exit(code)
        children.append(pid)
    try:
        _serve_until_stopped(server, announce=out)
    finally:
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        _reap(children, grace_seconds=15.0)


def _reap(children: list[int], grace_seconds: float) -> None:
    """Wait for the workers to exit; SIGKILL those still running after `grace_seconds`."""
    deadline = time.monotonic() + grace_seconds
    running = set(children)
    while running:
        for pid in list(running):
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                done = pid
            if done:
                running.discard(pid)
        if running and time.monotonic() > deadline:
            for pid in running:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            deadline = float("inf")
        elif running:
            time.sleep(0.05)


def _serve_until_stopped(server: SpotlightServer, announce: TextIO | None = None,
                         parent: int | None = None) -> None:
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set())
                for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        server.start()
        if announce is not None:
            print(f"listening on {server.url}", file=announce, flush=True)
        while not stop.wait(0.5):
            if parent is not None and os.getppid() != parent:
                break
    finally:
        server.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
