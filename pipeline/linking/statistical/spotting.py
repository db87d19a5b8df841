"""Spotlight's spot selection (`DBSpotter` with `FSASpotter`): which substrings are spots.

1. Chunks: every run of tokens the FSA dictionary accepts (stemmed, lowercased; stop words
   break runs), plus every capitalised sequence, found with Spotlight's regular expression
   `([A-Z][^ ,!?.:;]*[ ]?)+` over the sentence's tokens joined by spaces.
2. For each chunk, the sub-chunks are tried in Spotlight's order: dropping tokens from the
   left, then from the right; the first whose spot score is >= max(0.1, confidence) is a spot.
3. The spot score is `w . (p, abbreviation, number, 1)` with the model's `spot_weights`, where p
   is the annotation probability of the exact surface form or, failing that, the best score of
   the lowercase map's candidates: edit-distance score x annotation probability x
   2 * total / (lowercase count + total) (`MemorySurfaceFormStore.getRankedSurfaceFormCandidates`).
4. Overlaps are resolved as `dropOverlappingSpots` does, literally, including its habit of
   removing the spot just before the winner, which may leave two overlapping spots.

Deliberate differences: `’` in a spot is read as `'` for the lookup (Spotlight stores names
with `'` but looks spots up verbatim, so it never finds them), and a spot's length is counted
in code points rather than UTF-16 units.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import chain

import numpy as np
from rapidfuzz.distance import Levenshtein

from longtail.linking.statistical.model import StatisticalModel
from longtail.linking.statistical.tokenizer import TokenizedText

CAPITAL_SEQUENCE = re.compile(r"(?:[A-Z][^ ,!?.:;]*[ ]?)+")
_NUMBER = re.compile(r"[0-9]+")
_HAS_CAPITAL = re.compile(r"[A-Z]")
CAPITALS, DICTIONARY = "Capital_Sequences", "m"
TYPE_ORDER = (CAPITALS, DICTIONARY)
MIN_CONFIDENCE = 0.1
_CACHE_LIMIT = 500_000


@dataclass(slots=True)
class Spot:
    """A spot: `text[start:end]`, the surface form whose candidates it gets, and its score.

    `nil_first` .. `nil_last` (exclusive) are the tokens Spotlight takes as the NIL entity's
    surface form tokens (its `token_types` feature: from the spot's first token to the chunk's
    last token, that last one excluded).
    """

    start: int
    end: int
    surface_form: str
    sf: int
    score: float
    kind: str
    nil_first: int
    nil_last: int


def edit_distance_score(data: str, real: str) -> float:
    """Spotlight's case-adaptation score between a stored form and the text's spelling."""
    if real == data:
        return 1.0
    if data.upper() == real or data.lower() == real:
        return 0.85
    return 0.85 * (1.0 - Levenshtein.distance(data, real) / len(real))


class SpotSelector:
    """Spot scores (cached per spelling) and the chunk / sub-chunk / overlap rules."""

    def __init__(self, model: StatisticalModel):
        self.model = model
        self.weights = tuple(float(w) for w in model.header["spot_weights"])
        self._scores: dict[str, tuple[int, float]] = {}

    def ranked_lowercase(self, spot: str) -> list[tuple[int, float]]:
        """(surface form, score) candidates for a spelling that is not itself a known form,
        best first (ties by id)."""
        entry = self.model.lowercase_entry(spot.lower())
        if entry is None:
            return []
        lowercase_count, ids = entry
        ranked = []
        for sf in ids.tolist():
            total = int(self.model.sf_total[sf])
            denominator = lowercase_count + total
            share = 2.0 * total / denominator if denominator else 0.0
            score = (edit_distance_score(self.model.sf_names[sf], spot)
                     * self.model.annotation_probability(sf) * share)
            ranked.append((sf, score))
        ranked.sort(key=lambda r: (-r[1], r[0]))
        return ranked

    def spot_score(self, spot: str) -> tuple[int, float]:
        """(surface form id or -1, spot score) for a spelling, as `DBSpotter.spotScore`."""
        found = self._scores.get(spot)
        if found is not None:
            return found
        lookup = spot.replace("’", "'") if "’" in spot else spot
        sf = self.model.surface_form_id(lookup)
        if sf >= 0:
            p = self.model.annotation_probability(sf)
        else:
            ranked = self.ranked_lowercase(lookup)
            sf, p = ranked[0] if ranked else (-1, 0.0)
        if sf < 0:
            found = (-1, 0.0)
        else:
            number = _NUMBER.fullmatch(spot) is not None
            abbreviation = spot.upper() == spot and len(spot) < 5 and not number
            w = self.weights
            found = (sf, w[0] * p + w[1] * abbreviation + w[2] * number + w[3])
        if len(self._scores) >= _CACHE_LIMIT:
            self._scores.clear()
        self._scores[spot] = found
        return found

    def select(self, tokenized: TokenizedText, dictionary_first: np.ndarray,
               dictionary_end: np.ndarray, confidence: float) -> list[Spot]:
        """Spots of a text, by offset, from the FSA matches (token ranges) and capitals."""
        capitals = capital_sequences(tokenized)
        first = np.concatenate([dictionary_first, capitals[0]]).astype(np.int64)
        last = np.concatenate([dictionary_end, capitals[1]]).astype(np.int64) - 1
        kind = np.concatenate([np.ones(len(dictionary_first), dtype=np.int8),
                               np.zeros(len(capitals[0]), dtype=np.int8)])
        if len(first) == 0:
            return []
        order = np.lexsort((kind, -last, first))  # OpenNLP's Span order; same span: capitals
        first, last, kind = first[order], last[order], kind[order]
        unique = np.concatenate(([True], (first[1:] != first[:-1]) | (last[1:] != last[:-1])))
        first, last, kind = first[unique], last[unique], kind[unique]
        threshold = max(MIN_CONFIDENCE, confidence)
        text, starts, ends = tokenized.text, tokenized.starts, tokenized.ends
        spellings = [text[a:b] for a, b in zip(starts[first].tolist(), ends[last].tolist(),
                                               strict=True)]
        whole = list(map(self._scores.get, spellings))  # cached scores, without a call each
        for i in [i for i, w in enumerate(whole) if w is None]:
            whole[i] = self.spot_score(spellings[i])
        sf_list, value_list = zip(*whole, strict=True)
        sf = np.array(sf_list, dtype=np.int64)
        value = np.array(value_list, dtype=np.float64)
        start, end = first.copy(), last.copy()
        retry = np.flatnonzero(((sf < 0) | (value < threshold)) & (last > first))
        if len(retry):
            tried: dict[tuple[int, int], tuple[int, float]] = {}
            for c in retry.tolist():
                start[c], end[c], sf[c], value[c] = self._sub_chunk(
                    text, starts, ends, int(first[c]), int(last[c]), threshold, tried)
        keep = np.flatnonzero((sf >= 0) & (value >= threshold))
        a, b = starts[start[keep]], ends[end[keep]]
        _, firsts = np.unique(a * (len(text) + 1) + b, return_index=True)
        keep = keep[np.sort(firsts)]
        spots = [Spot(x, y, text[x:y], s_, v, TYPE_ORDER[k], st, lt) for x, y, s_, v, k, st, lt
                 in zip(starts[start[keep]].tolist(), ends[end[keep]].tolist(),
                        sf[keep].tolist(), value[keep].tolist(), kind[keep].tolist(),
                        start[keep].tolist(), last[keep].tolist(), strict=True)]
        return drop_overlapping_spots(spots)

    def _sub_chunk(self, text: str, starts: np.ndarray, ends: np.ndarray, first: int,
                   last: int, threshold: float, tried: dict[tuple[int, int], tuple[int, float]]
                   ) -> tuple[int, int, int, float]:
        """The first sub-chunk in Spotlight's order that passes: (start, end, sf, score)."""
        for start, end in chain(((s, last) for s in range(first + 1, last + 1)),
                                ((first, e) for e in range(last - 1, first - 1, -1))):
            result = tried.get((start, end))
            if result is None:
                result = tried[(start, end)] = self.spot_score(
                    text[int(starts[start]):int(ends[end])])
            if result[0] >= 0 and result[1] >= threshold:
                return start, end, result[0], result[1]
        return first, last, -1, 0.0


