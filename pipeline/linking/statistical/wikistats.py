"""Streaming readers and writers for Spotlight's four wikistats TSV files.

    uriCounts         URI \\t count
    pairCounts        surface form \\t URI \\t count
    sfAndTotalCounts  surface form \\t times linked \\t times seen in text
    tokenCounts       wikiURI \\t {(token,count),(token,count),...}

Files may be plain, `.bz2` or `.gz`. Readers give URIs in `canonical_uri` form (bare titles,
`http://dbpedia.org/resource/X` and `http://en.wikipedia.org/wiki/X` all become the DBpedia
URI). In sfAndTotalCounts a missing third column reads as -1 ("unknown", as Spotlight treats
it) and a linked count of -1 marks a lowercase-only line. Names may hold tabs: the count
columns are read from the right. A malformed line, and a line with a negative count (other
than those -1s) or an absurd one (above `MAX_COUNT`, more than all of Wikipedia's links), is
skipped and counted in `ReadStats` with its reason; it never stops the read. Lines are read one
at a time, however long.
"""

from __future__ import annotations

import bz2
import gzip
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple, TextIO

from longtail.linking.annotation import DBPEDIA_RESOURCE, canonical_uri

URI_COUNTS = "uriCounts"
PAIR_COUNTS = "pairCounts"
SF_AND_TOTAL_COUNTS = "sfAndTotalCounts"
TOKEN_COUNTS = "tokenCounts"
WIKIPEDIA_PAGE = "http://en.wikipedia.org/wiki/"
_SUFFIXES = ("", ".bz2", ".gz", ".tsv", ".tsv.bz2", ".tsv.gz")
_TOKEN_PAIR = re.compile(r"\(([^()]*),(-?\d+)\)")
MAX_COUNT = 10**12
_LONG_NUMBER = re.compile(r"\d{13}")  # more digits than MAX_COUNT has
_LONE_SURROGATE = re.compile("[\udc80-\udcff]")
_MAX_EXAMPLES = 5


class UriCount(NamedTuple):
    uri: str
    count: int


class PairCount(NamedTuple):
    surface_form: str
    uri: str
    count: int


class SurfaceFormCount(NamedTuple):
    surface_form: str
    linked: int
    total: int


class TokenCounts(NamedTuple):
    uri: str
    tokens: list[tuple[str, int]]


@dataclass
class ReadStats:
    """Lines read and lines skipped, with a count per reason and the first few examples."""

    lines: int = 0
    skipped: int = 0
    reasons: Counter = field(default_factory=Counter)
    examples: list[tuple[int, str, str]] = field(default_factory=list)

    def skip(self, line_no: int, reason: str, line: str) -> None:
        self.skipped += 1
        self.reasons[reason] += 1
        if len(self.examples) < _MAX_EXAMPLES:
            self.examples.append((line_no, reason, line[:200]))

    def describe(self) -> str:
        return ", ".join(f"{reason}={n}" for reason, n in sorted(self.reasons.items()))


def find_wikistats_file(folder: str | Path, name: str) -> Path | None:
    """`name` in the folder, plain or compressed, or None."""
    for suffix in _SUFFIXES:
        path = Path(folder) / f"{name}{suffix}"
        if path.is_file():
            return path
    return None


def open_text(path: str | Path, mode: str = "rt") -> TextIO:
    """UTF-8 text, decompressing `.bz2` / `.gz` by suffix. Undecodable bytes are kept as lone
    surrogates so that readers can report the line instead of failing."""
    path = Path(path)
    errors = "surrogateescape" if "r" in mode else "strict"
    if path.suffix == ".bz2":
        return bz2.open(path, mode, encoding="utf-8", errors=errors)
    if path.suffix == ".gz":
        return gzip.open(path, mode, encoding="utf-8", errors=errors)
    return open(path, mode, encoding="utf-8", errors=errors, newline="\n")


def _lines(path: str | Path, stats: ReadStats) -> Iterator[tuple[int, str]]:
    with open_text(path) as handle:
        for line_no, line in enumerate(handle, 1):
            stats.lines += 1
            line = line.rstrip("\n").rstrip("\r")
            if not line.strip():
                stats.skip(line_no, "empty_line", line)
                continue
            if not line.isascii() and _LONE_SURROGATE.search(line):
                stats.skip(line_no, "not_utf8", line)
                continue
            yield line_no, line


def _count(text: str) -> int | None:
    try:
        return int(text.strip())
    except ValueError:
        return None


def _count_problem(*counts: int, floor: int = 0) -> str | None:
    """The reason to skip a line with these counts, or None when they are usable."""
    if any(c < floor for c in counts):
        return "negative_count"
    if any(c > MAX_COUNT for c in counts):
        return "absurd_count"
    return None


def read_uri_counts(path: str | Path, stats: ReadStats | None = None) -> Iterator[UriCount]:
    stats = stats if stats is not None else ReadStats()
    for line_no, line in _lines(path, stats):
        fields = line.rsplit("\t", 1)
        if len(fields) != 2:
            stats.skip(line_no, "wrong_field_count", line)
        elif not fields[0].strip():
            stats.skip(line_no, "empty_uri", line)
        elif (count := _count(fields[1])) is None:
            stats.skip(line_no, "bad_count", line)
        elif problem := _count_problem(count):
            stats.skip(line_no, problem, line)
        else:
            yield UriCount(canonical_uri(fields[0]), count)


