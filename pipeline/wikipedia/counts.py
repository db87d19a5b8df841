"""Per-partition counting over extracted articles (`pages.PAGES` rows of kind "article").

Each function maps Arrow batches to Arrow batches of partial counts, summed within the
partition as far as a bounded table allows; the engine adds up the partial counts.

- `article_links`: one row per link (source page, surface form, target before redirects).
- `surface_form_occurrences`: how often each known surface form occurs in article text at
  token boundaries, linked or not (the denominator of the annotation probability).
- `context_token_counts`: stemmed context tokens, stop words out, around each link, per
  link target: the entity's context vector.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from functools import lru_cache

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from longtail.linking.statistical.spotter import Spotter
from longtail.linking.statistical.tokenizer import Tokenizer, normalize_surface_form
from longtail.wikipedia.pages import ARTICLE

LINKS = pa.schema(
    [
        pa.field("source", pa.string(), nullable=False),
        pa.field("surface_form", pa.string(), nullable=False),
        pa.field("target", pa.string(), nullable=False),
    ]
)
SURFACE_FORM_OCCURRENCES = pa.schema(
    [
        pa.field("surface_form", pa.string(), nullable=False),
        pa.field("occurrences", pa.int64(), nullable=False),
    ]
)
CONTEXT_TOKENS = pa.schema(
    [
        pa.field("target", pa.string(), nullable=False),
        pa.field("token", pa.string(), nullable=False),
        pa.field("count", pa.int64(), nullable=False),
    ]
)

DEFAULT_CONTEXT_WINDOW = 50
_MAX_PARTIAL_KEYS = 500_000  # partial counts kept in memory before they are handed on
_BATCH_ROWS = 50_000


def article_links(
    batches: Iterable[pa.RecordBatch], min_surface_form_length: int = 1
) -> Iterator[pa.RecordBatch]:
    """`LINKS` rows of every article's links; surface forms as Spotlight names them
    (`normalize_surface_form`), those shorter than `min_surface_form_length` left out."""
    for batch in batches:
        sources, forms, targets = [], [], []
        for row in batch.select(["kind", "title", "links"]).to_pylist():
            if row["kind"] != ARTICLE or not row["links"]:
                continue
            for link in row["links"]:
                form = normalize_surface_form(link["surface_form"])
                if len(form) < min_surface_form_length:
                    continue
                sources.append(row["title"])
                forms.append(form)
                targets.append(link["target"])
        if sources:
            yield pa.RecordBatch.from_arrays(
                [pa.array(sources), pa.array(forms), pa.array(targets)], schema=LINKS
            )


def occurrences_of_listed_forms(
    forms_file: str, batches: Iterable[pa.RecordBatch]
) -> Iterator[pa.RecordBatch]:
    """`surface_form_occurrences` of the forms in a parquet file (column `surface_form`);
    the spotter is built once per process and file."""
    forms, spotter = _listed_forms_spotter(forms_file)
    return surface_form_occurrences(batches, forms, spotter)


@lru_cache(maxsize=2)
def _listed_forms_spotter(forms_file: str) -> tuple[list[str], Spotter]:
    forms = sorted(pq.read_table(forms_file, columns=["surface_form"])
                   .column("surface_form").to_pylist())
    return forms, Spotter.build(forms)


def surface_form_occurrences(
    batches: Iterable[pa.RecordBatch], surface_forms: list[str], spotter: Spotter | None = None
) -> Iterator[pa.RecordBatch]:
    """`SURFACE_FORM_OCCURRENCES` rows: occurrences of each of `surface_forms` in article
    text. A linked occurrence always counts, even where the tokenizer does not split the
    text at the link's edges (`pre[[history]]`)."""
    spotter = spotter or Spotter.build(surface_forms)
    index_of = {form: i for i, form in enumerate(surface_forms)}
    counts = np.zeros(len(surface_forms), dtype=np.int64)
    for batch in batches:
        for row in batch.select(["kind", "text", "links"]).to_pylist():
            if row["kind"] != ARTICLE or not row["text"]:
                continue
            spotted: set[tuple[int, int]] = set()
            for start, end, index in spotter.find_all(row["text"]):
                if index >= 0:
                    counts[index] += 1
                    spotted.add((start, end))
            for link in row["links"] or ():
                if (link["start"], link["end"]) in spotted:
                    continue
                index = index_of.get(normalize_surface_form(link["surface_form"]))
                if index is not None:
                    counts[index] += 1
    found = np.flatnonzero(counts)
    for start in range(0, len(found), _BATCH_ROWS):
        chunk = found[start : start + _BATCH_ROWS]
        yield pa.RecordBatch.from_arrays(
            [pa.array([surface_forms[i] for i in chunk], pa.string()),
             pa.array(counts[chunk], pa.int64())],
            schema=SURFACE_FORM_OCCURRENCES,
        )


