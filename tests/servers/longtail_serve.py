"""`longtail serve` (`python -m longtail.serve`) as a child process that a test can kill.

    with ServeProcess(model_dir, kill_after=40) as server:   # SIGKILL after 40 link requests
        client = SpotlightClient([server.url])

`python -m tests.servers.longtail_serve --model DIR ...` is the same server, flags and all,
with an estimate of each text's working memory that refuses nothing: as if the linker
underestimated, so that only the worker's watchdog and memory cap stand between a costly text
and the worker's memory (`ServeProcess(..., linker_estimate=False)`).
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import threading
from pathlib import Path

from longtail.errors import UsageError
from longtail.serve.command import add_arguments, cmd_serve

PROJECT_ROOT = Path(__file__).resolve().parents[2]
_LINK_PATHS = (" /rest/annotate ", " /rest/candidates ")


class ServeProcess:
    """The server on a free port of 127.0.0.1, started with `--access-log`: `log_lines` holds
    what it printed to stderr, `answered` counts its link requests, and with `kill_after` it is
    killed with SIGKILL once it answered that many."""

    def __init__(self, model: str | Path, *args: str, kill_after: int | None = None,
                 linker_estimate: bool = True):
        module = "longtail.serve" if linker_estimate else "tests.servers.longtail_serve"
        self.process = subprocess.Popen(
            [sys.executable, "-m", module, "--model", str(model), "--port", "0",
             "--access-log", *args],
            cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.process.stdout.readline() if self.process.stdout else ""
        if not line.startswith("listening on "):
            self.process.kill()
            raise RuntimeError(f"longtail serve did not start: {line!r}")
        self.url = line.split()[-1]
        self.kill_after = kill_after
        self.answered = 0
        self.log_lines: list[str] = []
        self.killed = threading.Event()
        self._reader = threading.Thread(target=self._read_log, daemon=True)
        self._reader.start()

    def _read_log(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.log_lines.append(line.rstrip("\n"))
            if any(path in line for path in _LINK_PATHS):
                self.answered += 1
                if self.kill_after is not None and self.answered >= self.kill_after:
                    self.kill()

    def kill(self) -> None:
        """SIGKILL: connections drop mid-request, the port refuses from then on."""
        if self.process.poll() is None:
            self.process.kill()
            self.killed.set()

    def stop(self) -> int:
        """SIGTERM, then wait; the exit status (negative: killed by that signal)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=30)
        finally:
            self._reader.join(timeout=5)
            for stream in (self.process.stdout, self.process.stderr):
                if stream:
                    stream.close()

    def __enter__(self) -> ServeProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_without_estimate(argv: list[str]) -> int:
    """`longtail serve` with the flags in `argv` and an estimate that refuses nothing."""
    parser = argparse.ArgumentParser(prog="longtail serve")
    add_arguments(parser)
    try:
        return cmd_serve(parser.parse_args(argv), memory_estimate=lambda text: 0)
    except UsageError as err:
        print(f"longtail serve: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(serve_without_estimate(sys.argv[1:]))
