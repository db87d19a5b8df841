"""A look at the first records of every corpus file before any work starts.

Reading a whole corpus to check it would cost as much as linking it, so each file gives its
first `sample_rows` records (plain-text files, one document each, are judged together, the
first `sample_rows` of them). A file that cannot be opened, or whose sampled records fail
more often than `max_failed_share`, stops the command with one line naming the file and the
likely cause: the text field it lacks and the fields its records have, or the format its
bytes are in when that is not the one its name says. Empty files are listed, not refused,
unless every file is empty.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice

import pyarrow as pa
import pyarrow.parquet as pq

from longtail.corpus.compression import READ_ERRORS
from longtail.corpus.formats import read_rows
from longtail.corpus.inputs import CorpusFile
from longtail.corpus.jsonl import UnreadableRest, numbered_lines
from longtail.corpus.records import (
    MISSING_TEXT_FIELD,
    TEXT_NOT_STRING,
    UNREADABLE_FILE,
    RecordFields,
    json_object_or_none,
)
from longtail.errors import UsageError
from longtail.output.failures import FailureRecord
from longtail.output.storage import open_source

DEFAULT_SAMPLE_ROWS = 100
DEFAULT_MAX_FAILED_SHARE = 0.5
_FORMAT_NAMES = {"jsonl": "JSON Lines", "parquet": "Parquet", "arrow": "Arrow",
                 "text": "plain text"}
_COMPRESSED = {b"\x1f\x8b": "jsonl", b"\x28\xb5\x2f\xfd": "jsonl", b"BZh": "bzip2",
               b"\xfd7zXZ\x00": "xz"}
_SHOWN_FIELDS = 12


@dataclass
class CorpusPreflight:
    """What the sample saw: records read and failures by reason, over all files checked."""

    files_checked: int = 0
    rows_sampled: int = 0
    failure_reasons: Counter = field(default_factory=Counter)
    empty_files: list[str] = field(default_factory=list)


def check_max_failed_share(value: float) -> float:
    """`--max-failed-share` as given, if it is a share (0 refuses any failure, 1 none)."""
    if not 0.0 <= value <= 1.0:
        raise UsageError(f"--max-failed-share must be between 0 and 1, not {value}")
    return value


def check_corpus(
    files: Sequence[CorpusFile],
    text_field: str = "text",
    id_field: str | None = None,
    sample_rows: int = DEFAULT_SAMPLE_ROWS,
    max_failed_share: float = DEFAULT_MAX_FAILED_SHARE,
) -> CorpusPreflight:
    """Sample every file of `files` (as `resolve_inputs` lists them); raise `UsageError` with
    one line at the first file that cannot be read or whose sample fails too often."""
    check_max_failed_share(max_failed_share)
    if sample_rows < 1:
        raise UsageError(f"the sample must hold at least 1 row, not {sample_rows}")
    fields = RecordFields(text_field, id_field)
    result = CorpusPreflight()
    text_files = [f for f in files if f.format == "text"]
    groups = [[f] for f in files if f.format != "text"]
    if text_files:
        groups.append(text_files[:sample_rows])
    for group in groups:
        failures: list[FailureRecord] = []
        rows = 0
        for file in group:
            file_rows = 0
            for item in read_rows(file, 0, sample_rows, fields):
                file_rows += 1
                if isinstance(item, FailureRecord):
                    if item.reason == UNREADABLE_FILE and item.row == 0:
                        raise UsageError(_unreadable(file, item.detail))
                    failures.append(item)
            if file_rows == 0:
                result.empty_files.append(file.path)
            rows += file_rows
        result.files_checked += len(group)
        result.rows_sampled += rows
        result.failure_reasons.update(f.reason for f in failures)
        if failures and len(failures) > max_failed_share * rows:
            raise UsageError(_too_many_failures(group, failures, rows, fields, sample_rows))
    if files and len(result.empty_files) == len(files):
        if len(files) == 1:
            raise UsageError(f"the corpus holds no record: {files[0].path} is empty")
        shown = ", ".join(result.empty_files[:3]) + (", ..." if len(files) > 3 else "")
        raise UsageError(f"the corpus holds no record: all {len(files):,} files are empty "
                         f"({shown})")
    return result


def _unreadable(file: CorpusFile, detail: str) -> str:
    line = f"cannot read {file.path} as {_FORMAT_NAMES[file.format]}: {detail.rstrip('.')}"
    return line + _format_hint(file)


def _too_many_failures(group: list[CorpusFile], failures: list[FailureRecord], rows: int,
                       fields: RecordFields, sample_rows: int) -> str:
    reason, n = Counter(f.reason for f in failures).most_common(1)[0]
    first = next(f for f in failures if f.reason == reason)
    file = next(f for f in group if f.path == first.source)
    where = (f"the first {rows:,} records of {file.path}" if len(group) == 1
             else f"{rows:,} plain-text files ({file.path}, ...)")
    name = fields.text.name
    if reason == MISSING_TEXT_FIELD:
        seen = _seen_fields(file, sample_rows)
        line = (f"no record of {file.path} has the field {name!r}" if n == rows
                else f"{n:,} of {where} have no field {name!r}")
        if seen:
            line += f"; its records have: {', '.join(seen[:_SHOWN_FIELDS])}"
            suggestion = _text_candidate(file, sample_rows)
            if suggestion is not None:
                line += f"; pass --text-field {suggestion}"
        return line
    if reason == TEXT_NOT_STRING:
        return (f"the field {name!r} is not a string in {n:,} of {where} ({first.detail}); "
                "pass the --text-field that holds the text")
    line = f"{len(failures):,} of {where} fail ({n:,} {reason}: {first.detail})"
    hint = _format_hint(file)
    return line + (hint or "; fix the file, or pass --max-failed-share 1 to read it anyway")


def _format_hint(file: CorpusFile) -> str:
    kind = content_format(file.path)
    if kind is None or kind == file.format:
        return ""
    if kind in ("bzip2", "xz"):
        if file.format == "jsonl":  # the reader's own message says so
            return ""
        return f"; it is compressed with {kind}, which longtail does not read: use gzip or zstd"
    return (f"; its bytes look like {_FORMAT_NAMES[kind]}, not {_FORMAT_NAMES[file.format]}: "
            f"rename it or pass --corpus-format {kind}")


def content_format(path: str) -> str | None:
    """The format a file's first bytes say ("jsonl", "parquet", "arrow", "text", or "bzip2"
    / "xz" for compressions longtail does not read); None when unreadable or unknown."""
    try:
        with open_source(path) as fh:
            head = fh.read(4096)
    except OSError:
        return None
    if head.startswith(b"PAR1"):
        return "parquet"
    if head.startswith((b"ARROW1", b"\xff\xff\xff\xff")):
        return "arrow"
    for magic, kind in _COMPRESSED.items():
        if head.startswith(magic):
            return kind
    if head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"{":
        return "jsonl"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 3:  # not just a character cut at the end of the sample
            return None
    return "text"


def _seen_fields(file: CorpusFile, sample_rows: int) -> list[str]:
    """Field names of the sampled records (columns for Parquet and Arrow), in order."""
    names: dict[str, None] = {}
    for record in _sample_records(file, sample_rows):
        names.update(dict.fromkeys(map(str, record)))
    return list(names)


def _text_candidate(file: CorpusFile, sample_rows: int) -> str | None:
    """Of the fields that are strings in most sampled records (dotted one level into nested
    objects), the one with the most words: prose, not a URL or a title."""
    words: Counter = Counter()
    present: Counter = Counter()
    records = 0
    for record in _sample_records(file, sample_rows):
        records += 1
        for key, value in record.items():
            if isinstance(value, dict):
                for sub, inner in value.items():
                    if isinstance(inner, str):
                        words[f"{key}.{sub}"] += len(inner.split())
                        present[f"{key}.{sub}"] += 1
            elif isinstance(value, str):
                words[str(key)] += len(value.split())
                present[str(key)] += 1
    usable = [name for name in words if present[name] * 2 > records and words[name]]
    return max(usable, key=lambda name: words[name], default=None)


def _sample_records(file: CorpusFile, sample_rows: int) -> Iterator[dict]:
    """The first records that parse as objects (JSON Lines), or rows (Parquet, Arrow)."""
    try:
        if file.format == "jsonl":
            for _, line, _ in numbered_lines(file.path, 0, sample_rows):
                try:
                    record = json.loads(line.removeprefix(b"\xef\xbb\xbf"))
                except ValueError:
                    continue
                if isinstance(record, dict):
                    yield from _decoded([record])
        elif file.format in ("parquet", "arrow"):
            yield from islice(_columnar_rows(file, sample_rows), sample_rows)
    except (UnreadableRest, *READ_ERRORS):
        return


def _columnar_rows(file: CorpusFile, sample_rows: int) -> Iterator[dict]:
    with open_source(file.path) as handle:
        if file.format == "parquet":
            batches = pq.ParquetFile(handle).iter_batches(batch_size=sample_rows)
        else:
            head = handle.read(6)
            handle.seek(0)
            reader = pa.ipc.open_file(handle) if head == b"ARROW1" else pa.ipc.open_stream(handle)
            batches = (reader.get_batch(i) for i in range(reader.num_record_batches)) \
                if head == b"ARROW1" else iter(reader)
        for batch in batches:
            yield from _decoded(batch.to_pylist())


def _decoded(rows: list[dict]) -> Iterator[dict]:
    """Rows with nested objects stored as JSON strings (C4's `meta`) opened one level."""
    for row in rows:
        yield {key: (json_object_or_none(value) if isinstance(value, str) else None) or value
               for key, value in row.items()}

