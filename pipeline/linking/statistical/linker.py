"""The embedded statistical linker: Spotlight's annotate pipeline on a model folder.

    linker = StatisticalLinker.load("model/", confidence=0.4, support=20)
    linker.annotate("Paris is the capital of France.")

Spotting (`spotting`), candidate scoring (`disambiguation`) and the filters follow Spotlight:
a spot is kept when its spot score is >= max(0.1, confidence); its best candidate becomes an
annotation when its support is > `support`, its similarity >= confidence and its
percentage of second rank <= 1 - confidence^2.

`annotate_many` links texts in batches joined by line breaks (a line break always ends a
sentence, so no spot, chunk or context window crosses from one text into the next); this
spreads the fixed cost of each step over many short documents. A text longer than
`segments.SEGMENT_CHARS` (200,000 characters) is linked piece by piece, cut where sentences
(or context windows) start, so the memory a call takes grows with the annotations it returns and
not otherwise with the text: `working_memory(n)` bounds it before linking (for a server that
refuses texts too large for its budget). The `segments` docstring gives the one rule that changes
what a text yields: a sentence longer than 200,000 characters is cut.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from longtail.errors import UsageError
from longtail.linking.annotation import (
    SPOTLIGHT_CONFIDENCE,
    SPOTLIGHT_SUPPORT,
    Annotation,
    LinkError,
    LinkResult,
)
from longtail.linking.statistical.disambiguation import Disambiguator, Scores, SpotCandidates
from longtail.linking.statistical.model import StatisticalModel
from longtail.linking.statistical.segments import Segmenter
from longtail.linking.statistical.spotter import Spotter, WordFeatures
from longtail.linking.statistical.spotting import Spot, Spots, SpotSelector
from longtail.linking.statistical.tokenizer import TokenizedText, Tokenizer

BATCH_CHARACTERS = 200_000
BATCH_TEXTS = 256
_ENTITY_CACHE_LIMIT = 200_000
# Measured with tracemalloc on the worst texts found ("X " * n: every token a capital run):
# 64 bytes per character of a piece (94 over a segmented text), and about 180 bytes per
# annotation returned; `working_memory` doubles the first for allocator slack.
PIECE_BYTES_PER_CHARACTER = 200
ANNOTATION_BYTES = 300


def _check_settings(confidence: float, support: int) -> None:
    if not isinstance(confidence, int | float) or not 0.0 <= confidence <= 1.0:
        raise UsageError(f"confidence must be between 0 and 1, got {confidence!r}")
    if isinstance(support, bool) or not isinstance(support, int) or support < 0:
        raise UsageError(f"support must be an integer >= 0, got {support!r}")


class StatisticalLinker:
    """Spotlight's statistical annotator over an imported model folder (a `Linker`).

    `annotate` takes optional per-call `confidence` / `support`; `candidates` gives every spot
    with all its scored candidates (for a `/rest/candidates` endpoint); `spots` gives the spots.
    """

    def __init__(self, model: StatisticalModel, confidence: float = SPOTLIGHT_CONFIDENCE,
                 support: int = SPOTLIGHT_SUPPORT):
        _check_settings(confidence, support)
        self.model = model
        self.confidence = float(confidence)
        self.support = int(support)
        self.tokenizer = Tokenizer(model.stop_words)
        self.spotter = Spotter(model.fsa_accept, model.fsa_prefixes, None, self.tokenizer,
                               stemmed=True, break_on_stop_words=True)
        self.spotter.words = self._words = WordFeatures(self.spotter, model.vocab_hash)
        self.selector = SpotSelector(model)
        self.disambiguator = Disambiguator(model, self.selector)
        self.segmenter = Segmenter(self.tokenizer, self.disambiguator.max_context)
        self._entities: dict[int, tuple[str, tuple[str, ...]]] = {}

    @classmethod
    def load(cls, model_dir: str | Path, confidence: float = SPOTLIGHT_CONFIDENCE,
             support: int = SPOTLIGHT_SUPPORT) -> StatisticalLinker:
        """Map a model folder written by `import_wikistats`; `UsageError` if it is not one."""
        _check_settings(confidence, support)
        return cls(StatisticalModel.load(model_dir), confidence, support)

    def _spots(self, tokenized: TokenizedText, confidence: float) -> tuple[np.ndarray, Spots]:
        rows = self._words.rows(tokenized)
        vocab = self._words.vocab[rows]
        if not len(tokenized):
            return vocab, Spots.empty(tokenized.text)
        first, end, _ = self.spotter.match(self._words.keys[rows], self._words.flags[rows],
                                           tokenized.sentence)
        return vocab, self.selector.select(tokenized, first, end, confidence)

    def _pieces(self, text: str, confidence: float
                ) -> Iterator[tuple[int, int, Spots, Scores | None]]:
        """(offset, first token, spots, scores) of each piece of a text: the text itself when
        it has at most `segmenter.limit` characters, else the pieces of `segments`."""
        if len(text) <= self.segmenter.limit:
            tokenized = self.tokenizer.tokenize(text)
            vocab, spots = self._spots(tokenized, confidence)
            windows = self.disambiguator.windows(tokenized.sentence, tokenized.starts,
                                                 spots.start)
            yield 0, 0, spots, self.disambiguator.score(vocab, spots, *windows)
            return
        sentences, context = 0, np.zeros(0, dtype=np.int64)
        for _, tokenized in self.segmenter.pieces(text, windowed=False):
            sentences += tokenized.sentence_count
            if sentences > self.disambiguator.max_context:
                context = None
                break
            rows = self._words.rows(tokenized)  # first: it may grow the arrays
            vocab = self._words.vocab[rows]
            context = np.union1d(context, vocab[vocab >= 0])
        tokens, gains = 0, None if context is None else {}
        for offset, tokenized in self.segmenter.pieces(text, windowed=context is None):
            vocab, spots = self._spots(tokenized, confidence)
            windows = self.disambiguator.windows(tokenized.sentence, tokenized.starts,
                                                 spots.start, whole=context is not None)
            yield offset, tokens, spots, self.disambiguator.score(
                vocab, spots, *windows, context=context, context_gains=gains)
            tokens += len(tokenized)

    def _score(self, texts: list[str], confidence: float) -> tuple[list[int], Scores | None]:
        """Texts of at most `segmenter.limit` characters joined by line breaks, spotted and
        scored together; returns the offset of each text in the joined string and the scores."""
        joined = "\n".join(texts)
        offsets = np.zeros(len(texts), dtype=np.int64)
        np.cumsum([len(t) + 1 for t in texts[:-1]], out=offsets[1:])
        tokenized = self.tokenizer.tokenize(joined)
        vocab, spots = self._spots(tokenized, confidence)
        if not len(spots):
            return offsets.tolist(), None
        token_bounds = np.append(np.searchsorted(tokenized.starts, offsets), len(tokenized))
        spot_bounds = np.append(np.searchsorted(spots.start, offsets), len(spots)).tolist()
        begins, ends, spot_window, windows = [], [], [], 0
        for d in np.flatnonzero(np.diff(spot_bounds)).tolist():
            a, b = spot_bounds[d], spot_bounds[d + 1]
            t0, t1 = int(token_bounds[d]), int(token_bounds[d + 1])
            begin, end, window = self.disambiguator.windows(
                tokenized.sentence[t0:t1], tokenized.starts[t0:t1], spots.start[a:b], t0)
            begins.append(begin)
            ends.append(end)
            spot_window.append(window + windows)
            windows += len(begin)
        return offsets.tolist(), self.disambiguator.score(
            vocab, spots, np.concatenate(begins), np.concatenate(ends),
            np.concatenate(spot_window))

    def spots(self, text: str, confidence: float | None = None) -> list[Spot]:
        """The spots Spotlight's spotter keeps at this confidence, by offset."""
        confidence = self.confidence if confidence is None else confidence
        _check_settings(confidence, 0)
        _require_text(text)
        if len(text) <= self.segmenter.limit:
            return self._spots(self.tokenizer.tokenize(text), confidence)[1].to_list()
        out = []
        for offset, tokens, spots, _ in self._pieces(text, confidence):
            for spot in spots.to_list():
                spot.start, spot.end = spot.start + offset, spot.end + offset
                spot.nil_first, spot.nil_last = spot.nil_first + tokens, spot.nil_last + tokens
                out.append(spot)
        return out

    def candidates(self, text: str, confidence: float | None = None) -> list[SpotCandidates]:
        """Every spot with all its candidates that beat NIL, scored, best first; no
        confidence or support filter is applied to the candidates."""
        confidence = self.confidence if confidence is None else confidence
        _check_settings(confidence, 0)
        _require_text(text)
        out = []
        for offset, _, _, scores in self._pieces(text, confidence):
            for found in scores.spot_candidates() if scores is not None else []:
                found.offset += offset
                out.append(found)
        return out

    def annotate(self, text: str, *, confidence: float | None = None,
                 support: int | None = None) -> list[Annotation]:
        """Annotations by offset; raises `LinkError` for input that is not text."""
        return self._annotate_batch([text], confidence, support)[0]

    def annotate_many(self, items: Iterable[tuple[object, str]]) -> Iterator[LinkResult]:
        """One result per item, in order; texts are linked in batches, and a batch that fails
        is linked again text by text so that only the bad text gets the error."""
        batch: list[tuple[object, str]] = []
        size = 0
        for key, text in items:
            batch.append((key, text))
            size += len(text) if isinstance(text, str) else 0
            if size >= BATCH_CHARACTERS or len(batch) >= BATCH_TEXTS:
                yield from self._results(batch)
                batch, size = [], 0
        yield from self._results(batch)

    def _results(self, batch: list[tuple[object, str]]) -> Iterator[LinkResult]:
        if not batch:
            return
        texts = [t for _, t in batch]
        try:
            annotations = self._annotate_batch(texts, None, None)
        except LinkError:
            annotations = None
        if annotations is not None:
            for (key, _), found in zip(batch, annotations, strict=True):
                yield LinkResult(key, found)
            return
        for key, text in batch:
            try:
                yield LinkResult(key, self.annotate(text))
            except LinkError as err:
                yield LinkResult(key, error=err)

    def _annotate_batch(self, texts: list[str], confidence: float | None,
                        support: int | None) -> list[list[Annotation]]:
        confidence = self.confidence if confidence is None else confidence
        support = self.support if support is None else support
        _check_settings(confidence, support)
        for text in texts:
            _require_text(text)
        out: list[list[Annotation]] = [[] for _ in texts]
        short = [i for i, text in enumerate(texts) if len(text) <= self.segmenter.limit]
        try:
            if short:
                offsets, scores = self._score([texts[i] for i in short], confidence)
                self._collect(scores, offsets, [out[i] for i in short], support, confidence)
            for i, text in enumerate(texts):
                if len(text) > self.segmenter.limit:
                    for offset, _, _, scores in self._pieces(text, confidence):
                        self._collect(scores, [-offset], [out[i]], support, confidence)
        except Exception as err:  # noqa: BLE001 - one bad text must not stop a batch
            raise LinkError("internal_error", f"{type(err).__name__}: {err}") from err
        return out

    def _collect(self, scores: Scores | None, offsets: list[int],
                 out: list[list[Annotation]], support: int, confidence: float) -> None:
        """Append the annotations that pass the filters to `out[d]`, the list of the text
        that starts at `offsets[d]` of the scored string (for a piece of a longer text, minus
        the piece's offset in it)."""
        if scores is None:
            return
        best = scores.starts
        passed = best[(scores.support[best] > support) & (scores.similarity[best] >= confidence)
                      & (scores.second[best] <= 1.0 - confidence * confidence)]
        spots = scores.spots
        chosen = scores.spot_of[passed]
        starts = spots.start[chosen]
        docs = (np.searchsorted(offsets, starts, side="right") - 1).tolist()
        entity = self._entity
        same = {}.setdefault  # one string per distinct surface form
        for start, surface_form, d, e, similarity, second, support_ in zip(
                starts.tolist(), spots.surface_forms(chosen), docs,
                scores.entity[passed].tolist(), scores.similarity[passed].tolist(),
                scores.second[passed].tolist(), scores.support[passed].tolist(), strict=True):
            uri, types = entity(e)
            out[d].append(Annotation(uri, same(surface_form, surface_form), start - offsets[d],
                                     similarity, second, support_, types))

    def _entity(self, entity: int) -> tuple[str, tuple[str, ...]]:
        """An entity's URI and types, cached."""
        found = self._entities.get(entity)
        if found is None:
            if len(self._entities) >= _ENTITY_CACHE_LIMIT:
                self._entities.clear()
            found = self._entities[entity] = (self.model.entity_uris[entity],
                                              self.model.entity_types(entity))
        return found

    def working_memory(self, text: str | int) -> int:
        """An upper bound, in bytes, of the memory one `annotate` of `text` (or of a text of
        that many code points) adds to the process while it runs, from its length alone: the
        arrays of the pieces being linked (texts longer than `segmenter.limit` go piece by
        piece, so this part stops growing there) and the annotations returned, at most one
        per two characters. Not counted: the text itself, the model's memory-mapped pages and
        the linker's caches, whose sizes are capped whatever the texts."""
        characters = len(text) if isinstance(text, str) else max(int(text), 0)
        limit = self.segmenter.limit
        piece = characters if characters <= limit else 2 * limit  # two alive at a time
        return PIECE_BYTES_PER_CHARACTER * piece + ANNOTATION_BYTES * ((characters + 1) // 2)

    def close(self) -> None:
        """Nothing to release: the model's arrays are memory-mapped read-only."""


def _require_text(text: object) -> None:
    if not isinstance(text, str):
        raise LinkError("not_text", f"expected a string, got {type(text).__name__}")
