"""Deterministic shards: the corpus's rows cut into pieces of about a target size.

A document's id never depends on the plan: `doc_id = (file_index << 40) | row`, with `row` the
record's 0-based number in its file. A plan only decides which rows a task reads.

The plan by bytes (`plan_shards(..., target_bytes=N)`):
1. The files, in index order, are laid end to end by size, and the line is cut every `step`
   bytes: `target_bytes`, lowered so that the corpus gives a multiple of `parallelism` shards
   (so a corpus of a few MB keeps every core busy), but not in many more shards than
   pieces of `MIN_SHARD_BYTES`.
2. A JSON Lines file is cut where the line is: each byte range owns the rows that start in
   it, which a counting pass finds (`count_rows_in`, run through the executor, a batch of
   ranges per task); the first row of a range is the sum of the rows of the ranges before it.
   A compressed (.gz, .zst) file cannot be split: its row k is found only by decompressing
   everything before it, so it is one piece, counted whole. A Parquet file is cut between row
   groups and an Arrow file between record batches, both by their rows' share of the file's
   size; a text file is one row.
3. Every piece goes to the shard whose cut holds its middle, so many small files pack into one
   shard; contiguous pieces of one file merge. `rows_per_shard`, when given, caps a shard.
The same files, sizes and options give the same plan; a plan is kept as JSON
(`Shard.to_json`), so a resumed run can read exactly the shards it started with.

Without `target_bytes` the plan is the one by rows: each file alone, cut every
`rows_per_shard` rows (one shard per file when that is None).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from longtail.corpus import arrow, jsonl, parquet
from longtail.corpus.compression import sniff_compression
from longtail.corpus.formats import count_rows, read_rows
from longtail.corpus.inputs import CorpusFile
from longtail.corpus.records import Document, RecordFields
from longtail.errors import UsageError
from longtail.output.failures import FailureRecord
from longtail.output.storage import Storage

MIN_SHARD_BYTES = 1 << 20
COUNT_BATCHES_PER_CORE = 4  # counting tasks per core: a few, so a slow one does not hold all
_UNITS = {"": 1, "B": 1, "K": 1000, "KB": 1000, "KIB": 1 << 10, "M": 1000**2, "MB": 1000**2,
          "MIB": 1 << 20, "G": 1000**3, "GB": 1000**3, "GIB": 1 << 30}

Executor = Callable[[Callable[[Any], Any], list[Any]], list[Any]]


@dataclass(frozen=True, slots=True)
class Piece:
    """Rows [start_row, stop_row) of one file.

    For an uncompressed JSON Lines file, row `seek_row` (<= start_row) starts at byte
    `seek_byte`: reading starts there instead of at the start of the file.
    """

    file: CorpusFile
    start_row: int
    stop_row: int
    seek_byte: int = 0
    seek_row: int = 0

    @property
    def n_rows(self) -> int:
        return self.stop_row - self.start_row

    def to_json(self) -> dict:
        return {"path": self.file.path, "file_index": self.file.file_index,
                "format": self.file.format, "start_row": self.start_row,
                "stop_row": self.stop_row, "seek_byte": self.seek_byte,
                "seek_row": self.seek_row}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Piece:
        file = CorpusFile(data["path"], int(data["file_index"]), data["format"])
        return cls(file, int(data["start_row"]), int(data["stop_row"]),
                   int(data.get("seek_byte", 0)), int(data.get("seek_row", 0)))


@dataclass(frozen=True, slots=True)
class Shard:
    """The rows of one task: pieces in reading order; `shard_id` is safe as a file name."""

    shard_id: str
    pieces: tuple[Piece, ...]

    @property
    def n_rows(self) -> int:
        return sum(p.n_rows for p in self.pieces)

    def to_json(self) -> dict:
        """Plain JSON data; `Shard.from_json` gives the same shard back."""
        return {"shard_id": self.shard_id, "pieces": [p.to_json() for p in self.pieces]}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Shard:
        return cls(data["shard_id"], tuple(Piece.from_json(p) for p in data["pieces"]))


@dataclass(frozen=True, slots=True)
class Span:
    """Bytes [start, stop) of a file of `size` bytes, as the planner asks about them."""

    file: CorpusFile
    start: int
    stop: int
    size: int


@dataclass(frozen=True, slots=True)
class Unit:
    """What the counting pass found in a span: `rows` rows, the first at `seek_byte` (0 when
    reading must start at the file's start), standing for bytes [offset, offset + length)
    of the file when pieces are placed in shards."""

    seek_byte: int
    rows: int
    offset: float
    length: float


def shard_id(file: CorpusFile, start_row: int) -> str:
    """`f{file_index:05d}-r{start_row:012d}` of a shard's first row: sorts in reading order."""
    return f"f{file.file_index:05d}-r{start_row:012d}"


def parse_byte_size(text: str) -> int:
    """`64MB`, `64MiB`, `1.5G`, `1000000`... as bytes (at least 1)."""
    number = text.strip().upper().replace(" ", "")
    unit = number.lstrip("0123456789.")
    digits = number[: len(number) - len(unit)]
    try:
        value = int(float(digits) * _UNITS[unit])
    except (KeyError, ValueError):
        raise UsageError(f"bad size {text!r}: use a number of bytes or e.g. 64MB, 1GiB") \
            from None
    if value < 1:
        raise UsageError(f"a size must be at least 1 byte, not {text!r}")
    return value


def shard_step(total_bytes: int, target_bytes: int, parallelism: int) -> int:
    """Bytes between cuts: at most `target_bytes`, for a multiple of `parallelism` shards
    (fewer when they would be much smaller than `MIN_SHARD_BYTES`)."""
    if target_bytes < 1:
        raise UsageError(f"the shard size must be at least 1 byte, not {target_bytes}")
    parallelism = max(1, parallelism)
    if total_bytes <= 0:
        return target_bytes
    shards = parallelism * -(-total_bytes // (parallelism * target_bytes))
    shards = min(shards, -(-total_bytes // min(target_bytes, MIN_SHARD_BYTES)))
    return -(-total_bytes // shards)


def file_size(path: str) -> int:
    storage, name = Storage.for_file(path)
    stat = storage.stat(name)
    return stat.size if stat is not None else 0


def count_span(span: Span) -> list[Unit] | None:
    """The units of one span; None when the bytes of a JSON Lines range cannot be read (the
    planner then counts that file whole)."""
    file, size = span.file, span.size
    if file.format == "jsonl":
        try:
            compressed = sniff_compression(file.path) is not None
            if compressed:
                return [Unit(0, count_rows(file), 0, size)] if span.start == 0 else []
            first, rows = jsonl.count_rows_in_range(file.path, span.start, span.stop)
        except OSError:
            return None
        return [Unit(first, rows, first, span.stop - first)] if rows else []
    if file.format == "parquet":
        return _proportional(parquet.row_groups(file), size)
    if file.format == "arrow":
        counts = arrow.batch_row_counts(file)
        return _proportional([(n, n) for n in counts], size)
    return [Unit(0, count_rows(file), 0, size)]


def count_rows_in(spans: list[Span]) -> list[list[Unit] | None]:
    """`count_span` of each span: the work of one counting task."""
    return [count_span(span) for span in spans]


def _proportional(parts: list[tuple[int, int]], size: int) -> list[Unit]:
    """Units of (rows, weight) parts laid over the file's size by their weights."""
    total = sum(weight for _, weight in parts) or 1
    units, at = [], 0
    for rows, weight in parts:
        length = size * weight / total if total else 0
        if rows:
            units.append(Unit(0, rows, at, length))
        at += length
    return units


def _serial(function: Callable[[Any], Any], items: list[Any]) -> list[Any]:
    return [function(item) for item in items]


def plan_shards(
    files: Iterable[CorpusFile],
    rows_per_shard: int | None = None,
    row_counts: Mapping[str, int] | None = None,
    *,
    target_bytes: int | None = None,
    parallelism: int = 1,
    executor: Executor | None = None,
    sizes: Mapping[str, int] | None = None,
) -> list[Shard]:
    """Shards covering every row of every file exactly once, in file then row order.

    With `target_bytes`: the plan by bytes of the module's description, counted through
    `executor(count_rows_in, batches_of_spans)` (in this process when None); `sizes` (by path)
    saves a stat of each file. Without: the plan by rows, with row counts from `row_counts`
    (by path) or a pass over each file. `rows_per_shard` caps the rows of a shard in both.
    """
    if rows_per_shard is not None and rows_per_shard < 1:
        raise UsageError(f"rows per shard must be at least 1, not {rows_per_shard}")
    ordered = sorted(files, key=lambda f: f.file_index)
    if target_bytes is None:
        groups = []
        for file in ordered:
            n_rows = row_counts[file.path] if row_counts is not None else count_rows(file)
            if n_rows:
                groups.append([Piece(file, 0, n_rows)])
    else:
        groups = _byte_groups(ordered, target_bytes, parallelism, executor or _serial, sizes)
    return [Shard(shard_id(part[0].file, part[0].start_row), tuple(part))
            for group in groups for part in _capped(group, rows_per_shard)]


def _byte_groups(files: list[CorpusFile], target_bytes: int, parallelism: int,
                 executor: Executor, sizes: Mapping[str, int] | None) -> list[list[Piece]]:
    size_of = {f.path: (sizes[f.path] if sizes is not None else file_size(f.path))
               for f in files}
    step = shard_step(sum(size_of.values()), target_bytes, parallelism)
    spans: list[Span] = []
    file_offset: dict[str, int] = {}
    offset = 0
    for file in files:
        size = size_of[file.path]
        file_offset[file.path] = offset
        if file.format == "jsonl":
            cuts = range((offset // step + 1) * step - offset, size, step)
            bounds = [0, *cuts, size] if size else []
            spans.extend(Span(file, lo, hi, size) for lo, hi in pairwise(bounds))
        else:
            spans.append(Span(file, 0, size, size))
        offset += size
    batches = _batches(spans, max(1, parallelism) * COUNT_BATCHES_PER_CORE)
    counted = [units for batch in executor(count_rows_in, batches) for units in batch]
    by_file: dict[str, list[Unit]] = {}
    broken: set[str] = set()
    for span, units in zip(spans, counted, strict=True):
        if units is None:
            broken.add(span.file.path)
        else:
            by_file.setdefault(span.file.path, []).extend(units)
    placed: list[tuple[int, Piece]] = []
    for file in files:
        units = by_file.get(file.path, [])
        if file.path in broken:
            units = [Unit(0, count_rows(file), 0, size_of[file.path])]
        row = 0
        for unit in units:
            if not unit.rows:
                continue
            middle = file_offset[file.path] + unit.offset + unit.length / 2
            piece = Piece(file, row, row + unit.rows, unit.seek_byte, row if unit.seek_byte
                          else 0)
            placed.append((int(middle // step), piece))
            row += unit.rows
    groups: list[list[Piece]] = []
    last = None
    for index, piece in placed:
        if index != last or not groups:
            groups.append([])
            last = index
        _append_merged(groups[-1], piece)
    return groups


def _append_merged(group: list[Piece], piece: Piece) -> None:
    prev = group[-1] if group else None
    if prev is not None and prev.file == piece.file and prev.stop_row == piece.start_row:
        group[-1] = Piece(prev.file, prev.start_row, piece.stop_row, prev.seek_byte,
                          prev.seek_row)
    else:
        group.append(piece)


def _capped(group: list[Piece], rows_per_shard: int | None) -> Iterator[list[Piece]]:
    """The group, cut into parts of at most `rows_per_shard` rows (whole when None)."""
    if rows_per_shard is None:
        yield group
        return
    part: list[Piece] = []
    room = rows_per_shard
    for piece in group:
        start = piece.start_row
        while start < piece.stop_row:
            take = min(room, piece.stop_row - start)
            part.append(Piece(piece.file, start, start + take, piece.seek_byte,
                              piece.seek_row))
            start += take
            room -= take
            if room == 0:
                yield part
                part, room = [], rows_per_shard
    if part:
        yield part


def _batches(items: list[Span], n: int) -> list[list[Span]]:
    """`items` in at most `n` contiguous batches of nearly equal length."""
    n = max(1, min(n, len(items)))
    bounds = [len(items) * i // n for i in range(n + 1)]
    return [items[lo:hi] for lo, hi in pairwise(bounds) if hi > lo]


def rows_per_file(shards: Iterable[Shard]) -> dict[str, int]:
    """Rows of each file the shards read (files without rows are absent)."""
    rows: dict[str, int] = {}
    for shard in shards:
        for piece in shard.pieces:
            rows[piece.file.path] = rows.get(piece.file.path, 0) + piece.n_rows
    return rows


def read_piece(piece: Piece, fields: RecordFields) -> Iterator[Document | FailureRecord]:
    """A `Document` or a read `FailureRecord` for every row of the piece, in row order."""
    if piece.seek_byte:
        return jsonl.read_rows(piece.file, piece.start_row, piece.stop_row, fields,
                               piece.seek_byte, piece.seek_row)
    return read_rows(piece.file, piece.start_row, piece.stop_row, fields)


def read_shard(
    shard: Shard, text_field: str = "text", id_field: str | None = None
) -> Iterator[Document | FailureRecord]:
    """A `Document` or a read `FailureRecord` for every row of the shard, in row order."""
    fields = RecordFields(text_field, id_field)
    for piece in shard.pieces:
        yield from read_piece(piece, fields)
