"""Running a test HTTP server in a daemon thread of the test process."""

from __future__ import annotations

import threading
from http.server import ThreadingHTTPServer


class BackgroundServer:
    """Serves `server` (which has a `stopping` event) until `stop()`; a context manager.

    A server with `drop_connections()` also drops its open connections on stop, as a crashed
    server would.
    """

    def __init__(self, server: ThreadingHTTPServer):
        self._server = server
        self.port = server.server_address[1]
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/rest"

    def stop(self) -> None:
        if self._thread.is_alive():
            self._server.stopping.set()
            self._server.shutdown()
            self._server.server_close()
            drop = getattr(self._server, "drop_connections", None)
            if drop is not None:
                drop()
            self._thread.join()

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