def capital_sequences(tokenized: TokenizedText) -> tuple[np.ndarray, np.ndarray]:
    """(first tokens, end tokens exclusive) of the capitalised runs, per Spotlight's
    `RegexNameFinder` over each sentence's tokens joined by single spaces."""
    tokens, n = tokenized.tokens, len(tokenized.tokens)
    none = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))
    if n == 0 or not _HAS_CAPITAL.search(tokenized.text):
        return none
    sentence_last = np.flatnonzero(tokenized.sentence[1:] != tokenized.sentence[:-1])
    if len(sentence_last):  # ";" after a sentence's last token: the pattern cannot cross it
        tokens = list(tokens)
        for i in sentence_last.tolist():
            tokens[i] += ";"
    joined = " ".join(tokens)
    matches = [m.span() for m in CAPITAL_SEQUENCE.finditer(joined)]
    if not matches:
        return none
    lengths = np.fromiter(map(len, tokens), dtype=np.int64, count=n)
    token_start = np.zeros(n, dtype=np.int64)
    np.cumsum(lengths[:-1] + 1, out=token_start[1:])
    token_end = token_start + lengths
    token_end[sentence_last] -= 1
    spans = np.array(matches, dtype=np.int64)
    first = np.minimum(np.searchsorted(token_start, spans[:, 0]), n - 1)
    ok_start = token_start[first] == spans[:, 0]
    by_end = np.minimum(np.searchsorted(token_end, spans[:, 1]), n - 1)
    ends_token = token_end[by_end] == spans[:, 1]
    by_next = np.minimum(np.searchsorted(token_start, spans[:, 1]), n - 1)
    ends_space = token_start[by_next] == spans[:, 1]
    end = np.where(ends_token, by_end + 1, by_next)
    ok = ok_start & (ends_token | ends_space) & (end > first)
    return first[ok], end[ok]


def _intersects(a: Spot, b: Spot) -> bool:
    return a.start < b.end and b.start < a.end


def drop_overlapping_spots(spots: list[Spot]) -> list[Spot]:
    """`DBSpotter.dropOverlappingSpots`: sort by (offset, length), then resolve each spot
    against the last kept one by length, score (within a factor of 2) and spot type."""
    ordered = sorted(spots, key=lambda s: (s.start, len(s.surface_form)))
    removed: set[int] = set()
    last: Spot | None = None
    for i, spot in enumerate(ordered):
        if last is None or not _intersects(last, spot):
            last = spot
            continue
        better_type = TYPE_ORDER.index(spot.kind) < TYPE_ORDER.index(last.kind)
        longer = len(spot.surface_form) > len(last.surface_form)
        if longer and spot.score > last.score / 2.0:
            removed.add(i - 1)
            last = spot
        elif not longer and not spot.score > last.score * 2.0:
            removed.add(i)
        elif spot.score == last.score and better_type:
            removed.add(i - 1)
            last = spot
        elif spot.score == last.score:
            removed.add(i)
        elif spot.score > last.score:
            removed.add(i - 1)
            last = spot
        else:
            removed.add(i)
    return [s for i, s in enumerate(ordered) if i not in removed]
