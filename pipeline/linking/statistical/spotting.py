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

Every chunk, sub-chunk and spot of a text is handled at once as numpy arrays: spot scores are
cached per spelling and the spellings not cached yet are looked up together; only runs of
overlapping spots go through the sequential overlap rule.

Deliberate differences: `’` in a spot is read as `'` for the lookup (Spotlight stores names
with `'` but looks spots up verbatim, so it never finds them), and a spot's length is counted
in code points rather than UTF-16 units.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
from rapidfuzz.distance import Levenshtein

from longtail.linking.statistical.model import StatisticalModel, expand_ranges
from longtail.linking.statistical.spotter import contains_sorted
from longtail.linking.statistical.tokenizer import TokenizedText, stable_hash

CAPITAL_SEQUENCE = re.compile(r"(?:[A-Z][^ ,!?.:;]*[ ]?)+")
_NUMBER = re.compile(r"[0-9]+")
_HAS_CAPITAL = re.compile(r"[A-Z]")
CAPITALS, DICTIONARY = "Capital_Sequences", "m"
TYPE_ORDER = (CAPITALS, DICTIONARY)
MIN_CONFIDENCE = 0.1
_CACHE_LIMIT = 500_000
_NOT_A_FORM = (-1, 0.0)


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


@dataclass(slots=True)
class Spots:
    """The spots of a text as parallel arrays, by offset: the fields of `Spot`, with `kind`
    an index into `TYPE_ORDER`."""

    text: str
    start: np.ndarray
    end: np.ndarray
    sf: np.ndarray
    score: np.ndarray
    kind: np.ndarray
    nil_first: np.ndarray
    nil_last: np.ndarray

    @classmethod
    def empty(cls, text: str) -> Spots:
        none = np.zeros(0, dtype=np.int64)
        return cls(text, none, none, none, np.zeros(0), np.zeros(0, dtype=np.int8), none, none)

    def __len__(self) -> int:
        return len(self.start)

    def surface_form(self, i: int) -> str:
        return self.text[int(self.start[i]):int(self.end[i])]

    def surface_forms(self, index: np.ndarray) -> list[str]:
        text = self.text
        return [text[a:b] for a, b in zip(self.start[index].tolist(), self.end[index].tolist(),
                                          strict=True)]

    def to_list(self) -> list[Spot]:
        text = self.text
        return [Spot(a, b, text[a:b], s, v, TYPE_ORDER[k], f, e) for a, b, s, v, k, f, e in zip(
            self.start.tolist(), self.end.tolist(), self.sf.tolist(), self.score.tolist(),
            self.kind.tolist(), self.nil_first.tolist(), self.nil_last.tolist(), strict=True)]


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
        return [] if entry is None else self._rank(spot, *entry)

    def _rank(self, spot: str, lowercase_count: int, ids: np.ndarray) -> list[tuple[int, float]]:
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
        sf, score = self.scores([spot])
        return int(sf[0]), float(score[0])

    def scores(self, spellings: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """`spot_score` of many spellings: (surface form ids, scores); the ones not cached
        are looked up together."""
        cache = self._scores
        found = list(map(cache.get, spellings))
        if None in found:
            missing = list(dict.fromkeys(s for s, f in zip(spellings, found, strict=True)
                                         if f is None))
            computed = dict(zip(missing, self._compute(missing), strict=True))
            found = [computed[s] if f is None else f
                     for s, f in zip(spellings, found, strict=True)]
            if len(cache) + len(computed) > _CACHE_LIMIT:
                cache.clear()
            cache.update(computed)
        if not found:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        sf, score = zip(*found, strict=True)
        return np.array(sf, dtype=np.int64), np.array(score, dtype=np.float64)

    def _compute(self, spellings: list[str]) -> list[tuple[int, float]]:
        model = self.model
        lookups = [s.replace("’", "'") if "’" in s else s for s in spellings]
        known, sf = contains_sorted(model.sf_hash, np.fromiter(
            map(stable_hash, lookups), dtype=np.uint64, count=len(lookups)))
        sf = np.where(known, sf, -1)
        p = np.zeros(len(lookups))
        p[known] = model.annotation_probabilities(sf[known])
        unknown = np.flatnonzero(~known)
        if len(unknown):
            lowered = [lookups[i].lower() for i in unknown.tolist()]
            listed, pos = contains_sorted(model.lower_hash, np.fromiter(
                map(stable_hash, lowered), dtype=np.uint64, count=len(lowered)))
            offsets = model.lower_offsets
            for i, j in zip(unknown[listed].tolist(), pos[listed].tolist(), strict=True):
                ids = model.lower_sf[int(offsets[j]):int(offsets[j + 1])]
                ranked = self._rank(lookups[i], int(model.lower_count[j]), ids)
                if ranked:
                    sf[i], p[i] = ranked[0]
        w = self.weights
        out = [_NOT_A_FORM] * len(spellings)
        for i, s, probability in zip(np.flatnonzero(sf >= 0).tolist(), sf[sf >= 0].tolist(),
                                     p[sf >= 0].tolist(), strict=True):
            spot = spellings[i]
            number = _NUMBER.fullmatch(spot) is not None
            abbreviation = spot.upper() == spot and len(spot) < 5 and not number
            out[i] = (s, w[0] * probability + w[1] * abbreviation + w[2] * number + w[3])
        return out

    def select(self, tokenized: TokenizedText, dictionary_first: np.ndarray,
               dictionary_end: np.ndarray, confidence: float) -> Spots:
        """Spots of a text, by offset, from the FSA matches (token ranges) and capitals."""
        capitals = capital_sequences(tokenized)
        first = np.concatenate([dictionary_first, capitals[0]]).astype(np.int64)
        last = np.concatenate([dictionary_end, capitals[1]]).astype(np.int64) - 1
        kind = np.concatenate([np.ones(len(dictionary_first), dtype=np.int8),
                               np.zeros(len(capitals[0]), dtype=np.int8)])
        text, starts, ends = tokenized.text, tokenized.starts, tokenized.ends
        if len(first) == 0:
            return Spots.empty(text)
        order = np.lexsort((kind, -last, first))  # OpenNLP's Span order; same span: capitals
        first, last, kind = first[order], last[order], kind[order]
        unique = np.concatenate(([True], (first[1:] != first[:-1]) | (last[1:] != last[:-1])))
        first, last, kind = first[unique], last[unique], kind[unique]
        threshold = max(MIN_CONFIDENCE, confidence)
        sf, value = self.scores([text[a:b] for a, b in zip(
            starts[first].tolist(), ends[last].tolist(), strict=True)])
        start, end = first.copy(), last.copy()
        retry = np.flatnonzero(((sf < 0) | (value < threshold)) & (last > first))
        if len(retry):
            start[retry], end[retry], sf[retry], value[retry] = self._sub_chunks(
                tokenized, first[retry], last[retry], threshold)
        keep = np.flatnonzero((sf >= 0) & (value >= threshold))
        a, b = starts[start[keep]], ends[end[keep]]
        _, firsts = np.unique(a * (len(text) + 1) + b, return_index=True)
        keep = keep[np.sort(firsts)]
        a, b = starts[start[keep]], ends[end[keep]]
        by_offset = np.lexsort((b - a, a))
        keep, a, b = keep[by_offset], a[by_offset], b[by_offset]
        kept = drop_overlapping(a, b, value[keep], kind[keep])
        keep, a, b = keep[kept], a[kept], b[kept]
        return Spots(text, a, b, sf[keep], value[keep], kind[keep], start[keep], last[keep])

    def _sub_chunks(self, tokenized: TokenizedText, first: np.ndarray, last: np.ndarray,
                    threshold: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """For each chunk, the first sub-chunk in Spotlight's order that passes: (start, end,
        sf, score); a chunk without one gets (first, last, -1, 0.0)."""
        n = last - first
        tries = expand_ranges(np.zeros(len(n), dtype=np.int64), 2 * n)  # position in order
        chunk = np.repeat(np.arange(len(n)), 2 * n)
        left = tries < n[chunk]  # dropping tokens from the left, then from the right
        sub_start = np.where(left, first[chunk] + 1 + tries, first[chunk])
        sub_end = np.where(left, last[chunk], last[chunk] - 1 - (tries - n[chunk]))
        spans, inverse = np.unique(sub_start * len(tokenized) + sub_end, return_inverse=True)
        text, starts, ends = tokenized.text, tokenized.starts, tokenized.ends
        sf, value = self.scores([text[a:b] for a, b in zip(
            starts[spans // len(tokenized)].tolist(), ends[spans % len(tokenized)].tolist(),
            strict=True)])
        sf, value = sf[inverse.ravel()], value[inverse.ravel()]
        passing = np.flatnonzero((sf >= 0) & (value >= threshold))
        winners, at = np.unique(chunk[passing], return_index=True)
        best = passing[at]
        out_start, out_end = first.copy(), last.copy()
        out_sf, out_value = np.full(len(n), -1, dtype=np.int64), np.zeros(len(n))
        out_start[winners], out_end[winners] = sub_start[best], sub_end[best]
        out_sf[winners], out_value[winners] = sf[best], value[best]
        return out_start, out_end, out_sf, out_value


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


def drop_overlapping(start: np.ndarray, end: np.ndarray, score: np.ndarray,
                     kind: np.ndarray) -> np.ndarray:
    """`DBSpotter.dropOverlappingSpots` over spots sorted by (offset, length): each spot is
    resolved against the last kept one by length, score (within a factor of 2) and spot type.
    Returns the indices kept. A spot that overlaps no earlier spot is kept without a look."""
    n = len(start)
    reach = np.empty(n, dtype=np.int64)  # the furthest end of any earlier spot
    if n:
        reach[0] = -1
        np.maximum.accumulate(end[:-1], out=reach[1:])
    overlapping = start < reach
    if not overlapping.any():
        return np.arange(n)
    removed = np.zeros(n, dtype=bool)
    starts, ends = start.tolist(), end.tolist()
    scores, kinds = score.tolist(), kind.tolist()
    for i in np.flatnonzero(overlapping).tolist():
        if not overlapping[i - 1]:  # a run of overlapping spots starts at i - 1
            last = i - 1
        if not (starts[last] < ends[i] and starts[i] < ends[last]):
            last = i
            continue
        better_type = kinds[i] < kinds[last]
        longer = ends[i] - starts[i] > ends[last] - starts[last]
        if longer and scores[i] > scores[last] / 2.0:
            removed[i - 1] = True
            last = i
        elif not longer and not scores[i] > scores[last] * 2.0:
            removed[i] = True
        elif scores[i] == scores[last] and better_type:
            removed[i - 1] = True
            last = i
        elif scores[i] == scores[last]:
            removed[i] = True
        elif scores[i] > scores[last]:
            removed[i - 1] = True
            last = i
        else:
            removed[i] = True
    return np.flatnonzero(~removed)
