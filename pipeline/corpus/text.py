"""Plain-text files: each file is one document, row 0, its whole content as the text.

A UTF-8 byte order mark at the start is dropped; everything else, trailing newline included,
is the text. The text and id fields do not apply (`external_id` is None).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator

from longtail.corpus.filtered import FilteredFile, replace_when_done
from longtail.corpus.ids import make_doc_id
from longtail.corpus.inputs import CorpusFile
from longtail.corpus.records import (
    NOT_UTF8,
    Document,
    RecordFields,
    row_failure,
    unreadable_failure,
)
from longtail.output.failures import FailureRecord
from longtail.output.storage import open_source

_BOM = b"\xef\xbb\xbf"


def count_rows(file: CorpusFile) -> int:
    """Always 1: the file is one document."""
    return 1


def read_rows(
    file: CorpusFile, start: int, stop: int, fields: RecordFields
) -> Iterator[Document | FailureRecord]:
    """The file's one item, if row 0 is in [start, stop)."""
    if not start <= 0 < stop:
        return
    try:
        with open_source(file.path) as fh:
            data = fh.read()
    except OSError as exc:
        yield unreadable_failure(file, 0, f"cannot read the file: {exc}")
        return
    if data.startswith(_BOM):
        data = data[len(_BOM):]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad = exc.object[exc.start:exc.end].hex(" ")
        yield row_failure(
            file, 0, NOT_UTF8, f"byte {exc.start} of the file is not UTF-8 ({bad}: {exc.reason})"
        )
        return
    yield Document(make_doc_id(file.file_index, 0), file.path, 0, text, None)


def write_filtered(file: CorpusFile, out_path: str, keep: Callable[[int], bool]) -> FilteredFile:
    """Copy the file if `keep` accepts its doc id; otherwise make sure `out_path` is absent."""
    out_path = os.fspath(out_path)
    if not keep(make_doc_id(file.file_index, 0)):
        if os.path.lexists(out_path):
            os.remove(out_path)
        return FilteredFile(out_path, 1, 0)
    with replace_when_done(out_path) as tmp_path:
        shutil.copyfile(file.path, tmp_path)
    return FilteredFile(out_path, 1, 1)
