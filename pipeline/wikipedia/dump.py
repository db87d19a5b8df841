"""Streaming reader for MediaWiki XML dumps (plain, .bz2 or .gz).

Pages are read with `xml.etree.ElementTree.iterparse` and cleared as soon as they are
yielded, so memory does not grow with the dump. An uncompressed dump can be read in byte
ranges (`DumpSplit`): each range owns the pages whose `<page>` tag starts inside it, so
ranges can be read in parallel and every page is read exactly once.
"""

from __future__ import annotations

import bz2
import gzip
import io
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO
from xml.etree import ElementTree

from longtail.wikipedia.titles import ENGLISH, Namespaces

_PAGE_OPEN = b"<page>"
_CHUNK = 1 << 20
DEFAULT_SPLIT_BYTES = 64 << 20


class DumpError(Exception):
    """A dump could not be read to its end (malformed or truncated XML, unreadable file)."""

    def __init__(self, path: str, detail: str):
        super().__init__(f"{path}: {detail}")
        self.path = path
        self.detail = detail


@dataclass(frozen=True, slots=True)
class WikiPage:
    """One `<page>`: the latest revision's text; `redirect` is the raw `<redirect title>`."""

    title: str
    ns: int
    page_id: int
    redirect: str | None
    text: str


@dataclass(frozen=True, slots=True)
class DumpSplit:
    """Pages of `path` whose `<page>` tag starts in `[start, end)`; `end` None: to the end."""

    path: str
    start: int = 0
    end: int | None = None


def is_compressed(path: str | Path) -> bool:
    return str(path).endswith((".bz2", ".gz"))


def open_dump(path: str | Path) -> BinaryIO:
    """The dump's XML bytes, decompressed on the fly for .bz2 and .gz."""
    name = str(path)
    if name.endswith(".bz2"):
        return bz2.open(name, "rb")  # reads multi-stream files too
    if name.endswith(".gz"):
        return gzip.open(name, "rb")
    return open(name, "rb")


def plan_splits(paths: list[str], split_bytes: int = DEFAULT_SPLIT_BYTES) -> list[DumpSplit]:
    """Byte ranges of about `split_bytes` for plain XML files, one split per compressed file."""
    splits: list[DumpSplit] = []
    for path in paths:
        size = os.path.getsize(path)
        if is_compressed(path) or size <= split_bytes:
            splits.append(DumpSplit(path))
            continue
        for start in range(0, size, split_bytes):
            end = start + split_bytes
            splits.append(DumpSplit(path, start, end if end < size else None))
    return splits


def read_namespaces(path: str | Path, base: Namespaces = ENGLISH) -> Namespaces:
    """`base` plus the namespace names declared in the dump's `<siteinfo>`."""
    names: list[str] = []
    try:
        with open_dump(path) as stream:
            for event, element in ElementTree.iterparse(stream, events=("start", "end")):
                tag = _local(element.tag)
                if event == "start" and tag == "page":
                    break
                if event == "end" and tag == "namespace" and element.text:
                    names.append(element.text)
                elif event == "end" and tag == "siteinfo":
                    break
    except (ElementTree.ParseError, OSError, EOFError):
        pass  # the page reader reports the problem with its position
    return base.with_names(names)


def read_pages(source: str | Path | DumpSplit) -> Iterator[WikiPage]:
    """Every page of a dump (or of one split), in file order.

    Raises `DumpError` at the point where the XML stops making sense, after yielding the
    pages before it.
    """
    split = source if isinstance(source, DumpSplit) else DumpSplit(str(source))
    try:
        if split.start == 0 and split.end is None:
            stream: BinaryIO = open_dump(split.path)
        else:
            if is_compressed(split.path):
                raise DumpError(split.path, "byte ranges can only be read from plain XML")
            stream = io.BufferedReader(_PageRange(split.path, split.start, split.end))
    except OSError as err:
        raise DumpError(split.path, f"cannot open: {err}") from err
    with stream:
        yield from _pages(stream, split.path)


