"""Parquet files, read one row group at a time and only the columns the fields need.

Row counts come from the footer. A row group that cannot be decoded gives one
`unreadable_file` failure for its rows in the shard, and reading goes on with the next one.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pyarrow as pa
import pyarrow.parquet as pq

from longtail.corpus.filtered import FilteredFile, replace_when_done
from longtail.corpus.ids import make_doc_id
from longtail.corpus.inputs import CorpusFile
from longtail.corpus.records import Document, RecordFields, batch_items, unreadable_failure
from longtail.output.failures import FailureRecord
from longtail.output.storage import open_source

BATCH_ROWS = 1024
READ_ERRORS = (pa.ArrowException, OSError)


def count_rows(file: CorpusFile) -> int:
    """Rows in the file from its footer; 1 (the slot of its failure) if the footer is unreadable."""
    try:
        with open_source(file.path) as handle:
            return pq.ParquetFile(handle).metadata.num_rows
    except READ_ERRORS:
        return 1


def row_groups(file: CorpusFile) -> list[tuple[int, int]]:
    """(rows, uncompressed bytes) of each row group, from the footer; [(1, 0)] (the slot of
    its failure) if the footer is unreadable."""
    try:
        with open_source(file.path) as handle:
            metadata = pq.ParquetFile(handle).metadata
    except READ_ERRORS:
        return [(1, 0)]
    groups = (metadata.row_group(g) for g in range(metadata.num_row_groups))
    return [(group.num_rows, group.total_byte_size) for group in groups]


def read_rows(
    file: CorpusFile, start: int, stop: int, fields: RecordFields
) -> Iterator[Document | FailureRecord]:
    """One item per row in [start, stop), reading only the row groups that overlap it."""
    try:
        parquet = pq.ParquetFile(open_source(file.path))
    except READ_ERRORS as exc:
        if start <= 0 < stop:
            yield unreadable_failure(file, 0, f"cannot open the Parquet file: {exc}")
        return
    file_columns = parquet.schema_arrow.names
    columns = fields.columns(file_columns)
    group_start = 0
    for group in range(parquet.num_row_groups):
        group_stop = group_start + parquet.metadata.row_group(group).num_rows
        if group_start >= stop:
            break
        if group_stop > start:
            offset = group_start
            try:
                batches = parquet.iter_batches(BATCH_ROWS, row_groups=[group], columns=columns)
                for batch in batches:
                    batch_start, offset = offset, offset + batch.num_rows
                    lo, hi = max(start, batch_start), min(stop, offset)
                    if lo < hi:
                        part = batch.slice(lo - batch_start, hi - lo)
                        yield from batch_items(part, lo, file, fields, file_columns)
                    if offset >= stop:
                        break
            except READ_ERRORS as exc:
                first, last = max(offset, start), min(group_stop, stop) - 1
                yield unreadable_failure(
                    file, first, f"cannot read rows {first} to {last} (row group {group}): {exc}"
                )
        group_start = group_stop


def write_filtered(file: CorpusFile, out_path: str, keep: Callable[[int], bool]) -> FilteredFile:
    """Rewrite the rows whose doc id `keep` accepts, with the same schema and compression."""
    parquet = pq.ParquetFile(open_source(file.path))
    metadata = parquet.metadata
    codec = metadata.row_group(0).column(0).compression if metadata.num_row_groups else "snappy"
    codec = "none" if codec.upper() == "UNCOMPRESSED" else codec.lower()
    read = kept = group_start = 0
    unreadable_from: int | None = None
    with replace_when_done(out_path) as tmp_path, pq.ParquetWriter(
        tmp_path, parquet.schema_arrow, compression=codec
    ) as writer:
        for group in range(metadata.num_row_groups):
            n_rows = metadata.row_group(group).num_rows
            try:
                table = parquet.read_row_group(group)
            except READ_ERRORS:
                if unreadable_from is None:
                    unreadable_from = group_start
            else:
                mask = [keep(make_doc_id(file.file_index, group_start + i)) for i in range(n_rows)]
                filtered = table.filter(pa.array(mask, type=pa.bool_()))
                read += n_rows
                kept += filtered.num_rows
                if filtered.num_rows:
                    writer.write_table(filtered)
            group_start += n_rows
    return FilteredFile(os.fspath(out_path), read, kept, unreadable_from)
