"""What writing a filtered copy of an input file produced, and the temporary-name protocol."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class FilteredFile:
    """A filtered copy: rows read from the input, rows written.

    `unreadable_from` is the first row that could not be read (the input is truncated or
    corrupt from there on), or None when the whole input was read.
    """

    path: str
    rows_read: int
    rows_kept: int
    unreadable_from: int | None = None


@contextmanager
def replace_when_done(out_path: str | Path) -> Iterator[str]:
    """A temporary path beside `out_path`, renamed to it only if the block completes."""
    out_path = os.fspath(out_path)
    parent = os.path.dirname(out_path)
    if parent:
        os.makedirs(parent, exist_ok=True)
    tmp_path = f"{out_path}.tmp-{os.getpid()}"
    try:
        yield tmp_path
    except BaseException:
        if os.path.exists(tmp_path):
            os.remove(tmp_path)
        raise
    os.replace(tmp_path, out_path)
