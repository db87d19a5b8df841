"""The embedded statistical linker: Spotlight's annotate pipeline on a model folder.

    linker = StatisticalLinker.load("model/", confidence=0.4, support=20)
    linker.annotate("Paris is the capital of France.")

Spotting (`spotting`), candidate scoring (`disambiguation`) and the filters follow Spotlight:
a spot is kept when its spot score is >= max(0.1, confidence); its best candidate becomes an
annotation when its support is > `support`, its similarity >= confidence and its
percentage of second rank <= 1 - confidence^2.

`annotate_many` links texts in batches joined by line breaks (a line break always ends a
sentence, so no spot, chunk or context window crosses from one text into the next); this
spreads the fixed cost of each step over many short documents.
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
from longtail.linking.statistical.spotter import Spotter, WordFeatures
from longtail.linking.statistical.spotting import Spot, Spots, SpotSelector
from longtail.linking.statistical.tokenizer import TokenizedText, Tokenizer

BATCH_CHARACTERS = 200_000
BATCH_TEXTS = 256
_ENTITY_CACHE_LIMIT = 200_000


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
        self._entities: dict[int, tuple[str, tuple[str, ...]]] = {}

    @classmethod
    def load(cls, model_dir: str | Path, confidence: float = SPOTLIGHT_CONFIDENCE,
             support: int = SPOTLIGHT_SUPPORT) -> StatisticalLinker:
        """Map a model folder written by `import_wikistats`; `UsageError` if it is not one."""
        _check_settings(confidence, support)
        return cls(StatisticalModel.load(model_dir), confidence, support)

    def _spots(self, text: str, confidence: float) -> tuple[TokenizedText, np.ndarray, Spots]:
        tokenized = self.tokenizer.tokenize(text)
        rows = self._words.rows(tokenized)
        vocab = self._words.vocab[rows]
        if not len(tokenized):
            return tokenized, vocab, Spots.empty(text)
        first, end, _ = self.spotter.match(self._words.keys[rows], self._words.flags[rows],
                                           tokenized.sentence)
        return tokenized, vocab, self.selector.select(tokenized, first, end, confidence)

    def _score(self, texts: list[str], confidence: float) -> tuple[list[int], Scores | None]:
        """Texts joined by line breaks, spotted and scored together; returns the offset of
        each text in the joined string and the scores."""
        joined = "\n".join(texts)
        offsets = np.zeros(len(texts), dtype=np.int64)
        np.cumsum([len(t) + 1 for t in texts[:-1]], out=offsets[1:])
        tokenized, vocab, spots = self._spots(joined, confidence)
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
        return self._spots(text, confidence)[2].to_list()

    def candidates(self, text: str, confidence: float | None = None) -> list[SpotCandidates]:
        """Every spot with all its candidates that beat NIL, scored, best first; no
        confidence or support filter is applied to the candidates."""
        confidence = self.confidence if confidence is None else confidence
        _check_settings(confidence, 0)
        _require_text(text)
        _, scores = self._score([text], confidence)
        return scores.spot_candidates() if scores is not None else []

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
        try:
            offsets, scores = self._score(texts, confidence)
        except Exception as err:  # noqa: BLE001 - one bad text must not stop a batch
            raise LinkError("internal_error", f"{type(err).__name__}: {err}") from err
        out: list[list[Annotation]] = [[] for _ in texts]
        if scores is None:
            return out
        best = scores.starts
        passed = best[(scores.support[best] > support) & (scores.similarity[best] >= confidence)
                      & (scores.second[best] <= 1.0 - confidence * confidence)]
        spots = scores.spots
        chosen = scores.spot_of[passed]
        starts = spots.start[chosen]
        docs = (np.searchsorted(offsets, starts, side="right") - 1).tolist()
        entity = self._entity
        for start, surface_form, d, e, similarity, second, support_ in zip(
                starts.tolist(), spots.surface_forms(chosen), docs,
                scores.entity[passed].tolist(), scores.similarity[passed].tolist(),
                scores.second[passed].tolist(), scores.support[passed].tolist(), strict=True):
            uri, types = entity(e)
            out[d].append(Annotation(uri, surface_form, start - offsets[d], similarity, second,
                                     support_, types))
        return out

    def _entity(self, entity: int) -> tuple[str, tuple[str, ...]]:
        """An entity's URI and types, cached."""
        found = self._entities.get(entity)
        if found is None:
            if len(self._entities) >= _ENTITY_CACHE_LIMIT:
                self._entities.clear()
            found = self._entities[entity] = (self.model.entity_uris[entity],
                                              self.model.entity_types(entity))
        return found

    def close(self) -> None:
        """Nothing to release: the model's arrays are memory-mapped read-only."""


def _require_text(text: object) -> None:
    if not isinstance(text, str):
        raise LinkError("not_text", f"expected a string, got {type(text).__name__}")
