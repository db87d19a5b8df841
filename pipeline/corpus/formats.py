"""One entry point per operation, whatever the file's format: count, read a row range, filter."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

from longtail.corpus import arrow, jsonl, parquet, text
from longtail.corpus.filtered import FilteredFile
from longtail.corpus.inputs import CorpusFile
from longtail.corpus.records import Document, RecordFields
from longtail.output.failures import FailureRecord

_READERS: dict[str, ModuleType] = {
    "jsonl": jsonl,
    "parquet": parquet,
    "text": text,
    "arrow": arrow,
}


def _reader(file: CorpusFile) -> ModuleType:
    try:
        return _READERS[file.format]
    except KeyError:
        raise ValueError(f"{file.path}: unknown format {file.format!r}") from None


def count_rows(file: CorpusFile) -> int:
    """Rows in the file without parsing records (newlines, Parquet footer, Arrow batch sizes).

    A file that breaks part way counts the rows before the break plus one: the row of the
    failure that stands for the unreadable rest.
    """
    return _reader(file).count_rows(file)


def read_rows(
    file: CorpusFile,
    start: int = 0,
    stop: int | None = None,
    fields: RecordFields | None = None,
) -> Iterator[Document | FailureRecord]:
    """A `Document` or a read `FailureRecord` for every row in [start, stop), in row order."""
    stop = (1 << 62) if stop is None else stop
    return _reader(file).read_rows(file, start, stop, fields or RecordFields())


def write_filtered(
    file: CorpusFile, out_path: str | Path, keep: Callable[[int], bool]
) -> FilteredFile:
    """Write `file` again, in its own format, without the rows whose doc id `keep` rejects.

    Kept rows keep their order: JSON Lines lines are copied byte for byte and recompressed as
    the input was (gzip, zstd or none); Parquet and Arrow rows are rewritten with the input's
    schema and metadata (Parquet also its codec); a text file is copied or left out whole.
    Every row is offered to `keep`, failed rows too. Rows past a break in the input cannot
    be copied: `unreadable_from` in the result says where that starts. Raises OSError or
    pyarrow.ArrowException when the input cannot be opened at all.
    """
    return _reader(file).write_filtered(file, str(out_path), keep)
