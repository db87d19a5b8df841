"""The ASGI application: Spotlight's REST paths over a pool of linkers, with size caps.

    app = SpotlightApp(StatisticalModel.load("model/"), threads=2)

Any ASGI server can run it; `longtail serve` runs it with uvicorn's asyncio HTTP/1.1 server in
gunicorn worker processes (`longtail.serve.prefork`). The event loop only parses requests and
writes answers: linking (CPU-bound, holding Python's interpreter lock) runs in a pool of
`threads` threads, each with its own `StatisticalLinker` over the one memory-mapped model (a
linker keeps per-instance caches and a stateful stemmer, so it is not shared between threads).
The pool and the linkers are made at the ASGI lifespan startup, that is in each worker process
after the fork. An idle or slow connection is a socket and a buffer on the event loop; it never
occupies a linker thread. What one text may cost in memory and CPU time is bounded by a
`RequestGuard` (`longtail.serve.limits`): a text over a limit is answered with 413, like a body
over its cap, and the linker that was stopped half-way is replaced by a new one.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import queue
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TextIO

from longtail import __version__
from longtail.linking.annotation import LinkError
from longtail.linking.statistical import StatisticalLinker, StatisticalModel
from longtail.serve import api
from longtail.serve.limits import RequestGuard, TooCostly
from longtail.serve.parameters import (
    DEFAULT_CONFIDENCE,
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_REQUEST_MEMORY,
    DEFAULT_MAX_REQUEST_SECONDS,
    DEFAULT_REQUEST_TIMEOUT,
    DEFAULT_SUPPORT,
    DEFAULT_THREADS,
    BadRequest,
    SpotlightParams,
    form_fields,
    response_format,
    spotlight_params,
)

MAX_TARGET_BYTES = 65_536  # a longer request target (path and query string) gets 414
MAX_HEADER_BYTES = 65_536  # larger request headers, all together, get 431
DRAIN_FACTOR = 4  # an oversized body is read (and dropped) up to this many caps, then cut
SERVER_NAME = f"longtail/{__version__}"
CONTENT_TYPES = {"json": "application/json", "xml": "text/xml"}
_ALL_SPOTLIGHT_PATHS = ("annotate", "candidates", "spot", "disambiguate")

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


class LinkerPool:
    """`size` linkers over one model; `borrow()` waits until one is free. A linker whose text
    failed or was stopped half-way (its caches may be half-updated) is dropped, and a new one
    made when its slot is next borrowed."""

    def __init__(self, model: StatisticalModel, size: int):
        self.model = model
        self.size = size
        self._free: queue.LifoQueue[StatisticalLinker | None] = queue.LifoQueue()
        for _ in range(size):
            self._free.put(StatisticalLinker(model))
        self.working_memory = StatisticalLinker(model).working_memory  # the linker's estimate

    @contextlib.contextmanager
    def borrow(self) -> Iterator[StatisticalLinker]:
        linker = self._free.get()
        try:
            if linker is None:
                linker = StatisticalLinker(self.model)
            yield linker
        except BaseException:
            linker = None
            raise
        finally:
            self._free.put(linker)


class SpotlightApp:
    """Spotlight's REST API for one model, as an ASGI 3 application.

    `request_timeout`: seconds for a request to arrive (read by the HTTP protocol);
    `max_request_memory` (bytes) and `max_request_seconds` (CPU, None for no limit): what
    linking one text may cost; `memory_estimate(text) -> bytes`: the estimate of that memory
    that refuses a text before linking it (default: the linker's own `working_memory`).
    """

    def __init__(self, model: StatisticalModel, threads: int = DEFAULT_THREADS,
                 max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
                 access_log: TextIO | None = None,
                 request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
                 max_request_memory: int = DEFAULT_MAX_REQUEST_MEMORY,
                 max_request_seconds: float | None = DEFAULT_MAX_REQUEST_SECONDS,
                 memory_estimate: Callable[[str], int] | None = None):
        self.model = model
        self.threads = threads or DEFAULT_THREADS
        self.max_body_bytes = max_body_bytes
        self.access_log = access_log
        self.request_timeout = request_timeout
        self.guard = RequestGuard(max_request_memory, max_request_seconds, memory_estimate)
        self.started = time.time()
        self._log_lock = threading.Lock()
        self._pool: LinkerPool | None = None
        self._executor: ThreadPoolExecutor | None = None

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
            "request_timeout_seconds": self.request_timeout,
            "max_request_memory_bytes": self.guard.max_memory,
            "max_request_cpu_seconds": self.guard.max_cpu_seconds,
            "requests_stopped": self.guard.stopped,
            "defaults": {"confidence": DEFAULT_CONFIDENCE, "support": DEFAULT_SUPPORT,
                         "policy": "whitelist"},
            "sparql": "accepted and echoed, not evaluated",
            "uptime_seconds": round(time.time() - self.started, 1),
        }

    # -- lifespan -------------------------------------------------------------------------

    def open(self) -> None:
        """Make the linkers and their threads (in the process that serves)."""
        if self._executor is None:
            self._pool = LinkerPool(self.model, self.threads)
            self._executor = ThreadPoolExecutor(self.threads, thread_name_prefix="linker")
            self.guard.open()

    def close(self) -> None:
        """Wait for the texts being linked, then let the threads go."""
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = self._pool = None

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    self.open()
                except Exception as err:  # noqa: BLE001 - reported to the server, which stops
                    await send({"type": "lifespan.startup.failed", "message": str(err)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await asyncio.get_running_loop().run_in_executor(None, self.close)
                await send({"type": "lifespan.shutdown.complete"})
                return

    # -- requests -------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http":
            await Exchange(self, scope, receive, send).run()

    def link(self, operation: Callable[..., str], params: SpotlightParams, fmt: str) -> str:
        """`operation(linker, params, fmt)` with a linker of the pool, under the request
        guard (in a pool thread); TooCostly when the text is over a limit."""
        assert self._pool is not None
        self.guard.admit(params.text, self._pool.working_memory)
        with self._pool.borrow() as linker:
            return self.guard.run(len(params.text), operation, linker, params, fmt)

    async def link_in_pool(self, operation: Callable[..., str], params: SpotlightParams,
                           fmt: str) -> str:
        if self._executor is None:  # served without the lifespan protocol
            self.open()
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self.link, operation, params, fmt)

    def log_request(self, client: str, method: str, path: str, status: int, size: int,
                    millis: float) -> None:
        """One access-log line; never the text itself."""
        if self.access_log is not None:
            with self._log_lock:
                print(f"{client} {method} {path} {status} {size} {millis:.1f}ms",
                      file=self.access_log, flush=True)


class Exchange:
    """One request and its answer: routing, the body under its cap, one-line JSON errors."""

    def __init__(self, app: SpotlightApp, scope: Scope, receive: Receive, send: Send):
        self.app = app
        self.scope = scope
        self.receive = receive
        self.send = send
        self.started = time.perf_counter()
        self.method: str = scope["method"]
        self.headers = {name.decode("latin-1").lower(): value.decode("latin-1")
                        for name, value in scope["headers"]}
        self.path: str = scope["raw_path"].decode("latin-1")
        self.query: str = scope["query_string"].decode("latin-1")

    async def run(self) -> None:
        if len(self.path) + len(self.query) + 1 > MAX_TARGET_BYTES:
            self.path = self.path[:200]
            await self.error(414, f"request target longer than {MAX_TARGET_BYTES} bytes",
                             close=True)
        elif sum(len(n) + len(v) + 4 for n, v in self.scope["headers"]) > MAX_HEADER_BYTES:
            await self.error(431, f"request headers larger than {MAX_HEADER_BYTES} bytes",
                             close=True)
        elif self.method not in ("GET", "POST"):
            await self.error(405, f"{self.method} is not supported; use GET or POST", close=True)
        else:
            body = b"" if self.method == "GET" else await self.read_body()
            if body is not None:
                await self.route(body)

    async def route(self, body: bytes) -> None:
        path = self.path.rstrip("/") or "/"
        if path in ("/health", "/rest"):
            await self.answer(200, json.dumps(self.app.info()), "application/json")
            return
        name = path[len("/rest/"):] if path.startswith("/rest/") else ""
        operation: Callable[..., str] | None = getattr(api, name, None) \
            if name in api.OPERATIONS else None
        if operation is None:
            hint = "; this server answers /rest/annotate, /rest/candidates and /rest/spot"
            what = "not supported" if name in _ALL_SPOTLIGHT_PATHS else "not found"
            await self.error(404, f"{self.path} is {what}{hint}")
            return
        try:
            params = spotlight_params(form_fields(self.query, body,
                                                  self.headers.get("content-type")))
            fmt = response_format(self.headers.get("accept"))
            answer = await self.app.link_in_pool(operation, params, fmt)
        except BadRequest as err:
            await self.error(err.status, err.message)
            return
        except TooCostly as err:  # like a body over its cap: this text is too large to serve
            await self.error(413, str(err))
            return
        except LinkError as err:  # like Spotlight: the text could not be linked, 400
            await self.error(400, f"{err.reason}: {err.detail}" if err.detail else err.reason)
            return
        except Exception as err:  # noqa: BLE001 - one request's bug must not stop the server
            await self.error(500, f"internal error: {type(err).__name__}: {err}")
            return
        extra = {"x-sparql": "not evaluated"} if params.sparql.strip() else {}
        await self.answer(200, answer, CONTENT_TYPES[fmt], extra)

    async def read_body(self) -> bytes | None:
        """The POST body, or None after answering 411/413 (or when the client went away)."""
        if self.headers.get("transfer-encoding", "").lower() not in ("", "identity"):
            await self.error(411, "send the body with a Content-Length (no chunked encoding)",
                             close=True)
            return None
        length_header = self.headers.get("content-length", "0").strip() or "0"
        if not length_header.isdigit():
            await self.error(400, f"bad Content-Length {length_header!r}", close=True)
            return None
        length, cap = int(length_header), self.app.max_body_bytes
        if length > cap:
            # A client that waits for "100 Continue" is answered at once; others are read to
            # the end (up to a bound) so that they see the 413 rather than a reset.
            if "100-continue" not in self.headers.get("expect", "").lower() \
                    and length <= DRAIN_FACTOR * cap:
                await self.read_up_to(length)
            await self.error(413, f"request body of {length} bytes is larger than the "
                                  f"{cap}-byte limit", close=True)
            return None
        return await self.read_up_to(length)

    async def read_up_to(self, length: int) -> bytes | None:
        """At most `length` bytes of body (the server enforces Content-Length); None if the
        client disconnected."""
        chunks, size = [], 0
        while True:
            message = await self.receive()
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size <= length:
                chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    # -- answers --------------------------------------------------------------------------

    async def error(self, status: int, message: str, close: bool = False) -> None:
        await self.answer(status, json.dumps({"error": " ".join(message.split())}),
                          "application/json", close=close)

    async def answer(self, status: int, body: str, content_type: str,
                     headers: dict[str, str] | None = None, close: bool = False) -> None:
        data = body.encode("utf-8")
        raw = [(b"content-type", f"{content_type}; charset=utf-8".encode()),
               (b"content-length", str(len(data)).encode())]
        raw += [(name.encode(), value.encode()) for name, value in (headers or {}).items()]
        if close:
            raw.append((b"connection", b"close"))
        with contextlib.suppress(OSError):  # the client went away: nothing to answer
            await self.send({"type": "http.response.start", "status": status, "headers": raw})
            await self.send({"type": "http.response.body", "body": data})
        client = self.scope.get("client") or ("-", 0)
        self.app.log_request(client[0], self.method, self.path.split("?")[0], status,
                             len(data), (time.perf_counter() - self.started) * 1000)
