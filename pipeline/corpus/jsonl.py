"""JSON Lines, plain, gzip or zstd: one record per line.

Rows are lines split on b"\\n" in the decompressed stream. A newline at the very end of the file
does not start another row; every other line is a row, blank ones included (a blank line is
the failure `invalid_json`, detail "empty line"), so a row number is always the 0-based line
number. A UTF-8 byte order mark at the start of the file is ignored. A line may end in "\\r\\n".
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing

from longtail.corpus.compression import (
    READ_ERRORS,
    compressed_writer,
    decompressed_chunks,
    plain_chunks,
    sniff_compression,
)
from longtail.corpus.filtered import FilteredFile, replace_when_done
from longtail.corpus.ids import make_doc_id
from longtail.corpus.inputs import CorpusFile
from longtail.corpus.records import (
    INVALID_JSON,
    NOT_UTF8,
    Document,
    RecordFields,
    row_failure,
    unreadable_failure,
)
from longtail.output.failures import FailureRecord

_BOM = b"\xef\xbb\xbf"
_SNIPPET_CHARS = 40


class UnreadableRest(Exception):
    """The stream broke while line `row` was being read; nothing from that row on is readable."""

    def __init__(self, row: int, detail: str) -> None:
        super().__init__(detail)
        self.row = row
        self.detail = detail


def count_rows(file: CorpusFile) -> int:
    """Rows in the file, found by counting newlines without parsing.

    When the stream breaks, the rows read before plus one: the row that stands for the
    unreadable rest, where `read_rows` puts its `unreadable_file` failure.
    """
    complete = 0
    last = b"\n"
    try:
        with closing(decompressed_chunks(file.path)) as chunks:
            for chunk in chunks:
                complete += chunk.count(b"\n")
                last = chunk[-1:]
    except READ_ERRORS:
        return complete + 1
    return complete + (last != b"\n")


def count_rows_in_range(path: str, start: int, stop: int) -> tuple[int, int]:
    """(offset of the first row starting in bytes [start, stop), rows starting there) of an
    uncompressed file; the offset is `stop` when no row starts there.

    A row starts at byte 0 and after every b"\n" but the file's last byte, so the ranges of
    a cut of the file count every row exactly once, whatever the cut. Raises OSError.
    """
    first = start if start == 0 else -1
    rows = int(start == 0 and stop > 0)
    at = max(0, start - 1)  # a b"\n" at byte p starts a row at p + 1
    for chunk in plain_chunks(path, at, stop - 1):
        if first < 0:
            newline = chunk.find(b"\n")
            if newline >= 0:
                first = at + newline + 1
        rows += chunk.count(b"\n")
        at += len(chunk)
    return (first if first >= 0 else stop), rows


def read_rows(
    file: CorpusFile, start: int, stop: int, fields: RecordFields, seek_byte: int = 0,
    seek_row: int = 0,
) -> Iterator[Document | FailureRecord]:
    """One item per row in [start, stop); earlier lines are skipped without being parsed.

    With `seek_byte` (an uncompressed file only), reading starts there, at the start of row
    `seek_row` (<= start), instead of at the start of the file.
    """
    try:
        if seek_byte:
            lines = _split_lines(plain_chunks(file.path, seek_byte), start - seek_row,
                                 stop - seek_row, seek_row)
        else:
            lines = numbered_lines(file.path, start, stop)
        for row, line, _ in lines:
            yield parse_line(line, row, file, fields)
    except UnreadableRest as broken:
        if start <= broken.row < stop:
            yield unreadable_failure(
                file, broken.row, f"cannot read the file from row {broken.row} on: {broken.detail}"
            )


def parse_line(
    line: bytes, row: int, file: CorpusFile, fields: RecordFields
) -> Document | FailureRecord:
    """The item for one line (without its newline)."""
    if row == 0 and line.startswith(_BOM):
        line = line[len(_BOM):]
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad = exc.object[exc.start:exc.end].hex(" ")
        return row_failure(
            file, row, NOT_UTF8, f"byte {exc.start} of the line is not UTF-8 ({bad}: {exc.reason})"
        )
    if not text or text.isspace():
        return row_failure(file, row, INVALID_JSON, "empty line")
    try:
        record = json.loads(text)
    except json.JSONDecodeError as exc:
        return row_failure(
            file, row, INVALID_JSON, f"{exc.msg} at character {exc.pos}: {_snippet(text, exc.pos)}"
        )
    except RecursionError:
        return row_failure(file, row, INVALID_JSON, "nested too deeply to parse")
    return fields.to_item(record, file, row)


def numbered_lines(
    path: str, start: int = 0, stop: int | None = None
) -> Iterator[tuple[int, bytes, bool]]:
    """(row, line without b"\\n", whether a b"\\n" ended it) for rows in [start, stop).

    Raises `UnreadableRest` when the stream breaks, after the complete lines before the break.
    """
    with closing(decompressed_chunks(path)) as chunks:
        yield from _split_lines(chunks, start, stop)


def _split_lines(
    chunks: Iterable[bytes], start: int, stop: int | None, first_row: int = 0
) -> Iterator[tuple[int, bytes, bool]]:
    """Rows [start, stop) counted from the first byte of `chunks`; yielded and raised rows
    are numbered from `first_row`."""
    if first_row:
        try:
            for row, line, ended in _split_lines(chunks, start, stop):
                yield row + first_row, line, ended
        except UnreadableRest as broken:
            raise UnreadableRest(broken.row + first_row, broken.detail) from broken
        return
    row = 0  # the row whose bytes are being collected
    pending: list[bytes] = []  # its bytes so far, kept only from `start` on
    chunk_iter = iter(chunks)
    while stop is None or row < stop:
        try:
            chunk = next(chunk_iter)
        except StopIteration:
            break
        except READ_ERRORS as exc:
            raise UnreadableRest(row, _describe(exc)) from exc
        newlines = chunk.count(b"\n")
        if row + newlines < start:
            row += newlines
            continue
        pieces = chunk.split(b"\n")
        for i in range(newlines):
            line_row = row + i
            if stop is not None and line_row >= stop:
                return
            if line_row >= start:
                line = pieces[i]
                if i == 0 and pending:
                    pending.append(line)
                    line = b"".join(pending)
                yield line_row, line, True
        if newlines:
            pending = []
            row += newlines
        if row >= start and pieces[-1]:
            pending.append(pieces[-1])
    if pending and row >= start and (stop is None or row < stop):
        yield row, b"".join(pending), False


def write_filtered(file: CorpusFile, out_path: str, keep: Callable[[int], bool]) -> FilteredFile:
    """Copy the lines whose doc id `keep` accepts, byte for byte, compressed like the input."""
    compression = sniff_compression(file.path)
    kept = read = 0
    unreadable_from: int | None = None
    with replace_when_done(out_path) as tmp_path, compressed_writer(tmp_path, compression) as out:
        try:
            for row, line, ended in numbered_lines(file.path):
                read += 1
                if keep(make_doc_id(file.file_index, row)):
                    kept += 1
                    out.write(line + b"\n" if ended else line)
        except UnreadableRest as broken:
            unreadable_from = broken.row
    return FilteredFile(os.fspath(out_path), read, kept, unreadable_from)


def _snippet(text: str, pos: int) -> str:
    begin = max(0, pos - _SNIPPET_CHARS)
    before = ("..." if begin else "") + text[begin:pos]
    after = text[pos:pos + _SNIPPET_CHARS] + ("..." if pos + _SNIPPET_CHARS < len(text) else "")
    return f"{before!r} >>> {after!r}"


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
