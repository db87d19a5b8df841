"""Dump splits in, one row per page out: articles with their plain text and links, redirects
with their target, disambiguation pages, other namespaces, and failures with a reason.

`extract_pages` maps Arrow batches of `SPLITS` rows to batches of `PAGES` rows, so Spark can
run it with `mapInArrow` and tests can call it directly.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from functools import lru_cache

import pyarrow as pa

from longtail.wikipedia.dump import DumpError, DumpSplit, WikiPage, read_namespaces, read_pages
from longtail.wikipedia.markup import parse_wikitext
from longtail.wikipedia.titles import Namespaces, canonical_title, parse_link_target

ARTICLE = "article"
REDIRECT = "redirect"
DISAMBIGUATION = "disambiguation"
OTHER_NAMESPACE = "other_namespace"
FAILURE = "failure"

SPLITS = pa.schema(
    [
        pa.field("path", pa.string(), nullable=False),
        pa.field("start", pa.int64(), nullable=False),
        pa.field("end", pa.int64()),
    ]
)

LINK = pa.struct(
    [
        pa.field("target", pa.string(), nullable=False),
        pa.field("surface_form", pa.string(), nullable=False),
        pa.field("start", pa.int32(), nullable=False),
        pa.field("end", pa.int32(), nullable=False),
    ]
)

# `title` is canonical (underscores); `redirect_target` is null for a redirect that leaves
# the main namespace; `text` and `links` are set for articles and disambiguation pages;
# `reason`/`detail` for failures (`title` may then be null: an unreadable dump).
PAGES = pa.schema(
    [
        pa.field("kind", pa.string(), nullable=False),
        pa.field("title", pa.string()),
        pa.field("page_id", pa.int64()),
        pa.field("source", pa.string(), nullable=False),
        pa.field("redirect_target", pa.string()),
        pa.field("text", pa.string()),
        pa.field("links", pa.list_(LINK)),
        pa.field("reason", pa.string()),
        pa.field("detail", pa.string()),
    ]
)

# Templates that mark a disambiguation page (lower case, spaces). Any template whose name
# ends in " disambiguation" ("place name disambiguation", "hospital disambiguation") too.
DISAMBIGUATION_TEMPLATES = frozenset(
    {
        "disambiguation", "disambig", "disamb", "dab", "dis", "hndis", "geodis", "numberdis",
        "mathdab", "letter-numbercombdisambig", "mil-unit-dis", "disambiguation cleanup",
        "dab cleanup", "disambig-cleanup", "hndis-cleanup",
    }
)

_OLD_REDIRECT = re.compile(r"^\s*#redirect\s*:?\s*\[\[([^\]|]+)", re.IGNORECASE)
_BATCH_ROWS = 256


def is_disambiguation(title: str, templates: Iterable[str], wikitext: str = "") -> bool:
    """A title ending in "(disambiguation)", a disambiguation template or `__DISAMBIG__`."""
    if title.endswith("_(disambiguation)") or "__DISAMBIG__" in wikitext:
        return True
    return any(
        name in DISAMBIGUATION_TEMPLATES or name.endswith(" disambiguation")
        for name in templates
    )


def splits_batch(splits: list[DumpSplit]) -> pa.RecordBatch:
    return pa.RecordBatch.from_pylist(
        [{"path": s.path, "start": s.start, "end": s.end} for s in splits], schema=SPLITS
    )


def extract_pages(batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """`PAGES` rows for every page of every split in `batches` (`SPLITS` rows)."""
    rows: list[dict] = []
    for batch in batches:
        for split in batch.to_pylist():
            for row in page_rows(DumpSplit(split["path"], split["start"], split["end"])):
                rows.append(row)
                if len(rows) >= _BATCH_ROWS:
                    yield pa.RecordBatch.from_pylist(rows, schema=PAGES)
                    rows = []
    if rows:
        yield pa.RecordBatch.from_pylist(rows, schema=PAGES)


def page_rows(split: DumpSplit) -> Iterator[dict]:
    """One `PAGES` row (as a dict) per page of the split; a broken dump ends in a failure row."""
    namespaces = _namespaces(split.path)
    try:
        for page in read_pages(split):
            yield page_row(page, split.path, namespaces)
    except DumpError as err:
        yield _row(FAILURE, None, None, split.path, reason="unreadable_dump", detail=err.detail)


def page_row(page: WikiPage, source: str, namespaces: Namespaces) -> dict:
    """Classify one page and, for articles, extract plain text and links."""
    title = canonical_title(page.title)
    if page.ns != 0:
        return _row(OTHER_NAMESPACE, title, page.page_id, source)
    redirect = page.redirect
    if redirect is None:
        old_style = _OLD_REDIRECT.match(page.text)
        redirect = old_style.group(1) if old_style else None
    if redirect is not None:
        target = parse_link_target(redirect, namespaces).title
        return _row(REDIRECT, title, page.page_id, source, redirect_target=target)
    try:
        parsed = parse_wikitext(page.text, namespaces)
    except Exception as err:  # noqa: BLE001 - one bad page must not stop the dump
        return _row(
            FAILURE, title, page.page_id, source, reason="unparsable_wikitext",
            detail=f"{type(err).__name__}: {err}",
        )
    kind = DISAMBIGUATION if is_disambiguation(title, parsed.templates, page.text) else ARTICLE
    links = [
        {"target": link.target, "surface_form": link.surface_form,
         "start": link.start, "end": link.end}
        for link in parsed.links
    ]
    return _row(kind, title, page.page_id, source, text=parsed.text, links=links)


def _row(kind: str, title: str | None, page_id: int | None, source: str, **values) -> dict:
    row = dict.fromkeys(PAGES.names)
    row.update(kind=kind, title=title, page_id=page_id, source=source, **values)
    return row


@lru_cache(maxsize=64)
def _namespaces(path: str) -> Namespaces:
    return read_namespaces(path)
