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
overlapping spots go through the sequential overlap rule. A spelling longer than the model's
longest surface form (`StatisticalModel.longest_spelling`) cannot be found, so it is neither
built nor looked up, and of a chunk only the sub-chunks short enough are tried: a capitalised run
of n tokens (`"Paris " * n`) costs O(n), not the O(n^2) characters of its 2n sub-chunks, with
the same spots. `SpotSelector.work` counts spans, sub-chunks and characters looked up.

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
from longtail.linking.statistical.scanning import STOP, classes, stable_hashes
from longtail.linking.statistical.spotter import MIX, KeyTable, append, contains_sorted
from longtail.linking.statistical.tokenizer import TokenizedText, stable_hash

CAPITAL_SEQUENCE = re.compile(r"(?:[A-Z][^ ,!?.:;]*[ ]?)+")
_NUMBER = re.compile(r"[0-9]+")
CAPITALS, DICTIONARY = "Capital_Sequences", "m"
TYPE_ORDER = (CAPITALS, DICTIONARY)
MIN_CONFIDENCE = 0.1
_CACHE_LIMIT = 1_000_000
WORK_COUNTERS = ("spans", "spans_looked_up", "sub_chunks", "spelling_chars")
_MIX = np.uint64(MIX)


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
    """Spot scores (cached per spelling) and the chunk / sub-chunk / overlap rules.

    `work` counts, since it was made: spans asked for (`spans`), spans short enough to be
    looked up (`spans_looked_up`), sub-chunks tried (`sub_chunks`) and characters of the
    spellings built to look up (`spelling_chars`)."""

    def __init__(self, model: StatisticalModel):
        self.model = model
        self.weights = tuple(float(w) for w in model.header["spot_weights"])
        self._slots = KeyTable()  # span key -> row of _sf and _score
        self._sf = np.zeros(1, dtype=np.int64)  # rows past len(_slots) are spare room
        self._score = np.zeros(1)
        self.longest = model.longest_spelling
        self.work = dict.fromkeys(WORK_COUNTERS, 0)

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
        sf, score = self._compute([spot])
        return int(sf[0]), float(score[0])

    def _compute(self, spellings: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """`spot_score` of many spellings: (surface form ids, scores)."""
        model = self.model
        lookups = [s.replace("’", "'") if "’" in s else s for s in spellings]
        known, sf = contains_sorted(model.sf_hash, stable_hashes(lookups))
        sf = np.where(known, sf, -1)
        p = np.zeros(len(lookups))
        p[known] = model.annotation_probabilities(sf[known])
        unknown = np.flatnonzero(~known)
        if len(unknown):
            lowered = [lookups[i].lower() for i in unknown.tolist()]
            listed, pos = contains_sorted(model.lower_hash, stable_hashes(lowered))
            offsets = model.lower_offsets
            for i, j in zip(unknown[listed].tolist(), pos[listed].tolist(), strict=True):
                ids = model.lower_sf[int(offsets[j]):int(offsets[j + 1])]
                ranked = self._rank(lookups[i], int(model.lower_count[j]), ids)
                if ranked:
                    sf[i], p[i] = ranked[0]
        w = self.weights
        score = np.zeros(len(spellings))
        found = np.flatnonzero(sf >= 0)
        for i, probability in zip(found.tolist(), p[found].tolist(), strict=True):
            spot = spellings[i]
            number = _NUMBER.fullmatch(spot) is not None
            abbreviation = spot.upper() == spot and len(spot) < 5 and not number
            score[i] = w[0] * probability + w[1] * abbreviation + w[2] * number + w[3]
        return sf, score

    def span_scores(self, tokenized: TokenizedText, gaps: np.ndarray, first: np.ndarray,
                    last: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """`spot_score` of the spellings `text[starts[first]:ends[last]]`. A spelling longer
        than `model.longest_spelling` is no surface form (-1, 0.0) without a look; the others
        are cached by a 64-bit key of their tokens and the gaps between them (see
        `span_keys`), and only those not cached are built as strings and looked up."""
        self.work["spans"] += len(first)
        fits = tokenized.ends[last] - tokenized.starts[first] <= self.longest
        if not fits.all():
            sf, score = np.full(len(first), -1, dtype=np.int64), np.zeros(len(first))
            at = np.flatnonzero(fits)
            if len(at):
                sf[at], score[at] = self._cached_scores(tokenized, gaps, first[at], last[at])
            return sf, score
        return self._cached_scores(tokenized, gaps, first, last)

    def _cached_scores(self, tokenized: TokenizedText, gaps: np.ndarray, first: np.ndarray,
                       last: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        self.work["spans_looked_up"] += len(first)
        keys = span_keys(tokenized.hashes, gaps, first, last)
        slots = self._slots.get(keys)
        hit = slots >= 0
        slots[~hit] = 0
        sf = np.where(hit, self._sf[slots], -1)
        score = np.where(hit, self._score[slots], 0.0)
        missing = np.flatnonzero(~hit)
        if len(missing):
            new_keys, at, inverse = np.unique(keys[missing], return_index=True,
                                              return_inverse=True)
            text, starts, ends = tokenized.text, tokenized.starts, tokenized.ends
            which = missing[at]
            begin, end = starts[first[which]], ends[last[which]]
            self.work["spelling_chars"] += int((end - begin).sum())
            new_sf, new_score = self._compute([text[a:b] for a, b in zip(
                begin.tolist(), end.tolist(), strict=True)])
            sf[missing], score[missing] = new_sf[inverse.ravel()], new_score[inverse.ravel()]
            self._store(new_keys, new_sf, new_score)
        return sf, score

    def _store(self, keys: np.ndarray, sf: np.ndarray, score: np.ndarray) -> None:
        if len(self._slots) + len(keys) > _CACHE_LIMIT:
            self._slots.clear()
        first = len(self._slots)
        self._slots.add(keys, np.arange(first, first + len(keys)))
        self._sf = append(self._sf, sf, first)
        self._score = append(self._score, score, first)

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
        gaps = gap_keys(tokenized)
        sf, value = self.span_scores(tokenized, gaps, first, last)
        start, end = first.copy(), last.copy()
        retry = np.flatnonzero(((sf < 0) | (value < threshold)) & (last > first))
        if len(retry):
            start[retry], end[retry], sf[retry], value[retry] = self._sub_chunks(
                tokenized, gaps, first[retry], last[retry], threshold)
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

    def _sub_chunks(self, tokenized: TokenizedText, gaps: np.ndarray,
                    first: np.ndarray, last: np.ndarray, threshold: float
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """For each chunk, the first sub-chunk in Spotlight's order that passes: (start, end,
        sf, score); a chunk without one gets (first, last, -1, 0.0).

        Spotlight's order is: drop 1, 2, ... n tokens from the left, then from the right. Only
        the sub-chunks no longer than `longest` code points can pass, and those are the
        last ones of each side: a chunk of any length tries at most about 2 x `longest`."""
        starts, ends, longest = tokenized.starts, tokenized.ends, self.longest
        n = last - first
        # left: [first + 1 + k, last] fits from k = left_skip; right: [first, last - 1 - k]
        # fits from k = right_skip
        left_skip = np.clip(np.searchsorted(starts, ends[last] - longest) - first - 1, 0, n)
        right_skip = np.clip(last - np.searchsorted(ends, starts[first] + longest, "right"),
                             0, n)
        lefts, rights = n - left_skip, n - right_skip
        tries = expand_ranges(np.zeros(len(n), dtype=np.int64), lefts + rights)
        chunk = np.repeat(np.arange(len(n)), lefts + rights)
        self.work["sub_chunks"] += len(tries)
        left = tries < lefts[chunk]  # dropping tokens from the left, then from the right
        sub_start = np.where(left, first[chunk] + 1 + left_skip[chunk] + tries, first[chunk])
        sub_end = np.where(left, last[chunk],
                           last[chunk] - 1 - right_skip[chunk] - (tries - lefts[chunk]))
        sf, value = self.span_scores(tokenized, gaps, sub_start, sub_end)
        passing = np.flatnonzero((sf >= 0) & (value >= threshold))
        winners, at = np.unique(chunk[passing], return_index=True)
        best = passing[at]
        out_start, out_end = first.copy(), last.copy()
        out_sf, out_value = np.full(len(n), -1, dtype=np.int64), np.zeros(len(n))
        out_start[winners], out_end[winners] = sub_start[best], sub_end[best]
        out_sf[winners], out_value[winners] = sf[best], value[best]
        return out_start, out_end, out_sf, out_value


_EMPTY_GAP, _SPACE_GAP = stable_hash(""), stable_hash(" ")


def gap_keys(tokenized: TokenizedText) -> np.ndarray:
    """Per token, the `stable_hash` of the text between it and the next token."""
    starts, ends, text = tokenized.starts, tokenized.ends, tokenized.text
    keys = np.full(len(starts), _EMPTY_GAP, dtype=np.uint64)
    if len(starts) < 2:
        return keys
    width = starts[1:] - ends[:-1]
    keys[:-1][width == 1] = _SPACE_GAP
    other = np.flatnonzero(width > 0)
    if len(other):
        other = other[(width[other] > 1) | (tokenized.points[ends[other]] != 32)]
        keys[other] = stable_hashes([text[a:b] for a, b in zip(
            ends[other].tolist(), starts[other + 1].tolist(), strict=True)])
    return keys


def span_keys(hashes: np.ndarray, gaps: np.ndarray, first: np.ndarray,
              last: np.ndarray) -> np.ndarray:
    """A 64-bit key of each token span `first..last` (inclusive): the sequence hash of its
    token hashes interleaved with its gap keys, so equal keys mean equal spellings
    (up to 64-bit collisions, as in `Spotter`)."""
    keys = hashes[first].copy()
    alive = np.flatnonzero(last > first)
    at = first[alive]
    while len(alive):
        keys[alive] = (keys[alive] * _MIX + gaps[at]) * _MIX + hashes[at + 1]
        at = at + 1
        more = at < last[alive]
        alive, at = alive[more], at[more]
    return keys


def capital_sequences(tokenized: TokenizedText) -> tuple[np.ndarray, np.ndarray]:
    """(first tokens, end tokens exclusive) of the capitalised runs, per Spotlight's
    `RegexNameFinder`: the matches of `CAPITAL_SEQUENCE` over each sentence's tokens joined by
    single spaces (a sentence's last token followed by ";") that start and end at token bounds.

    The regular expression is not run; its scan is followed token by token. A match that
    reaches the end of a token with no character of ` ,!?.:;` after its last capital goes on
    into the next token if that starts with a capital, so such a token can start no match of
    its own; a match from the start of token t continues to t + 1 when t is a capital with no
    such character after its first and is not the last of its sentence; it ends at a token
    bound unless its last token holds such a character (then it stops inside it).
    """
    n = len(tokenized)
    none = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))
    if n == 0:
        return none
    points, starts, ends = tokenized.points, tokenized.starts, tokenized.ends
    capital = (points >= 65) & (points <= 90)
    if not capital.any():
        return none
    stop = classes(points) & STOP > 0
    positions = np.arange(len(points))
    last_stop = np.maximum.accumulate(np.where(stop, positions, -1))[ends - 1]
    last_capital = np.maximum.accumulate(np.where(capital, positions, -1))[ends - 1]
    stops = np.concatenate(([0], np.cumsum(stop)))
    inner_stop = stops[ends] > stops[starts + 1]  # a stop character after the first
    sentence_last = np.append(tokenized.sentence[1:] != tokenized.sentence[:-1], False)
    leads = capital[starts]
    carries = (last_capital >= starts) & (last_capital > last_stop) & ~sentence_last
    begins = leads.copy()
    begins[1:] &= ~carries[:-1]
    links = np.append(leads[:-1] & ~inner_stop[:-1] & ~sentence_last[:-1] & leads[1:], False)
    first = np.flatnonzero(begins)
    unlinked = np.flatnonzero(~links)
    last = unlinked[np.searchsorted(unlinked, first)]
    ok = ~inner_stop[last]
    return first[ok], last[ok] + 1


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
