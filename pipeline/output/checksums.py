"""Content checksums of committed files: computed while a file is written, checked on reading.

Every committed table file carries two digests in its commit record: `sha256` of the whole
file, and `tail`, the sha256 of its last `TAIL_BYTES` bytes (a Parquet file's footer: its
schema, row groups, statistics and page offsets). Both are computed from the bytes as they are
written, never by reading the file back.

- The **cheap check**, on every read of a table: the file is there with its size; when its
  modification time is not the one it was written with (a copy, a sync, or damage), its tail
  is read and compared. A file overwritten with other bytes of the same size, or replaced by
  another Parquet file, fails it.
- The **full check**, `longtail status OUT --verify`: every file's sha256.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable

TAIL_BYTES = 64 * 1024
READ_CHUNK = 8 << 20


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def tail_digest(data: bytes) -> str:
    """The digest of the last TAIL_BYTES bytes of `data` (all of it when shorter)."""
    return digest(data[-TAIL_BYTES:])


class HashingWriter:
    """A binary file-like object that writes to `sink` and hashes what passes through it,
    keeping the last TAIL_BYTES bytes for the tail digest."""

    def __init__(self, sink):
        self.sink = sink
        self._hash = hashlib.sha256()
        self._tail = bytearray()
        self.size = 0
        self.closed = False

    def write(self, data) -> int:
        data = bytes(data)
        self.sink.write(data)
        self._hash.update(data)
        self._tail += data
        if len(self._tail) > 2 * TAIL_BYTES:
            del self._tail[:-TAIL_BYTES]
        self.size += len(data)
        return len(data)

    def tell(self) -> int:
        return self.size

    def flush(self) -> None:
        if hasattr(self.sink, "flush"):
            self.sink.flush()

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def readable(self) -> bool:
        return False

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.sink.close()

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()

    @property
    def tail(self) -> str:
        return digest(bytes(self._tail[-TAIL_BYTES:]))


def stream_digest(chunks: Iterable[bytes]) -> str:
    found = hashlib.sha256()
    for chunk in chunks:
        found.update(chunk)
    return found.hexdigest()


def read_chunks(handle, size: int = READ_CHUNK) -> Iterable[bytes]:
    while chunk := handle.read(size):
        yield chunk


def file_sha256(location: str | os.PathLike[str]) -> str:
    """sha256 of a whole file: a local path or a URI, read in chunks."""
    from longtail.output.storage import Storage

    storage, name = Storage.for_file(os.fspath(location))
    with storage.open_input(name) as handle:
        return stream_digest(read_chunks(handle))
