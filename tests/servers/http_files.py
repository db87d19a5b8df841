"""A real static-file HTTP server on 127.0.0.1, in its own process, that misbehaves on purpose.

It serves a folder with HTTP/1.1 keep-alive, single byte ranges (`Range`, `If-Range`), strong
ETags (a digest of the content) and Last-Modified, and answers `If-Match`. Faults are set per
path while it runs, each for a number of requests (-1: always):

    with HttpFileServer(folder) as server:
        server.fault("/corpus/a.jsonl", status=503, times=2)      # 503 twice, then serves
        server.fault("/corpus/a.jsonl", cut_after=1000, times=1)  # the body stops at 1,000 B
        server.fault("/secret.jsonl", status=403, times=-1)
        server.fault("/a.jsonl", ignore_range=True, times=-1)     # answers 200 to Range
        server.fault("/a.jsonl", head=405, times=-1)               # refuses HEAD
        server.fault("/a.jsonl", status=503, times=5, method="GET")  # only GETs fail
        server.answer("/sparql", body, "application/json")        # a canned POST answer
        server.requests()                                          # [(method, path, range)]

    python -m tests.servers.http_files --root DIR --port 0   # prints "listening on URL"
"""

from __future__ import annotations

import argparse
import email.utils
import hashlib
import json
import os
import re
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

import requests

from tests.processes import stop_process

PROJECT_ROOT = Path(__file__).resolve().parents[2]
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
_CHUNK = 64 * 1024


def content_etag(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return f'"{digest.hexdigest()[:32]}"'


def send_file(handler: BaseHTTPRequestHandler, path: Path, etag: str,
              extra_headers: dict[str, str] | None = None, ignore_range: bool = False,
              cut_after: int | None = None) -> None:
    """Answer a GET or HEAD for one file: 200, 206 (one range), 304-free, 412 or 416."""
    size = path.stat().st_size
    modified = email.utils.formatdate(path.stat().st_mtime, usegmt=True)
    if_match = handler.headers.get("If-Match")
    if if_match and if_match != "*" and etag not in [t.strip() for t in if_match.split(",")]:
        send_status(handler, 412, "the file changed")
        return
    start, stop, status = 0, size, 200
    wanted = handler.headers.get("Range")
    if_range = handler.headers.get("If-Range")
    if wanted and not ignore_range and (if_range is None or if_range in (etag, modified)):
        match = _RANGE.match(wanted.strip())
        if match is None or match.groups() == ("", ""):
            send_status(handler, 416, "unsupported range", {"Content-Range": f"bytes */{size}"})
            return
        first, last = match.groups()
        if first == "":
            start, stop = max(0, size - int(last)), size
        else:
            start = int(first)
            stop = size if last == "" else min(size, int(last) + 1)
        if start >= size or start >= stop:
            send_status(handler, 416, "range not satisfiable",
                        {"Content-Range": f"bytes */{size}"})
            return
        status = 206
    handler.send_response(status)
    handler.send_header("Content-Type", "application/octet-stream")
    handler.send_header("Content-Length", str(stop - start))
    handler.send_header("Accept-Ranges", "bytes")
    handler.send_header("ETag", etag)
    handler.send_header("Last-Modified", modified)
    if status == 206:
        handler.send_header("Content-Range", f"bytes {start}-{stop - 1}/{size}")
    for key, value in (extra_headers or {}).items():
        handler.send_header(key, value)
    handler.end_headers()
    if handler.command == "HEAD":
        return
    limit = stop - start if cut_after is None else min(cut_after, stop - start)
    with open(path, "rb") as handle:
        handle.seek(start)
        sent = 0
        while sent < limit:
            block = handle.read(min(_CHUNK, limit - sent))
            if not block:
                break
            handler.wfile.write(block)
            sent += len(block)
    if cut_after is not None:
        handler.wfile.flush()
        handler.close_connection = True  # the rest never comes: the connection just ends


def send_status(handler: BaseHTTPRequestHandler, status: int, text: str,
                headers: dict[str, str] | None = None) -> None:
    body = (text + "\n").encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "text/plain")
    handler.send_header("Content-Length", str(len(body)))
    for key, value in (headers or {}).items():
        handler.send_header(key, value)
    handler.end_headers()
    if handler.command != "HEAD":
        handler.wfile.write(body)


class FileServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, root: Path, port: int):
        super().__init__(("127.0.0.1", port), FileHandler)
        self.root = root.resolve()
        self.lock = threading.Lock()
        self.faults: dict[str, list[dict]] = {}
        self.answers: dict[str, tuple[bytes, str]] = {}
        self.log: list[tuple[str, str, str | None]] = []
        self.posted: list[tuple[str, str]] = []
        self._etags: dict[tuple[str, int, int], str] = {}

    def etag(self, path: Path) -> str:
        info = path.stat()
        key = (str(path), info.st_size, info.st_mtime_ns)
        if key not in self._etags:
            self._etags[key] = content_etag(path)
        return self._etags[key]

    def take_fault(self, path: str, method: str) -> dict:
        """The first fault set for `path` that still has requests left, used once (a cut or
        an ignored range only by a GET, a refused HEAD only by a HEAD)."""
        with self.lock:
            for fault in self.faults.get(path, []):
                if method != "GET" and ("cut_after" in fault or "ignore_range" in fault):
                    continue
                if method != "HEAD" and "head" in fault:
                    continue
                if fault.get("method", method) != method:
                    continue
                if fault["times"] != 0:
                    if fault["times"] > 0:
                        fault["times"] -= 1
                    return fault
        return {}


class FileHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FileServer

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        path = unquote(urlsplit(self.path).path)
        if path.startswith("/_control/"):
            self._control_get(path)
            return
        with self.server.lock:
            self.server.log.append((self.command, path, self.headers.get("Range")))
        fault = self.server.take_fault(path, self.command)
        if self.command == "HEAD" and fault.get("head"):
            send_status(self, fault["head"], "no HEAD here")
            return
        if fault.get("status"):
            send_status(self, fault["status"], "fault injected", {"Retry-After": "0"}
                        if fault["status"] in (429, 503) else None)
            return
        if fault.get("delay"):
            time.sleep(fault["delay"])
        target = (self.server.root / path.lstrip("/")).resolve()
        if not target.is_relative_to(self.server.root) or not target.is_file():
            send_status(self, 404, "not found")
            return
        send_file(self, target, self.server.etag(target), ignore_range=fault.get("ignore_range",
                  False), cut_after=fault.get("cut_after"))

    def do_POST(self) -> None:
        path = unquote(urlsplit(self.path).path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if path.startswith("/_control/"):
            self._control_post(path, json.loads(body or b"{}"))
            return
        with self.server.lock:
            self.server.log.append(("POST", path, None))
            self.server.posted.append((path, body.decode("utf-8", "replace")))
        fault = self.server.take_fault(path, "POST")
        if fault.get("status"):
            send_status(self, fault["status"], "fault injected")
            return
        answer = self.server.answers.get(path)
        if answer is None:
            send_status(self, 404, "no answer set for this path")
            return
        data, content_type = answer
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _control_get(self, path: str) -> None:
        if path == "/_control/log":
            payload = {"requests": self.server.log, "posted": self.server.posted}
            self._json(payload)
        else:
            send_status(self, 404, "unknown control")

    def _control_post(self, path: str, payload: dict) -> None:
        with self.server.lock:
            if path == "/_control/fault":
                self.server.faults.setdefault(payload.pop("path"), []).append(payload)
            elif path == "/_control/answer":
                self.server.answers[payload["path"]] = (payload["body"].encode(),
                                                        payload["content_type"])
            elif path == "/_control/reset":
                self.server.faults.clear()
                self.server.log.clear()
                self.server.posted.clear()
        self._json({"ok": True})

    def _json(self, payload: object) -> None:
        data = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class ServerProcess:
    """A server module run as `python -m MODULE ... --port 0` until `stop()`."""

    def __init__(self, module: str, *args: str, env: dict[str, str] | None = None):
        self._proc = subprocess.Popen(
            [sys.executable, "-m", module, *args, "--port", "0"], cwd=PROJECT_ROOT,
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
            env={**os.environ, **(env or {})})
        line = self._proc.stdout.readline().strip()
        if not line.startswith("listening on "):
            self.stop()
            raise RuntimeError(f"{module} did not start: {line!r}")
        self.url = line.removeprefix("listening on ")
        self.port = int(self.url.rsplit(":", 1)[1])

    def stop(self) -> None:
        stop_process(self._proc)
        if self._proc.stdout:
            self._proc.stdout.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class HttpFileServer(ServerProcess):
    """`FileServer` over `root` in a child process, with its controls as methods."""

    def __init__(self, root: Path):
        self.root = Path(root)
        super().__init__("tests.servers.http_files", "--root", str(root))

    def fault(self, path: str, times: int = 1, **fault: object) -> None:
        requests.post(f"{self.url}/_control/fault", json={"path": path, "times": times,
                                                          **fault}, timeout=10)

    def answer(self, path: str, body: str, content_type: str) -> None:
        requests.post(f"{self.url}/_control/answer", json={
            "path": path, "body": body, "content_type": content_type}, timeout=10)

    def reset(self) -> None:
        requests.post(f"{self.url}/_control/reset", json={}, timeout=10)

    def requests(self) -> list[tuple[str, str, str | None]]:
        return [tuple(r) for r in requests.get(f"{self.url}/_control/log",
                                               timeout=10).json()["requests"]]

    def posted(self) -> list[tuple[str, str]]:
        return [tuple(p) for p in requests.get(f"{self.url}/_control/log",
                                               timeout=10).json()["posted"]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", required=True, type=Path)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    server = FileServer(args.root, args.port)
    print(f"listening on http://127.0.0.1:{server.server_address[1]}", flush=True)
    server.serve_forever(poll_interval=0.1)


if __name__ == "__main__":
    main()
