"""The HTTP layer: uvicorn's asyncio HTTP/1.1 server (httptools) configured for `SpotlightApp`.

    server = SpotlightServer(StatisticalModel.load("model/"), port=0).start()
    server.url        # http://127.0.0.1:PORT/rest
    server.stop()

`SpotlightServer` serves from a thread of the calling process (tests, notebooks);
`longtail serve` runs the same configuration in pre-forked worker processes
(`longtail.serve.prefork`). Either way a connection costs a socket and a buffer on the event
loop, not a thread, so idle and slow clients do not keep others out; the listen backlog is
large, so bursts of connections wait in the kernel instead of being reset; request heads and
bodies stay capped. Requests that cannot even be parsed get a one-line JSON error like every
other error: 414 for an over-long request line, 431 for over-large headers, 400 otherwise.

A request must arrive whole (head and body) within the app's `request_timeout` of the
connection opening (or, on a kept-alive connection, of the request's first byte): a late one
gets 408 and the connection is closed, and a new connection that sends nothing in that time is
closed. A client that half-closes its side (`shutdown(SHUT_WR)`) after a request still gets the
answer; the connection closes after it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import resource
import socket
import threading
import time
from http import HTTPStatus

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from longtail.linking.statistical import StatisticalModel
from longtail.serve.app import MAX_HEADER_BYTES, MAX_TARGET_BYTES, SERVER_NAME, SpotlightApp
from longtail.serve.parameters import (
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_REQUEST_TIMEOUT,
    DEFAULT_THREADS,
)

BACKLOG = 4096  # connections the kernel holds for accept (capped by net.core.somaxconn)
IDLE_SECONDS = 60  # an idle keep-alive connection is closed after this
GRACE_SECONDS = 10  # on stop, requests being answered get this long to finish
LINGER_SECONDS = 2  # after a refusal, how long the client's further bytes are read and dropped
MAX_HEAD_BYTES = MAX_TARGET_BYTES + MAX_HEADER_BYTES + 1024  # a request head being received


class SpotlightHttpProtocol(HttpToolsProtocol):
    """uvicorn's HTTP/1.1 protocol over httptools (llhttp), with the request head capped and
    requests it cannot parse answered as one-line JSON like every other error."""

    _head_bytes = 0  # bytes received since the current request head began
    _in_head = True  # between requests, the next bytes begin a head
    _begun = False  # a request has begun to arrive and is not complete yet
    _lingering = False  # refused and half-closed: waiting for the client to close
    _deadline: asyncio.TimerHandle | None = None  # when the request being received is late

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()  # the first request's clock starts with the connection

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._lingering:  # refused: what the client still sends is read and dropped
            return
        if self._in_head:
            if self._deadline is None:  # a later request's clock starts at its first byte
                self._arm()
            self._head_bytes += len(data)
        super().data_received(data)
        if self._in_head and self._head_bytes > MAX_HEAD_BYTES \
                and not self.transport.is_closing() and not self._lingering:
            if len(getattr(self, "url", b"")) > MAX_TARGET_BYTES:
                self.refuse(414, f"request line longer than {MAX_TARGET_BYTES} bytes")
            else:
                self.refuse(431, f"request headers larger than {MAX_HEADER_BYTES} bytes")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._begun = True
        if self._deadline is None:  # a pipelined request that began in the previous one's data
            self._arm()

    def on_headers_complete(self) -> None:
        self._in_head, self._head_bytes = False, 0
        if len(self.url) > MAX_TARGET_BYTES:  # (httptools cannot even split such a URL)
            self.refuse(414, f"request line longer than {MAX_TARGET_BYTES} bytes")
            raise ValueError("request line too long")  # stops the parser
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._in_head, self._head_bytes, self._begun = True, 0, False
        self._disarm()

    def eof_received(self) -> bool:
        """The client closed its side: answer what it sent, then close (True keeps the
        transport open for writing)."""
        if self._lingering:
            return False
        if not self._in_head:
            self.refuse(400, "the client closed its side before the request body was complete")
            return False
        if self.cycle is not None and not self.cycle.response_complete:
            # the newest complete request (pipelined ones come before it) is being answered;
            # a head begun after it is dropped with the connection
            self.cycle.keep_alive = False
            return True
        if self._begun:
            self.refuse(400, "the client closed its side in the middle of a request head")
        return False

    @property
    def request_timeout(self) -> float:
        return getattr(self.app, "request_timeout", DEFAULT_REQUEST_TIMEOUT)

    def _arm(self) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(self.request_timeout, self._timed_out)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _timed_out(self) -> None:
        """The request being received is late: 408, or a silent close if nothing came."""
        self._deadline = None
        if self.transport.is_closing():
            return
        answering = self.cycle is not None and not self.cycle.response_complete
        if self.flow.read_paused or (answering and self._in_head):
            # the server is not reading, or an earlier request of this connection is still
            # being answered: the 408 (if it comes to that) must not come before its answer
            self._arm()
            return
        if not self._begun:
            self.transport.close()
            return
        self.refuse(408, f"the request did not arrive within {self.request_timeout:g} s")

    def send_400_response(self, msg: str) -> None:
        self.refuse(400, "malformed HTTP request")

    def refuse(self, status: int, message: str) -> None:
        """Answer `status` with `message` as JSON and close the connection: first our side
        only, reading and dropping what the client still sends until it closes or
        LINGER_SECONDS pass, so that its unread bytes do not make the kernel reset the
        connection and lose the answer on the client's side (HTTP's graceful close)."""
        self._disarm()
        if self.transport.is_closing() or self._lingering:
            return
        body = json.dumps({"error": message}).encode()
        self.transport.write(
            f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n"
            f"content-type: application/json; charset=utf-8\r\ncontent-length: {len(body)}\r\n"
            f"connection: close\r\nserver: {SERVER_NAME}\r\n\r\n".encode() + body)
        if self.transport.can_write_eof():
            self._lingering = True
            self.transport.write_eof()
            self.flow.resume_reading()
            self._deadline = self.loop.call_later(LINGER_SECONDS, self.transport.close)
        else:
            self.transport.close()
        if isinstance(self.app, SpotlightApp):
            self.app.log_request(self.client[0] if self.client else "-", "-", "-", status,
                                 len(body), 0.0)


def uvicorn_config(app: SpotlightApp, **overrides) -> uvicorn.Config:
    """The server settings shared by the in-process server and the worker processes."""
    settings = dict(
        loop="asyncio", http=SpotlightHttpProtocol, ws="none", lifespan="on", interface="asgi3",
        log_config=None, access_log=False, proxy_headers=False, server_header=False,
        headers=[("server", SERVER_NAME)], backlog=BACKLOG, timeout_keep_alive=IDLE_SECONDS,
        timeout_graceful_shutdown=GRACE_SECONDS)
    settings.update(overrides)
    return uvicorn.Config(app, **settings)


def listening_socket(host: str, port: int, backlog: int = BACKLOG) -> socket.socket:
    """A TCP socket bound to `host:port` (0: any free port) and listening; OSError if not."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(backlog)
    except OSError:
        sock.close()
        raise
    return sock


