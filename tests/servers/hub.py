"""A local server answering the Hugging Face Hub's HTTP routes that huggingface_hub's
`HfFileSystem` uses to list and read dataset repositories, in its own process.

The repositories are folders: ROOT/datasets/OWNER/NAME/... is the dataset OWNER/NAME at
revision `main` (one commit, whose id is a digest of the files). Routes, as the Hub answers
them (JSON bodies, `X-Error-Code` on errors, `Link: <...>; rel="next"` pagination):

    GET  /api/datasets/OWNER/NAME[/revision/REV]        repository info (id, sha)
    GET  /api/datasets/OWNER/NAME/tree/REV[/PATH]       ?recursive=&expand=&cursor=
    POST /api/datasets/OWNER/NAME/paths-info/REV        form: paths=..., expand=
    GET  /datasets/OWNER/NAME/resolve/REV/PATH          the file, with Range (HEAD too)

With `--token T` every route needs `Authorization: Bearer T` (401 otherwise, as for a private
repository); `--page-size N` makes listings paginate. Point huggingface_hub at it with
`HF_ENDPOINT=http://127.0.0.1:PORT`.

    python -m tests.servers.hub --root DIR --port 0 [--token T] [--page-size N]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, quote, unquote, urlsplit

from tests.servers.http_files import ServerProcess, send_file

REVISION = "main"


def blob_id(path: Path) -> str:
    """The git blob id of a file, as the Hub gives it in `oid`."""
    data = path.read_bytes()
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class HubServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, root: Path, port: int, token: str | None, page_size: int):
        super().__init__(("127.0.0.1", port), HubHandler)
        self.root = root.resolve()
        self.token = token
        self.page_size = page_size
        self.lock = threading.Lock()
        self.log: list[tuple[str, str]] = []

    def repo(self, owner: str, name: str) -> Path | None:
        folder = (self.root / "datasets" / owner / name).resolve()
        return folder if folder.is_dir() and folder.is_relative_to(self.root) else None

    def commit(self, repo: Path) -> str:
        digest = hashlib.sha1()
        for path in sorted(p for p in repo.rglob("*") if p.is_file()):
            digest.update(str(path.relative_to(repo)).encode() + blob_id(path).encode())
        return digest.hexdigest()


def _entry(repo: Path, path: Path) -> dict:
    relative = path.relative_to(repo).as_posix()
    if path.is_dir():
        tree = hashlib.sha1(relative.encode()).hexdigest()
        return {"type": "directory", "oid": tree, "size": 0, "path": relative}
    return {"type": "file", "oid": blob_id(path), "size": path.stat().st_size,
            "path": relative}


class HubHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: HubServer

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        self._route("GET", b"")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self._route("POST", self.rfile.read(length) if length else b"")

    # -- routing ---------------------------------------------------------------------------

    def _route(self, method: str, body: bytes) -> None:
        split = urlsplit(self.path)
        parts = [unquote(p) for p in split.path.strip("/").split("/")]
        query = parse_qs(split.query)
        with self.server.lock:
            self.server.log.append((self.command, self.path))
        if parts[:1] == ["_log"]:
            self._json(self.server.log)
            return
        if self.server.token and self.headers.get("Authorization") != \
                f"Bearer {self.server.token}":
            self._error(401, "RepoNotFound", "Repository not found or no access")
            return
        if parts[:2] == ["api", "datasets"] and len(parts) >= 4:
            repo = self.server.repo(parts[2], parts[3])
            if repo is None:
                self._error(404, "RepoNotFound", f"Repository {parts[2]}/{parts[3]} not found")
                return
            rest = parts[4:]
            if not rest or rest[0] == "revision":
                if rest and rest[1:] != [REVISION] and rest[1:] != [self.server.commit(repo)]:
                    self._error(404, "RevisionNotFound", "Revision not found")
                    return
                self._json({"id": f"{parts[2]}/{parts[3]}", "sha": self.server.commit(repo),
                            "private": bool(self.server.token), "siblings": []})
                return
            if rest[0] == "tree" and len(rest) >= 2 and method == "GET":
                self._tree(repo, rest[1], "/".join(rest[2:]), query)
                return
            if rest[0] == "paths-info" and len(rest) == 2 and method == "POST":
                self._paths_info(repo, parse_qs(body.decode()))
                return
        if parts[:1] == ["datasets"] and len(parts) >= 6 and parts[3] == "resolve":
            repo = self.server.repo(parts[1], parts[2])
            target = (repo / "/".join(parts[5:])).resolve() if repo else None
            if target is None or not target.is_file() or not target.is_relative_to(repo):
                self._error(404, "EntryNotFound", "Entry not found")
                return
            etag = f'"{blob_id(target)}"'
            send_file(self, target, etag, {"X-Repo-Commit": self.server.commit(repo)})
            return
        self._error(404, None, "Not found")

    def _tree(self, repo: Path, revision: str, path: str, query: dict) -> None:
        if revision not in (REVISION, self.server.commit(repo)):
            self._error(404, "RevisionNotFound", "Revision not found")
            return
        folder = (repo / path).resolve() if path else repo
        if not folder.is_dir() or not folder.is_relative_to(repo):
            self._error(404, "EntryNotFound", f"{path} does not exist")
            return
        recursive = query.get("recursive", ["False"])[0].lower() == "true"
        found = folder.rglob("*") if recursive else folder.iterdir()
        entries = [_entry(repo, p) for p in sorted(found) if not p.name.startswith(".")]
        start = int(query.get("cursor", ["0"])[0])
        page = entries[start:start + self.server.page_size]
        headers = {}
        if start + self.server.page_size < len(entries):
            params = f"recursive={recursive}&expand=False&cursor={start + len(page)}"
            here = f"http://127.0.0.1:{self.server.server_address[1]}" + quote(
                urlsplit(self.path).path)
            headers["Link"] = f'<{here}?{params}>; rel="next"'
        self._json(page, headers)

    def _paths_info(self, repo: Path, form: dict) -> None:
        found = []
        for path in form.get("paths", []):
            target = (repo / path).resolve()
            if target.exists() and target.is_relative_to(repo):
                found.append(_entry(repo, target))
        self._json(found)

    def _error(self, status: int, code: str | None, message: str) -> None:
        headers = {"X-Error-Code": code} if code else {}
        self._json({"error": message}, headers, status)

    def _json(self, payload: object, headers: dict[str, str] | None = None,
              status: int = 200) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)


class HubProcess(ServerProcess):
    """`HubServer` over `root` in a child process; `env()` points huggingface_hub at it."""

    def __init__(self, root: Path, token: str | None = None, page_size: int = 1000):
        args = ["--root", str(root), "--page-size", str(page_size)]
        super().__init__("tests.servers.hub", *args, *(["--token", token] if token else []))
        self.token = token

    def env(self) -> dict[str, str]:
        found = {"HF_ENDPOINT": self.url, "HF_HUB_DISABLE_TELEMETRY": "1"}
        if self.token:
            found["HF_TOKEN"] = self.token
        return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", required=True, type=Path)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--token", default=None)
    parser.add_argument("--page-size", type=int, default=1000)
    args = parser.parse_args()
    server = HubServer(args.root, args.port, args.token, args.page_size)
    print(f"listening on http://127.0.0.1:{server.server_address[1]}", flush=True)
    server.serve_forever(poll_interval=0.1)


if __name__ == "__main__":
    main()
