"""Deterministic shards: contiguous row ranges of one input file.

The plan depends only on the sorted input files, their row counts and `rows_per_shard`, so the
same input gives the same shards (and shard ids, and doc ids) on every run; a finished shard can
be recognised by its id and skipped on a re-run.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from longtail.corpus.formats import count_rows, read_rows
from longtail.corpus.inputs import CorpusFile
from longtail.corpus.records import Document, RecordFields
from longtail.errors import UsageError
from longtail.output.failures import FailureRecord


@dataclass(frozen=True, slots=True)
class Shard:
    """Rows [start_row, stop_row) of one file; `shard_id` is safe as a file name."""

    shard_id: str
    file: CorpusFile
    start_row: int
    stop_row: int

    @property
    def n_rows(self) -> int:
        return self.stop_row - self.start_row


def shard_id(file: CorpusFile, start_row: int) -> str:
    """`f{file_index:05d}-r{start_row:012d}`: sorts in reading order, the same every run."""
    return f"f{file.file_index:05d}-r{start_row:012d}"


def file_shards(file: CorpusFile, n_rows: int, rows_per_shard: int) -> list[Shard]:
    """The shards of one file of `n_rows` rows; none for an empty file."""
    _check_rows_per_shard(rows_per_shard)
    return [
        Shard(shard_id(file, start), file, start, min(start + rows_per_shard, n_rows))
        for start in range(0, n_rows, rows_per_shard)
    ]


def plan_shards(
    files: Iterable[CorpusFile],
    rows_per_shard: int,
    row_counts: Mapping[str, int] | None = None,
) -> list[Shard]:
    """Shards covering every row of every file exactly once, in file then row order.

    Row counts come from `row_counts` (by path) when given, e.g. counted in parallel, and
    otherwise from a fast pass over each file (`count_rows`).
    """
    _check_rows_per_shard(rows_per_shard)
    shards: list[Shard] = []
    for file in sorted(files, key=lambda f: f.file_index):
        n_rows = row_counts[file.path] if row_counts is not None else count_rows(file)
        shards.extend(file_shards(file, n_rows, rows_per_shard))
    return shards


def read_shard(
    shard: Shard, text_field: str = "text", id_field: str | None = None
) -> Iterator[Document | FailureRecord]:
    """A `Document` or a read `FailureRecord` for every row of the shard, in row order."""
    fields = RecordFields(text_field, id_field)
    return read_rows(shard.file, shard.start_row, shard.stop_row, fields)


def _check_rows_per_shard(rows_per_shard: int) -> None:
    if rows_per_shard < 1:
        raise UsageError(f"rows per shard must be at least 1, not {rows_per_shard}")
