"""http:// and https:// files as a read-only `pyarrow.fs` filesystem, over `requests`.

A file is read with range requests (`Range: bytes=A-B`): a seek costs nothing, sequential reads
ask for spans that double from 256 KiB to 32 MiB, so a Parquet footer and its row groups, or one
split of a JSON Lines file, are fetched alone. A request that answers 429 or 5xx, or a
connection that drops or stalls mid-body, is retried with exponential backoff (Retry-After is
honoured) and the read resumes at the byte it had reached; a file whose ETag changes between
two requests of one read stops it (`If-Match`). 404 and 410 are "not found", 401 and 403 a
`PermissionError`, each one line.

HTTP cannot list a folder: a glob over http:// is refused, and a list of URLs is given as
`@urls.txt` instead (see `longtail.output.listing`). A file's identity is its size and its
ETag (or Last-Modified when the server sends no ETag).
"""

from __future__ import annotations

import http.client
import threading
import time
from email.utils import parsedate_to_datetime

import pyarrow as pa
import pyarrow.fs as pafs
import requests
import urllib3

HTTP_ATTEMPTS = 5
BACKOFF_SECONDS = 0.5
MAX_RETRY_AFTER_SECONDS = 30.0
CONNECT_SECONDS = 10.0
READ_SECONDS = 60.0
FIRST_SPAN = 256 * 1024
MAX_SPAN = 32 * 1024 * 1024
SKIP_BYTES = 256 * 1024  # a forward seek shorter than this reads on instead of reconnecting
RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
READ_ERRORS = (urllib3.exceptions.HTTPError, http.client.HTTPException, requests.RequestException,
               ConnectionError, TimeoutError)
_local = threading.local()


def session() -> requests.Session:
    """One keep-alive session per thread (Spark runs tasks in threads of one worker)."""
    if getattr(_local, "session", None) is None:
        _local.session = requests.Session()
    return _local.session


class HttpStat:
    """What a HEAD (or a one-byte GET) says about a URL."""

    __slots__ = ("etag", "mtime_ns", "size")

    def __init__(self, size: int, mtime_ns: int, etag: str | None):
        self.size, self.mtime_ns, self.etag = size, mtime_ns, etag


def status_error(url: str, response: requests.Response) -> OSError:
    """The OSError of an HTTP status that retrying will not change."""
    code = response.status_code
    text = f"{url}: HTTP {code} {response.reason or ''}".rstrip()
    if code in (404, 410):
        return FileNotFoundError(text)
    if code in (401, 403):
        hint = " (the server refuses access: check the URL, or a signed URL's expiry)"
        return PermissionError(text + hint)
    return OSError(text)


def _backoff(attempt: int, response: requests.Response | None = None) -> None:
    delay = BACKOFF_SECONDS * 2 ** attempt
    after = response.headers.get("Retry-After") if response is not None else None
    if after and after.strip().isdigit():
        delay = min(float(after), MAX_RETRY_AFTER_SECONDS)
    time.sleep(delay)


class HttpUnavailable(OSError):
    """A request that kept failing (connection errors, timeouts, 429, 5xx) on every attempt."""


def request(method: str, url: str, headers: dict[str, str] | None = None,
            stream: bool = False, data: dict | None = None) -> requests.Response:
    """One request, retried on connection errors, timeouts, 429 and 5xx; the last failure
    raised as `HttpUnavailable`, naming the URL."""
    headers = {"Accept-Encoding": "identity", **(headers or {})}
    for attempt in range(HTTP_ATTEMPTS):
        last = attempt == HTTP_ATTEMPTS - 1
        try:
            response = session().request(method, url, headers=headers, stream=stream,
                                         data=data, timeout=(CONNECT_SECONDS, READ_SECONDS),
                                         allow_redirects=True)
        except requests.RequestException as err:
            if last:
                detail = str(err).splitlines()[0] if str(err) else ""
                raise HttpUnavailable(f"{url}: {type(err).__name__} after {HTTP_ATTEMPTS} "
                                      f"attempts: {detail}") from None
            _backoff(attempt)
            continue
        if response.status_code in RETRY_STATUSES and not last:
            response.close()
            _backoff(attempt, response)
            continue
        if response.status_code in RETRY_STATUSES:
            response.close()
            raise HttpUnavailable(f"{url}: HTTP {response.status_code} {response.reason} "
                                  f"after {HTTP_ATTEMPTS} attempts")
        return response
    raise AssertionError("unreachable")


