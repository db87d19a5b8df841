"""The failure record: one per document (or QA pair) that could not be read or linked."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import astuple, dataclass

import pyarrow as pa

from longtail.schemas.tables import FAILURES

MAX_DETAIL_CHARS = 2000


@dataclass(frozen=True, slots=True)
class FailureRecord:
    """Why one input item did not make it; `reason` is a short code such as `invalid_json`."""

    doc_id: int | None
    source: str
    row: int | None
    stage: str
    reason: str
    detail: str = ""

    def __post_init__(self) -> None:
        if len(self.detail) > MAX_DETAIL_CHARS:
            object.__setattr__(self, "detail", self.detail[:MAX_DETAIL_CHARS] + " [...]")


def failures_table(records: Iterable[FailureRecord]) -> pa.Table:
    """The records as a table with the declared `failures` schema."""
    rows = [astuple(r) for r in records]
    columns = list(zip(*rows, strict=True)) if rows else [[] for _ in FAILURES.names]
    return pa.table(
        {name: pa.array(col, type=FAILURES.field(name).type) for name, col in
         zip(FAILURES.names, columns, strict=True)},
        schema=FAILURES,
    )
