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
"""

from __future__ import annotations

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
from longtail.serve.parameters import DEFAULT_MAX_BODY_BYTES, DEFAULT_THREADS

BACKLOG = 4096  # connections the kernel holds for accept (capped by net.core.somaxconn)
IDLE_SECONDS = 60  # an idle keep-alive connection is closed after this
GRACE_SECONDS = 10  # on stop, requests being answered get this long to finish
MAX_HEAD_BYTES = MAX_TARGET_BYTES + MAX_HEADER_BYTES + 1024  # a request head being received


class SpotlightHttpProtocol(HttpToolsProtocol):
    """uvicorn's HTTP/1.1 protocol over httptools (llhttp), with the request head capped and
    requests it cannot parse answered as one-line JSON like every other error."""

    _head_bytes = 0  # bytes received since the current request head began
    _in_head = True  # between requests, the next bytes begin a head

    def data_received(self, data: bytes) -> None:
        if self._in_head:
            self._head_bytes += len(data)
        super().data_received(data)
        if self._in_head and self._head_bytes > MAX_HEAD_BYTES \
                and not self.transport.is_closing():
            if len(getattr(self, "url", b"")) > MAX_TARGET_BYTES:
                self.refuse(414, f"request line longer than {MAX_TARGET_BYTES} bytes")
            else:
                self.refuse(431, f"request headers larger than {MAX_HEADER_BYTES} bytes")

    def on_headers_complete(self) -> None:
        self._in_head, self._head_bytes = False, 0
        if len(self.url) > MAX_TARGET_BYTES:  # (httptools cannot even split such a URL)
            self.refuse(414, f"request line longer than {MAX_TARGET_BYTES} bytes")
            raise ValueError("request line too long")  # stops the parser
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._in_head, self._head_bytes = True, 0

    def send_400_response(self, msg: str) -> None:
        self.refuse(400, "malformed HTTP request")

    def refuse(self, status: int, message: str) -> None:
        """Answer `status` with `message` as JSON and close the connection."""
        if self.transport.is_closing():
            return
        body = json.dumps({"error": message}).encode()
        self.transport.write(
            f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n"
            f"content-type: application/json; charset=utf-8\r\ncontent-length: {len(body)}\r\n"
            f"connection: close\r\nserver: {SERVER_NAME}\r\n\r\n".encode() + body)
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
                 access_log=None):
        self.app = SpotlightApp(model, threads=threads, max_body_bytes=max_body_bytes,
                                access_log=access_log)
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