def read_pair_counts(path: str | Path, stats: ReadStats | None = None) -> Iterator[PairCount]:
    stats = stats if stats is not None else ReadStats()
    for line_no, line in _lines(path, stats):
        fields = line.rsplit("\t", 2)
        if len(fields) != 3:
            stats.skip(line_no, "wrong_field_count", line)
        elif not fields[0].strip():
            stats.skip(line_no, "empty_surface_form", line)
        elif not fields[1].strip():
            stats.skip(line_no, "empty_uri", line)
        elif (count := _count(fields[2])) is None:
            stats.skip(line_no, "bad_count", line)
        elif problem := _count_problem(count):
            stats.skip(line_no, problem, line)
        else:
            yield PairCount(fields[0], canonical_uri(fields[1]), count)


def read_sf_and_total_counts(path: str | Path,
                             stats: ReadStats | None = None) -> Iterator[SurfaceFormCount]:
    stats = stats if stats is not None else ReadStats()
    for line_no, line in _lines(path, stats):
        fields = line.rsplit("\t", 2)
        if len(fields) == 3 and _count(fields[1]) is None and _count(fields[2]) is not None:
            fields = line.rsplit("\t", 1)  # a name with a tab, and no total
        if len(fields) not in (2, 3):
            stats.skip(line_no, "wrong_field_count", line)
            continue
        linked = _count(fields[1])
        total = _count(fields[2]) if len(fields) == 3 else -1
        if not fields[0].strip():
            stats.skip(line_no, "empty_surface_form", line)
        elif linked is None or total is None:
            stats.skip(line_no, "bad_count", line)
        elif problem := _count_problem(linked, total, floor=-1):
            stats.skip(line_no, problem, line)
        else:
            yield SurfaceFormCount(fields[0], linked, total)


def parse_context_vector(text: str) -> list[tuple[str, int]] | None:
    """`{(token,count),...}` as a list, or None when it is not one. The count follows the
    token's last comma, as Spotlight's parser reads it, so a token may contain commas."""
    text = text.strip()
    if len(text) < 2 or text[0] != "{" or text[-1] != "}":
        return None
    body = text[1:-1]
    pairs = [(token, int(count)) for token, count in _TOKEN_PAIR.findall(body)]
    if len(pairs) != body.count("(") or (not pairs and body.strip()):
        return None
    return pairs


def read_token_counts(path: str | Path, stats: ReadStats | None = None) -> Iterator[TokenCounts]:
    stats = stats if stats is not None else ReadStats()
    for line_no, line in _lines(path, stats):
        fields = line.rsplit("\t", 1)
        if len(fields) != 2:
            stats.skip(line_no, "wrong_field_count", line)
        elif not fields[0].strip():
            stats.skip(line_no, "empty_uri", line)
        elif (tokens := parse_context_vector(fields[1])) is None:
            stats.skip(line_no, "not_a_context_vector", line)
        elif (",-" in fields[1] or _LONG_NUMBER.search(fields[1])) and (
                problem := _count_problem(*(c for _, c in tokens))):
            stats.skip(line_no, problem, line)
        else:
            yield TokenCounts(canonical_uri(fields[0]), tokens)


def bare_uri(uri: str) -> str:
    """The title as Spotlight's uriCounts and pairCounts write it; other URIs unchanged."""
    uri = canonical_uri(uri)
    return uri[len(DBPEDIA_RESOURCE):] if uri.startswith(DBPEDIA_RESOURCE) else uri


def wikipedia_uri(uri: str) -> str:
    """The `http://en.wikipedia.org/wiki/X` form tokenCounts uses; other URIs unchanged."""
    uri = canonical_uri(uri)
    return WIKIPEDIA_PAGE + uri[len(DBPEDIA_RESOURCE):] if uri.startswith(DBPEDIA_RESOURCE) else uri


def _field(value: str, what: str) -> str:
    if not value or "\t" in value or "\n" in value or "\r" in value:
        raise ValueError(f"{what} must be non-empty and free of tabs and line breaks: {value!r}")
    return value


def _write(path: str | Path, lines: Iterable[str]) -> int:
    n = 0
    with open_text(path, "wt") as handle:
        for line in lines:
            handle.write(line)
            n += 1
    return n


def write_uri_counts(path: str | Path, rows: Iterable[tuple[str, int]]) -> int:
    """Rows of (URI in any form, count); returns the number of lines written."""
    return _write(path, (f"{_field(bare_uri(u), 'URI')}\t{int(c)}\n" for u, c in rows))


def write_pair_counts(path: str | Path, rows: Iterable[tuple[str, str, int]]) -> int:
    return _write(path, (f"{_field(sf, 'surface form')}\t{_field(bare_uri(u), 'URI')}\t{int(c)}\n"
                         for sf, u, c in rows))


def write_sf_and_total_counts(path: str | Path, rows: Iterable[tuple[str, int, int]]) -> int:
    """Rows of (surface form, linked, total); -1 writes as -1 (unknown / lowercase line)."""
    return _write(path, (f"{_field(sf, 'surface form')}\t{int(linked)}\t{int(total)}\n"
                         for sf, linked, total in rows))


def _vector(tokens: Iterable[tuple[str, int]]) -> str:
    parts = []
    for token, count in tokens:
        if not token or any(c in token for c in "()\t\n\r"):
            raise ValueError(f"a context token cannot be empty or hold ( ) tabs or breaks: "
                             f"{token!r}")
        parts.append(f"({token},{int(count)})")
    return "{" + ",".join(parts) + "}"


def write_token_counts(path: str | Path,
                       rows: Iterable[tuple[str, Iterable[tuple[str, int]]]]) -> int:
    """Rows of (URI, [(stemmed token, count), ...]); URIs are written in Wikipedia form."""
    return _write(path, (f"{_field(wikipedia_uri(u), 'URI')}\t{_vector(tokens)}\n"
                         for u, tokens in rows))
