"""An output folder's committed table files as a read-only filesystem, for DuckDB.

`longtail.output.views.connect` gives DuckDB no access to the local disk or to any store
(`enable_external_access = false`) but to this filesystem, registered under `longtail://`:
the views read `longtail://docs/part-....parquet`. It knows only the files that finished
stages committed, opens them for reading, and refuses everything else (opening for writing,
deleting, renaming, making folders). A statement that slips past the read-only check has
nowhere to write: OUT is not reachable as a local path, and `longtail://` cannot be written.
DuckDB keeps its own Parquet reader, so a query still reads only the row groups it needs
(`pair_docs()` stays in milliseconds; Arrow datasets instead lose the filters DuckDB derives
from joins, bench/pair_query.py).

Files are read through the output folder's storage (pyarrow), local disk and object store
alike, with positional reads: DuckDB reads one file from several threads at once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from functools import partial
from typing import Any

from fsspec import AbstractFileSystem

from longtail.output.storage import FileStat, Storage

PROTOCOL = "longtail"
ROOT = f"{PROTOCOL}://"


class ReadOnlyFileError(PermissionError):
    """What any write into `longtail://` raises (DuckDB reports its message)."""


class CommittedFile:
    """One committed file opened for reading. DuckDB seeks then reads, from several threads
    on the same handle: the position is kept per thread, and every read is positional. The
    file itself is opened at the first read (DuckDB opens many files only to check them)."""

    def __init__(self, open_input: Callable[[], Any], size: int):
        self._open_input = open_input
        self._handle = None  # a pyarrow NativeFile: read_at is thread-safe
        self._opening = threading.Lock()
        self._size = size
        self._local = threading.local()
        self.closed = False

    def tell(self) -> int:
        return getattr(self._local, "position", 0)

    def seek(self, offset: int, whence: int = 0) -> int:
        base = (0, self.tell(), self._size)[whence]
        self._local.position = base + offset
        return self._local.position

    def read(self, size: int = -1) -> bytes:
        position = self.tell()
        if size is None or size < 0:
            size = self._size - position
        if self._handle is None:
            with self._opening:
                if self._handle is None:
                    self._handle = self._open_input()
        data = self._handle.read_at(max(0, min(size, self._size - position)), position)
        self._local.position = position + len(data)
        return data

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def writable(self) -> bool:
        return False

    def write(self, data) -> int:
        raise ReadOnlyFileError("the output folder is read-only")

    def flush(self) -> None:
        pass

    def close(self) -> None:
        if not self.closed and self._handle is not None:
            self._handle.close()
        self.closed = True

    def __enter__(self) -> CommittedFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class CommittedFilesystem(AbstractFileSystem):
    """`longtail://<path relative to OUT>` for the given committed files, read-only; no
    other file exists in it."""

    protocol = PROTOCOL
    cachable = False  # one instance per connection, never shared through fsspec's cache

    def __init__(self, storage: Storage, paths: Iterable[str]):
        super().__init__()
        self._storage = storage
        self._paths = frozenset(paths)
        self._stats: dict[str, FileStat] = {}  # committed files never change once written

    @classmethod
    def _strip_protocol(cls, path) -> str:
        path = str(path)
        return (path[len(ROOT):] if path.startswith(ROOT) else path).strip("/")

    def _stat(self, path: str) -> FileStat:
        if path not in self._stats:
            stat = self._storage.stat(path)
            if stat is None:
                raise FileNotFoundError(ROOT + path)
            self._stats[path] = stat
        return self._stats[path]

    def info(self, path, **kwargs) -> dict:
        relative = self._strip_protocol(path)
        if relative in self._paths:
            stat = self._stat(relative)
            return {"name": relative, "size": stat.size, "type": "file",
                    "mtime": stat.mtime_ns / 1e9}
        if relative == "" or any(p.startswith(relative + "/") for p in self._paths):
            return {"name": relative, "size": 0, "type": "directory"}
        raise FileNotFoundError(ROOT + relative)

    def ls(self, path, detail: bool = True, **kwargs) -> list:
        relative = self._strip_protocol(path)
        if relative in self._paths:
            names = [relative]
        else:
            self.info(relative)  # FileNotFoundError for a folder that has no committed file
            prefix = relative + "/" if relative else ""
            names = sorted({prefix + p[len(prefix):].split("/")[0]
                            for p in self._paths if p.startswith(prefix)})
        return [self.info(name) for name in names] if detail else names

    def modified(self, path) -> datetime:
        return datetime.fromtimestamp(self.info(path)["mtime"], timezone.utc)

    def _open(self, path, mode: str = "rb", **kwargs) -> CommittedFile:
        relative = self._strip_protocol(path)
        if mode != "rb":
            raise ReadOnlyFileError(f"the output folder is read-only: {ROOT}{relative} cannot "
                                    "be written")
        if relative not in self._paths:
            raise FileNotFoundError(f"{ROOT}{relative} is not a committed table file")
        return CommittedFile(partial(self._storage.open_input, relative),
                             self._stat(relative).size)

    def _refuse(self, path="", *args, **kwargs):
        raise ReadOnlyFileError(f"the output folder is read-only: {ROOT}"
                                f"{self._strip_protocol(path)} cannot be changed")

    # Everything that would create, change or remove a file or a folder.
    mkdir = makedirs = rmdir = rm = _rm = rm_file = mv = cp_file = copy = touch = _refuse
    pipe_file = put_file = put = _refuse