def _mtime_ns(response: requests.Response) -> int:
    modified = response.headers.get("Last-Modified")
    if not modified:
        return 0
    try:
        return int(parsedate_to_datetime(modified).timestamp() * 1e9)
    except (TypeError, ValueError):
        return 0


def _identity(response: requests.Response) -> str | None:
    return response.headers.get("ETag") or response.headers.get("Last-Modified") or None


def stat_url(url: str) -> HttpStat | None:
    """Size, Last-Modified and ETag of a URL; None for 404/410. A server that refuses HEAD,
    or gives no length to it, is asked for the first byte instead."""
    response = request("HEAD", url)
    response.close()
    if response.status_code in (404, 410):
        return None
    size = response.headers.get("Content-Length")
    if response.ok and size is not None and "Content-Encoding" not in response.headers:
        return HttpStat(int(size), _mtime_ns(response), _identity(response))
    if response.status_code not in (200, 405, 501) and not response.ok:
        raise status_error(url, response)
    response = request("GET", url, {"Range": "bytes=0-0"}, stream=True)
    response.close()
    if response.status_code in (404, 410):
        return None
    if response.status_code == 416:  # an empty file
        return HttpStat(0, _mtime_ns(response), _identity(response))
    if not response.ok:
        raise status_error(url, response)
    total = response.headers.get("Content-Range", "").rpartition("/")[2]
    if response.status_code == 206 and total.isdigit():
        return HttpStat(int(total), _mtime_ns(response), _identity(response))
    length = response.headers.get("Content-Length")
    if response.status_code == 200 and length is not None:
        return HttpStat(int(length), _mtime_ns(response), _identity(response))
    raise OSError(f"{url}: the server gives no size for it (no Content-Length or "
                  "Content-Range), so it cannot be read in parts")


class HttpFile:
    """A seekable, read-only file over range requests (what `pyarrow.PythonFile` wraps)."""

    def __init__(self, url: str, stat: HttpStat):
        self.url, self.size, self.etag = url, stat.size, stat.etag
        self.closed = False
        self._pos = 0
        self._response: requests.Response | None = None
        self._at = 0  # the offset of the next byte `_response` gives
        self._end = 0  # the offset after its last byte
        self._span = FIRST_SPAN

    # -- the file protocol ------------------------------------------------------------------

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def writable(self) -> bool:
        return False

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {0: 0, 1: self._pos, 2: self.size}[whence]
        if base + offset < 0:
            raise ValueError(f"negative seek position {base + offset}")
        self._pos = base + offset
        return self._pos

    def read(self, n: int = -1) -> bytes:
        if self.closed:
            raise ValueError("I/O operation on a closed file")
        left = self.size - self._pos if n is None or n < 0 else min(n, self.size - self._pos)
        parts: list[bytes] = []
        failures = 0
        while left > 0:
            try:
                self._position(left)
                chunk = self._response.raw.read(min(left, self._end - self._at),
                                                decode_content=False)
                if not chunk:
                    raise http.client.IncompleteRead(b"", self._end - self._at)
            except READ_ERRORS as err:
                self._drop()
                if failures + 1 >= HTTP_ATTEMPTS:
                    raise OSError(f"{self.url}: the connection failed {HTTP_ATTEMPTS} times "
                                  f"at byte {self._pos:,} ({type(err).__name__})") from None
                _backoff(failures)
                failures += 1
                continue
            failures = 0
            parts.append(chunk)
            self._at += len(chunk)
            self._pos += len(chunk)
            left -= len(chunk)
            if self._at >= self._end:
                self._finish()
        return b"".join(parts)

    def readall(self) -> bytes:
        return self.read(-1)

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)

    def close(self) -> None:
        self._drop()
        self.closed = True

    def __enter__(self) -> HttpFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the range requests -----------------------------------------------------------------

    def _position(self, wanted: int) -> None:
        """A response whose next byte is `self._pos`, opening one if needed."""
        if self._response is not None and self._at != self._pos:
            gap = self._pos - self._at
            if 0 < gap <= SKIP_BYTES and self._pos < self._end:
                self._skip_to(self._pos)
            else:
                self._drop()
                self._span = FIRST_SPAN
        if self._response is None:
            self._open(max(wanted, self._span))

    def _open(self, span: int) -> None:
        start = self._pos
        stop = min(self.size, start + span)
        headers = {"Range": f"bytes={start}-{stop - 1}"}
        if self.etag and not self.etag.startswith("W/") and self.etag.startswith('"'):
            headers["If-Match"] = self.etag
        response = request("GET", self.url, headers, stream=True)
        if response.status_code == 412:
            response.close()
            raise OSError(f"{self.url} changed while it was being read (its ETag is no longer "
                          f"{self.etag})")
        if response.status_code == 200:  # the server ignores Range: read on from the start
            self._response, self._at, self._end = response, 0, self.size
            self._skip_to(start)
            return
        if response.status_code != 206:
            response.close()
            raise status_error(self.url, response)
        first = response.headers.get("Content-Range", "").removeprefix("bytes ").split("-")[0]
        if first.strip() != str(start):
            response.close()
            raise OSError(f"{self.url}: asked for bytes from {start}, the server answered "
                          f"{response.headers.get('Content-Range')!r}")
        self._response, self._at, self._end = response, start, stop

    def _skip_to(self, offset: int) -> None:
        while self._at < offset:
            skipped = self._response.raw.read(min(offset - self._at, 1 << 20),
                                              decode_content=False)
            if not skipped:
                raise http.client.IncompleteRead(b"", offset - self._at)
            self._at += len(skipped)

    def _finish(self) -> None:
        """The span was read whole: its connection goes back to the pool, the next is longer."""
        if self._response is not None:
            self._response.close()
            self._response = None
        self._span = min(self._span * 2, MAX_SPAN)

    def _drop(self) -> None:
        if self._response is not None:
            self._response.close()
            self._response = None


