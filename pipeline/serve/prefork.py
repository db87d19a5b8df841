"""`longtail serve`'s processes: a gunicorn master and pre-forked uvicorn workers.

The master binds nothing itself: it is handed the socket `longtail serve` bound (so that a port
in use is a usage error and port 0's pick is known), and the application with the model already
mapped (preloaded), so the workers forked from it share the listening socket (the kernel spreads
connections) and the model's memory-mapped pages. The master restarts a worker that dies, stops
them all on SIGTERM (gracefully) or SIGINT/SIGQUIT (at once), and a worker whose master is gone
stops by itself. Each worker caps its own data segment (`RequestGuard.limit_process_memory`),
and a worker that keeps memory after a text was stopped stops gracefully and is replaced.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import sys
from typing import Any, TextIO

import uvicorn
from gunicorn.app.base import BaseApplication
from gunicorn.arbiter import Arbiter
from gunicorn.workers.base import Worker

from longtail.serve.app import SpotlightApp
from longtail.serve.server import BACKLOG, GRACE_SECONDS, IDLE_SECONDS, socket_url, uvicorn_config

HEARTBEAT_SECONDS = 1  # how often a worker tells the master it is alive, and checks the master


class SpotlightWorker(Worker):
    """A gunicorn worker serving the application with uvicorn's asyncio server."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.server: uvicorn.Server | None = None
        uvicorn_log = logging.getLogger("uvicorn.error")
        uvicorn_log.handlers = self.log.error_log.handlers
        uvicorn_log.setLevel(self.log.error_log.level)
        uvicorn_log.propagate = False

    def init_signals(self) -> None:
        super().init_signals()
        # While serving, uvicorn handles SIGTERM and SIGINT (graceful stop) and re-raises them
        # afterwards: the handlers it restores then must not end the process a second time.
        signal.signal(signal.SIGINT, self.handle_exit)

    def run(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        app: SpotlightApp = self.wsgi
        app.open()  # the linkers and their threads, then the cap over what they hold
        app.guard.limit_process_memory(app.threads)
        loop = asyncio.get_running_loop()
        app.guard.on_recycle = lambda: loop.call_soon_threadsafe(self._recycle)
        self.server = uvicorn.Server(uvicorn_config(
            app, timeout_notify=HEARTBEAT_SECONDS, callback_notify=self._heartbeat))
        # gunicorn's quick stop (SIGQUIT, sent on the master's SIGINT) stops like SIGTERM here:
        # idle connections close at once, requests being answered get GRACE_SECONDS.
        asyncio.get_running_loop().add_signal_handler(signal.SIGQUIT, self._stop)
        await self.server.serve(sockets=[listener.sock for listener in self.sockets])
        if not self.server.started:
            sys.exit(Arbiter.WORKER_BOOT_ERROR)

    async def _heartbeat(self) -> None:
        self.notify()
        if os.getppid() != self.ppid and self.server is not None:
            self.log.warning("the master process is gone; worker %s stops", self.pid)
            self.server.should_exit = True

    def _stop(self) -> None:
        if self.server is not None:
            self.server.should_exit = True

    def _recycle(self) -> None:
        self.log.warning("worker %s keeps memory after a text over the per-request limit; "
                         "a new worker replaces it", self.pid)
        self._stop()


class PreforkServer(BaseApplication):
    """gunicorn's master for `app` on an already listening socket, with `workers` workers."""

    def __init__(self, app: SpotlightApp, listener: socket.socket, workers: int,
                 announce: TextIO = sys.stdout):
        self.application = app
        self.url = socket_url(listener)
        self.announce = announce
        self.options = {
            "bind": [f"fd://{listener.detach()}"],
            "workers": workers,
            "worker_class": SpotlightWorker,
            "preload_app": True,
            "backlog": BACKLOG,
            "keepalive": IDLE_SECONDS,
            "graceful_timeout": GRACE_SECONDS + 5,  # then the master kills what is left
            "loglevel": "warning",
            "errorlog": "-",
            "accesslog": None,
            "proc_name": "longtail-serve",
            "control_socket_disable": True,  # gunicorn >= 25: no control socket in $HOME
            "when_ready": self._ready,
        }
        super().__init__()

    def load_config(self) -> None:
        for name, value in self.options.items():
            if name in self.cfg.settings:
                self.cfg.set(name, value)

    def load(self) -> SpotlightApp:
        return self.application

    def _ready(self, arbiter: Arbiter) -> None:
        print(f"listening on {self.url}", file=self.announce, flush=True)


def serve_with_workers(app: SpotlightApp, listener: socket.socket, workers: int = 1,
                       announce: TextIO = sys.stdout) -> int:
    """Serve until SIGTERM/SIGINT after printing "listening on URL"; the exit status."""
    try:
        PreforkServer(app, listener, workers, announce).run()
    except SystemExit as stop:  # gunicorn's master ends with sys.exit
        return stop.code if isinstance(stop.code, int) else 1
    return 0