def _pages(stream: BinaryIO, path: str) -> Iterator[WikiPage]:
    root = None
    latest_text = ""
    try:
        for event, element in ElementTree.iterparse(stream, events=("start", "end")):
            if root is None:
                root = element
            if event != "end":
                continue
            tag = _local(element.tag)
            if tag == "revision":
                latest_text = _child_text(element, "text") or ""
                element.clear()
            elif tag == "page":
                page = _page(element, latest_text)
                latest_text = ""
                root.clear()  # drops the page and every earlier sibling
                if page is not None:
                    yield page
    except ElementTree.ParseError as err:
        raise DumpError(path, f"malformed XML: {err}") from err
    except (OSError, EOFError) as err:
        raise DumpError(path, f"unreadable: {err}") from err


def _page(element: ElementTree.Element, text: str) -> WikiPage | None:
    title = _child_text(element, "title")
    if title is None:
        return None
    ns_text = _child_text(element, "ns")
    id_text = _child_text(element, "id")
    redirect = None
    for child in element:
        if _local(child.tag) == "redirect":
            redirect = child.get("title")
    return WikiPage(
        title=title,
        ns=int(ns_text) if ns_text and ns_text.strip().lstrip("-").isdigit() else 0,
        page_id=int(id_text) if id_text and id_text.strip().isdigit() else -1,
        redirect=redirect,
        text=text,
    )


def _child_text(element: ElementTree.Element, name: str) -> str | None:
    for child in element:
        if _local(child.tag) == name:
            return child.text or ""
    return None


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


class _PageRange(io.RawIOBase):
    """A well-formed XML document made of the pages that start in `[start, end)` of a file.

    It reads `<mediawiki>`, then the file from the first `<page>` at or after `start` up to
    (not including) the first `<page>` at or after `end`, then `</mediawiki>`. A literal
    `<page>` can only be a tag: in element text `<` is always escaped.
    """

    def __init__(self, path: str, start: int, end: int | None):
        self._file = open(path, "rb")  # noqa: SIM115 - closed by close()
        self._end = end
        self._queue = bytearray(b"<mediawiki>")
        self._tail = b""
        self._position = self._seek_first_page(start)
        self._done = self._position is None
        if self._done:
            self._queue += b"</mediawiki>"

    def _seek_first_page(self, start: int) -> int | None:
        position = start
        self._file.seek(start)
        carry = b""
        while True:
            chunk = self._file.read(_CHUNK)
            if not chunk:
                return None
            data = carry + chunk
            found = data.find(_PAGE_OPEN)
            if found >= 0:
                absolute = position - len(carry) + found
                if self._end is not None and absolute >= self._end:
                    return None
                self._file.seek(absolute)
                return absolute
            carry = data[-(len(_PAGE_OPEN) - 1) :]
            position += len(chunk)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        while not self._queue and not self._done:
            self._fill()
        count = min(len(buffer), len(self._queue))
        buffer[:count] = self._queue[:count]
        del self._queue[:count]
        return count

    def _fill(self) -> None:
        chunk = self._file.read(_CHUNK)
        if not chunk:
            # End of file: the file's own `</mediawiki>` closes the synthetic root, unless
            # the file is truncated.
            self._finish(b"", closed=self._tail.rstrip().endswith(b"</mediawiki>"))
            return
        if self._end is not None and self._position + len(chunk) > self._end:
            # The first page at or after `end` belongs to the next range; a few bytes of
            # look-ahead catch a tag that straddles the chunk boundary.
            lookahead = self._file.read(len(_PAGE_OPEN) - 1)
            found = (chunk + lookahead).find(_PAGE_OPEN, max(0, self._end - self._position))
            if found >= 0:
                self._finish(chunk[:found], closed=False)
                return
            if lookahead:
                self._file.seek(-len(lookahead), os.SEEK_CUR)
        self._position += len(chunk)
        self._queue += chunk
        self._tail = (self._tail + chunk)[-64:]

    def _finish(self, last: bytes, closed: bool) -> None:
        self._queue += last
        if not closed:
            self._queue += b"</mediawiki>"
        self._done = True

    def close(self) -> None:
        self._file.close()
        super().close()