def socket_url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://{f'[{host}]' if ':' in host else host}:{port}/rest"


def raise_open_file_limit() -> None:
    """Let this process (and its workers) hold as many connections as the hard limit allows."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE,
                               (hard if hard != resource.RLIM_INFINITY else 1 << 16, hard))


class SpotlightServer:
    """`SpotlightApp` for one model on `host:port` (port 0: any free port), served by uvicorn
    from a background thread of this process."""

    def __init__(self, model: StatisticalModel, host: str = "127.0.0.1", port: int = 2222,
                 threads: int = DEFAULT_THREADS, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
                 access_log=None, **limits):
        """`limits`: SpotlightApp's request_timeout, max_request_memory, max_request_seconds
        and memory_estimate."""
        self.app = SpotlightApp(model, threads=threads, max_body_bytes=max_body_bytes,
                                access_log=access_log, **limits)
        self.socket = listening_socket(host, port)
        self.server_address: tuple[str, int] = self.socket.getsockname()[:2]
        self.url = socket_url(self.socket)
        self._server = uvicorn.Server(uvicorn_config(self.app))
        self._thread: threading.Thread | None = None

    def start(self, timeout_seconds: float = 30.0) -> SpotlightServer:
        """Serve from a background thread, once it accepts connections; returns self."""
        self._thread = threading.Thread(target=self._server.run,
                                        kwargs={"sockets": [self.socket]},
                                        name="spotlight-server", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout_seconds
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the Spotlight server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Stop accepting, close idle connections, let requests being answered finish (up to
        GRACE_SECONDS), then return."""
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=GRACE_SECONDS + 5)
        self.socket.close()

    def __enter__(self) -> SpotlightServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
