"""From one parsed record to a `Document` or a read failure with a reason code.

Reason codes of the "read" stage:
- `invalid_json`: the line is not JSON (detail: the parser's message and the text around the
  error); a blank line is `invalid_json` with detail "empty line".
- `not_utf8`: the bytes are not UTF-8 (detail: the byte position in the line or file), or a
  JSON string escape gives a lone surrogate that UTF-8 cannot hold (detail: its position).
- `not_an_object`: the line is valid JSON but not an object (an array, a number...).
- `missing_text_field`: the text field is absent. `text_not_string`: it is null, a number...
- `unreadable_file`: the file, or its rest from some row on, cannot be read (corrupt or
  truncated compression, unreadable Parquet page); `doc_id` is null, `row` is the first row
  not read.
A missing or null id field is not a failure: the document's `external_id` is then None.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from longtail.corpus.ids import make_doc_id
from longtail.corpus.inputs import CorpusFile
from longtail.errors import UsageError
from longtail.output.failures import FailureRecord

READ_STAGE = "read"
INVALID_JSON = "invalid_json"
NOT_UTF8 = "not_utf8"
NOT_AN_OBJECT = "not_an_object"
MISSING_TEXT_FIELD = "missing_text_field"
TEXT_NOT_STRING = "text_not_string"
UNREADABLE_FILE = "unreadable_file"

_MISSING = object()


@dataclass(frozen=True, slots=True)
class Document:
    """One input record with its text; `row` is its 0-based position in `source`."""

    doc_id: int
    source: str
    row: int
    text: str
    external_id: str | None = None


class FieldPath:
    """A field named with dots (`meta.url`); a nested object may itself be a JSON string.

    A key that contains the dots literally (`{"meta.url": ...}`) is matched first.
    """

    def __init__(self, name: str) -> None:
        parts = tuple(name.split("."))
        if not name or not all(parts):
            raise UsageError(f"bad field name {name!r}: use a name like text or meta.url")
        self.name = name
        self.parts = parts

    @property
    def column(self) -> str:
        """The top-level column that holds the field."""
        return self.parts[0]

    def lookup(self, record: dict[str, Any]) -> Any:
        """The field's value, or `_MISSING`."""
        if len(self.parts) > 1 and self.name in record:
            return record[self.name]
        value: Any = record
        for part in self.parts:
            if isinstance(value, str | bytes):
                value = json_object_or_none(value)
            if not isinstance(value, dict) or part not in value:
                return _MISSING
            value = value[part]
        return value


class RecordFields:
    """Which fields hold a record's text and its external id, and how to check them."""

    def __init__(self, text_field: str = "text", id_field: str | None = None) -> None:
        self.text = FieldPath(text_field)
        self.id = FieldPath(id_field) if id_field else None

    def columns(self, available: list[str]) -> list[str]:
        """The columns of `available` the fields need (whole names first, then top levels)."""
        wanted = [path for path in (self.text, self.id) if path is not None]
        names = {path.name for path in wanted} | {path.column for path in wanted}
        return [name for name in available if name in names]

    def columns_hold_text(self, available: list[str]) -> bool:
        """Whether one of `available` can hold the text field."""
        return self.text.name in available or self.text.column in available

    def to_item(self, record: Any, file: CorpusFile, row: int) -> Document | FailureRecord:
        """A `Document` when the record has a text string, else a read failure."""
        if not isinstance(record, dict):
            return row_failure(
                file, row, NOT_AN_OBJECT, f"the record is {json_kind(record)}, not an object"
            )
        text = self.text.lookup(record)
        if text is _MISSING:
            fields = ", ".join(sorted(map(str, record))[:20])
            return row_failure(
                file, row, MISSING_TEXT_FIELD,
                f"no field {self.text.name!r}; fields: {fields or '(none)'}",
            )
        if isinstance(text, bytes):
            try:
                text = text.decode("utf-8")
            except UnicodeDecodeError as exc:
                return row_failure(
                    file, row, NOT_UTF8, f"byte {exc.start} of the text: {exc.reason}"
                )
        if not isinstance(text, str):
            return row_failure(
                file, row, TEXT_NOT_STRING, f"field {self.text.name!r} is {json_kind(text)}"
            )
        surrogate = lone_surrogate_position(text)
        if surrogate is not None:
            return row_failure(
                file, row, NOT_UTF8,
                f"the text has a lone surrogate (\\u{ord(text[surrogate]):04x}) at character "
                f"{surrogate}, which UTF-8 cannot hold",
            )
        return Document(
            make_doc_id(file.file_index, row), file.path, row, text, self._external_id(record)
        )

    def _external_id(self, record: dict[str, Any]) -> str | None:
        if self.id is None:
            return None
        value = self.id.lookup(record)
        if value is _MISSING or value is None:
            return None
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        if not isinstance(value, str):
            value = json.dumps(value, ensure_ascii=False, default=str)
        if lone_surrogate_position(value) is not None:
            value = value.encode("utf-8", "backslashreplace").decode("utf-8")
        return value


def batch_items(
    batch: pa.RecordBatch,
    first_row: int,
    file: CorpusFile,
    fields: RecordFields,
    file_columns: list[str],
) -> Iterator[Document | FailureRecord]:
    """One item per row of a batch read from a columnar file with `file_columns`.

    Row i of the batch is row `first_row + i` of the file; the batch needs only the columns
    `fields.columns(file_columns)`.
    """
    if not fields.columns_hold_text(file_columns):
        shown = ", ".join(file_columns[:20]) or "(none)"
        detail = f"no column {fields.text.name!r}; columns: {shown}"
        for i in range(batch.num_rows):
            yield row_failure(file, first_row + i, MISSING_TEXT_FIELD, detail)
        return
    columns = {name: batch.column(name).to_pylist() for name in fields.columns(file_columns)}
    for i in range(batch.num_rows):
        record = {name: values[i] for name, values in columns.items()}
        yield fields.to_item(record, file, first_row + i)


def row_failure(file: CorpusFile, row: int, reason: str, detail: str) -> FailureRecord:
    """A read failure of one identified row."""
    return FailureRecord(
        make_doc_id(file.file_index, row), file.path, row, READ_STAGE, reason, detail
    )


def unreadable_failure(file: CorpusFile, row: int, detail: str) -> FailureRecord:
    """The failure standing for the unreadable rest of a file, from `row` on."""
    return FailureRecord(None, file.path, row, READ_STAGE, UNREADABLE_FILE, detail)


def json_kind(value: Any) -> str:
    """How a value reads in a message: "null", "an array", "a number"..."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list | tuple):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return f"a {type(value).__name__}"


def lone_surrogate_position(text: str) -> int | None:
    """Where `text` holds a code point UTF-8 cannot encode, if anywhere."""
    if text.isascii():
        return None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return exc.start
    return None


def json_object_or_none(value: str | bytes) -> dict[str, Any] | None:
    stripped = value.lstrip()
    if not stripped.startswith("{" if isinstance(stripped, str) else b"{"):
        return None
    try:
        parsed = json.loads(value)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None
