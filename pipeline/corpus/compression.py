"""Decompressed byte streams of JSON Lines files, and compressed writers that match them.

The compression is told by the file's first bytes, not its name: gzip (also several
concatenated members) and zstd (also several frames, windows up to 2 GiB as written by
`zstd --long`). Errors are raised as they happen, after every byte that could be recovered was
yielded, so a truncated file gives its readable head and then an error.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import BinaryIO

import zstandard

from longtail.output.storage import open_source

CHUNK_BYTES = 1 << 20
_ZSTD_INPUT_BYTES = 1 << 17
_ZSTD_MAX_WINDOW = 1 << 31
_GZIP_LEVEL = 6
_ZSTD_LEVEL = 3

_MAGIC = {
    b"\x1f\x8b": "gzip",
    b"\x28\xb5\x2f\xfd": "zstd",
    b"BZh": "bzip2",
    b"\xfd7zXZ\x00": "xz",
}
_SUPPORTED = ("gzip", "zstd")

# Exceptions that mean "the bytes cannot be read", as opposed to a bug.
READ_ERRORS = (OSError, EOFError, zlib.error, zstandard.ZstdError)


class UnsupportedCompression(OSError):
    """The file is compressed in a way longtail does not read."""


def sniff_compression(path: str) -> str | None:
    """"gzip", "zstd", "bzip2", "xz" from the file's first bytes; None for plain bytes."""
    with open_source(path) as fh:
        head = fh.read(6)
    return next((name for magic, name in _MAGIC.items() if head.startswith(magic)), None)


def decompressed_chunks(path: str) -> Iterator[bytes]:
    """The file's decompressed bytes in non-empty chunks of up to about `CHUNK_BYTES`."""
    compression = sniff_compression(path)
    if compression is not None and compression not in _SUPPORTED:
        raise UnsupportedCompression(
            f"the file is compressed with {compression}; longtail reads gzip and zstd only"
        )
    with open_source(path) as raw:
        if compression == "gzip":
            with gzip.GzipFile(fileobj=raw) as stream:
                while chunk := stream.read1(CHUNK_BYTES):
                    yield chunk
        elif compression == "zstd":
            yield from _zstd_chunks(raw)
        else:
            while chunk := raw.read(CHUNK_BYTES):
                yield chunk


def plain_chunks(path: str, start: int = 0, stop: int | None = None) -> Iterator[bytes]:
    """Bytes [start, stop) of an uncompressed file (to its end when `stop` is None), in
    non-empty chunks of up to `CHUNK_BYTES`."""
    with open_source(path) as raw:
        raw.seek(start)
        left = None if stop is None else stop - start
        while left is None or left > 0:
            chunk = raw.read(CHUNK_BYTES if left is None else min(CHUNK_BYTES, left))
            if not chunk:
                return
            if left is not None:
                left -= len(chunk)
            yield chunk


def _zstd_chunks(raw: BinaryIO) -> Iterator[bytes]:
    # ZstdDecompressor.stream_reader ends quietly on a truncated frame; a decompressobj per
    # frame lets a truncation be seen (a frame started and never ended).
    dctx = zstandard.ZstdDecompressor(max_window_size=_ZSTD_MAX_WINDOW)
    frame = dctx.decompressobj()
    frame_open = False
    while data := raw.read(_ZSTD_INPUT_BYTES):
        while data:
            out = frame.decompress(data)
            frame_open = True
            if out:
                yield out
            if frame.eof:
                data = frame.unused_data
                frame = dctx.decompressobj()
                frame_open = False
            else:
                data = b""
    if frame_open:
        raise EOFError("the zstd stream ends inside a frame (truncated file)")


@contextmanager
def compressed_writer(path: str, compression: str | None) -> Iterator[BinaryIO]:
    """A binary writer to `path` that compresses like `compression` ("gzip", "zstd", None)."""
    if compression == "gzip":
        with gzip.open(path, "wb", compresslevel=_GZIP_LEVEL) as out:
            yield out
    elif compression == "zstd":
        cctx = zstandard.ZstdCompressor(level=_ZSTD_LEVEL)
        with open(path, "wb") as fh, cctx.stream_writer(fh, closefd=False) as out:
            yield out
    elif compression is None:
        with open(path, "wb") as out:
            yield out
    else:
        raise UnsupportedCompression(f"cannot write {compression}")
