"""Arrow IPC files: the `data-*.arrow` files of a Hugging Face `save_to_disk` folder.

Those are in the IPC *stream* format (no footer), so counting rows walks the record batches of
the memory-mapped file, which decodes no data. The IPC *file* format (with footer, `ARROW1`
magic) is read too. A stream that breaks gives one `unreadable_file` failure for its rest.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pyarrow as pa

from longtail.corpus.filtered import FilteredFile, replace_when_done
from longtail.corpus.ids import make_doc_id
from longtail.corpus.inputs import CorpusFile
from longtail.corpus.records import Document, RecordFields, batch_items, unreadable_failure
from longtail.output.failures import FailureRecord
from longtail.output.storage import is_remote, open_source

READ_ERRORS = (pa.ArrowException, OSError)
_FILE_MAGIC = b"ARROW1"


class _BrokenStream(Exception):
    def __init__(self, row: int, detail: str) -> None:
        super().__init__(detail)
        self.row = row
        self.detail = detail


def count_rows(file: CorpusFile) -> int:
    """Rows in the file; when it breaks, the rows before plus one for the unreadable rest."""
    rows = 0
    try:
        for _, batch in _batches(file.path):
            rows += batch.num_rows
    except _BrokenStream as broken:
        return broken.row + 1
    return rows


def batch_row_counts(file: CorpusFile) -> list[int]:
    """Rows of each record batch; when the file breaks, the batches before and then 1 for the
    unreadable rest (so the sum is `count_rows`)."""
    counts: list[int] = []
    try:
        for _, batch in _batches(file.path):
            counts.append(batch.num_rows)
    except _BrokenStream:
        counts.append(1)
    return counts


def read_rows(
    file: CorpusFile, start: int, stop: int, fields: RecordFields
) -> Iterator[Document | FailureRecord]:
    """One item per row in [start, stop); earlier batches are skipped undecoded."""
    try:
        schema, batches = _open(file.path)
    except READ_ERRORS as exc:
        if start <= 0 < stop:
            yield unreadable_failure(file, 0, f"cannot open the Arrow file: {exc}")
        return
    file_columns = schema.names
    columns = fields.columns(file_columns)
    try:
        for batch_start, batch in batches:
            batch_stop = batch_start + batch.num_rows
            lo, hi = max(start, batch_start), min(stop, batch_stop)
            if lo < hi:
                part = batch.select(columns).slice(lo - batch_start, hi - lo)
                yield from batch_items(part, lo, file, fields, file_columns)
            if batch_stop >= stop:
                break
    except _BrokenStream as broken:
        if start <= broken.row < stop:
            yield unreadable_failure(
                file, broken.row, f"cannot read the file from row {broken.row} on: {broken.detail}"
            )


def write_filtered(file: CorpusFile, out_path: str, keep: Callable[[int], bool]) -> FilteredFile:
    """Rewrite the rows whose doc id `keep` accepts, same schema (with its metadata) and format."""
    schema, batches = _open(file.path)
    with open(file.path, "rb") as fh:
        file_format = fh.read(len(_FILE_MAGIC)) == _FILE_MAGIC
    new_writer = pa.ipc.new_file if file_format else pa.ipc.new_stream
    read = kept = 0
    unreadable_from: int | None = None
    with replace_when_done(out_path) as tmp_path, new_writer(tmp_path, schema) as writer:
        try:
            for batch_start, batch in batches:
                mask = [keep(make_doc_id(file.file_index, batch_start + i))
                        for i in range(batch.num_rows)]
                filtered = batch.filter(pa.array(mask, type=pa.bool_()))
                read += batch.num_rows
                kept += filtered.num_rows
                if filtered.num_rows:
                    writer.write_batch(filtered)
        except _BrokenStream as broken:
            unreadable_from = broken.row
    return FilteredFile(os.fspath(out_path), read, kept, unreadable_from)


def _open(path: str) -> tuple[pa.Schema, Iterator[tuple[int, pa.RecordBatch]]]:
    """The schema and an iterator of (first row, batch); the iterator raises `_BrokenStream`."""
    source = open_source(path) if is_remote(path) else pa.memory_map(path, "r")
    if source.read(len(_FILE_MAGIC)) == _FILE_MAGIC:
        source.seek(0)
        file_reader = pa.ipc.open_file(source)
        batches = (file_reader.get_batch(i) for i in range(file_reader.num_record_batches))
        return file_reader.schema, _numbered(batches)
    source.seek(0)
    stream_reader = pa.ipc.open_stream(source)
    return stream_reader.schema, _numbered(iter(stream_reader))


def _numbered(batches: Iterator[pa.RecordBatch]) -> Iterator[tuple[int, pa.RecordBatch]]:
    rows = 0
    while True:
        try:
            batch = next(batches)
        except StopIteration:
            return
        except READ_ERRORS as exc:
            raise _BrokenStream(rows, f"{type(exc).__name__}: {exc}") from exc
        yield rows, batch
        rows += batch.num_rows


def _batches(path: str) -> Iterator[tuple[int, pa.RecordBatch]]:
    try:
        _, batches = _open(path)
    except READ_ERRORS as exc:
        raise _BrokenStream(0, f"{type(exc).__name__}: {exc}") from exc
    return batches