class HttpHandler(pafs.FileSystemHandler):
    """Paths are URLs without their scheme (`host:port/dir/file`); writes are refused."""

    def __init__(self, scheme: str):
        self.scheme = scheme

    def __reduce__(self):
        return HttpHandler, (self.scheme,)

    def url(self, path: str) -> str:
        return f"{self.scheme}://{path}"

    def file_stat(self, path: str):
        """The `FileStat` of a file, with its ETag (or Last-Modified); None when missing."""
        from longtail.output.storage import FileStat

        found = stat_url(self.url(path))
        return None if found is None else FileStat(found.size, found.mtime_ns, found.etag)

    # -- pyarrow.fs -------------------------------------------------------------------------

    def get_type_name(self) -> str:
        return self.scheme

    def equals(self, other) -> bool:
        return isinstance(other, HttpHandler) and other.scheme == self.scheme

    def normalize_path(self, path: str) -> str:
        return path

    def get_file_info(self, paths: list[str]) -> list[pafs.FileInfo]:
        infos = []
        for path in paths:
            found = stat_url(self.url(path)) if path.partition("/")[2] else None
            if found is None:
                infos.append(pafs.FileInfo(path, pafs.FileType.NotFound))
            else:
                infos.append(pafs.FileInfo(path, pafs.FileType.File, size=found.size,
                                           mtime_ns=found.mtime_ns or None))
        return infos

    def get_file_info_selector(self, selector: pafs.FileSelector) -> list[pafs.FileInfo]:
        return []  # HTTP cannot list; `check_listable` says so where a listing is needed

    def open_input_file(self, path: str):
        url = self.url(path)
        found = stat_url(url)
        if found is None:
            raise FileNotFoundError(f"{url}: HTTP 404 Not Found")
        return pa.PythonFile(HttpFile(url, found), mode="r")

    def open_input_stream(self, path: str):
        return self.open_input_file(path)

    def _read_only(self, *args, **kwargs):
        raise PermissionError(f"{self.scheme}:// locations are read-only: write to a local "
                              "folder or an object store")

    create_dir = delete_dir = delete_dir_contents = delete_root_dir_contents = _read_only
    delete_file = move = copy_file = open_output_stream = open_append_stream = _read_only