def context_token_counts(
    batches: Iterable[pa.RecordBatch],
    tokenizer: Tokenizer | None = None,
    window: int = DEFAULT_CONTEXT_WINDOW,
) -> Iterator[pa.RecordBatch]:
    """`CONTEXT_TOKENS` rows: for each link, the stems of up to `window` tokens on each side
    within its paragraph, the anchor's own tokens included, stop words (stems of stop words,
    as `Tokenizer.context_stems` filters) and tokens without a letter or digit left out,
    summed per target."""
    tokenizer = tokenizer or Tokenizer()
    stop_stems = frozenset(tokenizer.stem(word) for word in tokenizer.stop_words)
    partial: Counter[tuple[str, str]] = Counter()
    for batch in batches:
        for row in batch.select(["kind", "text", "links"]).to_pylist():
            if row["kind"] != ARTICLE or not row["text"] or not row["links"]:
                continue
            _add_contexts(partial, row["text"], row["links"], tokenizer, stop_stems, window)
            if len(partial) >= _MAX_PARTIAL_KEYS:
                yield from _token_batches(partial)
                partial = Counter()
    yield from _token_batches(partial)


def _add_contexts(
    partial: Counter[tuple[str, str]],
    text: str,
    links: list[dict],
    tokenizer: Tokenizer,
    stop_stems: frozenset[str],
    window: int,
) -> None:
    tokenized = tokenizer.tokenize(text)
    if not len(tokenized):
        return
    stems = [tokenizer.stem(token) for token in tokenized.tokens]
    keep = np.fromiter((stem not in stop_stems and _is_word(stem) for stem in stems),
                       dtype=bool, count=len(stems))
    breaks = np.fromiter(_paragraph_breaks(text), dtype=np.int64)
    paragraph = np.searchsorted(breaks, tokenized.starts, side="right")
    for link in links:
        first = int(np.searchsorted(tokenized.ends, link["start"], side="right"))
        last = int(np.searchsorted(tokenized.starts, link["end"], side="left"))
        if first >= len(stems):
            continue
        own = paragraph[min(first, len(stems) - 1)]
        low, high = max(0, first - window), min(len(stems), last + window)
        for i in range(low, high):
            if keep[i] and paragraph[i] == own:
                partial[(link["target"], stems[i])] += 1


def _is_word(stem: str) -> bool:
    """Punctuation and symbol tokens are no context (and cannot be written in tokenCounts)."""
    return any(c.isalnum() for c in stem)


def _paragraph_breaks(text: str) -> Iterator[int]:
    position = text.find("\n\n")
    while position >= 0:
        yield position
        position = text.find("\n\n", position + 2)


def _token_batches(partial: Counter[tuple[str, str]]) -> Iterator[pa.RecordBatch]:
    items = list(partial.items())
    for start in range(0, len(items), _BATCH_ROWS):
        chunk = items[start : start + _BATCH_ROWS]
        yield pa.RecordBatch.from_arrays(
            [pa.array([key[0] for key, _ in chunk], pa.string()),
             pa.array([key[1] for key, _ in chunk], pa.string()),
             pa.array([count for _, count in chunk], pa.int64())],
            schema=CONTEXT_TOKENS,
        )
