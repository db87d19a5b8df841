"""Document ids: the input file's index in the high bits, the record's row in the low 40 bits.

A doc id depends only on the sorted list of input files and the record's position in its file,
so the same input gives the same ids on every run and on every machine.
"""

from __future__ import annotations

ROW_BITS = 40
MAX_ROWS_PER_FILE = 1 << ROW_BITS
# 63 bits in all keeps every id a non-negative int64.
MAX_FILES = 1 << (63 - ROW_BITS)


def make_doc_id(file_index: int, row: int) -> int:
    """The id of record `row` (0-based, counting every record) of input file `file_index`."""
    if not 0 <= file_index < MAX_FILES:
        raise ValueError(f"file index {file_index} outside 0..{MAX_FILES - 1}")
    if not 0 <= row < MAX_ROWS_PER_FILE:
        raise ValueError(f"row {row} outside 0..{MAX_ROWS_PER_FILE - 1}")
    return (file_index << ROW_BITS) | row


def split_doc_id(doc_id: int) -> tuple[int, int]:
    """(file_index, row) of a doc id made by `make_doc_id`."""
    if doc_id < 0:
        raise ValueError(f"doc id {doc_id} is negative")
    return doc_id >> ROW_BITS, doc_id & (MAX_ROWS_PER_FILE - 1)
