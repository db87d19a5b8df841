"""Spotlight's `DBTwoStepDisambiguator` with `GenerativeContextSimilarity` over a model's arrays.

For each spot, up to ten candidates by P(e|s) (pair count / linked count of the form) are
scored with the unweighted mixture of logs

    score(e) = ln P(e|s) + ln P(c|e) + ln P(e),   P(e) = support / total support
    ln P(c|e) = sum over the distinct known tokens t of the context of
                ln(lambda * c(e,t) / c(e) + (1 - lambda) * P_LM(t)),  lambda = 0.2,
    P_LM(t) = (count(t) + 1) / (total tokens + vocabulary size)

against a NIL candidate whose P(s|e) is the LM probability of the spot's tokens (see
`Spot.nil_first`), P(c|e) the LM probability of the context and P(e) = 1 / total linked
count. Candidates scoring at or below NIL are dropped; the rest are ranked, softmaxed with
NIL into `similarity` (and the context scores into `contextual_score`), and each gets
`second_rank` = exp(next score - its score) (0.0 for the last, as Spotlight leaves it).

The context is the whole text when it has at most 200 sentences; otherwise consecutive
sentences are grouped into windows of at least 200 tokens and each spot is scored against its
own window, as Spotlight does (a text linked in pieces, see `segments`, gets the same windows;
its one window is the set of its distinct known tokens). Stop words and tokens unknown to the
model add the same term to every candidate and to NIL and are left out. When a form has no
pairs at all, the candidates of its five best lowercase-map forms are used
(`DBCandidateSearcher`), an entity reached through two of them keeping its best P(e|s). Ties
in score are broken by entity (URI order).

Many windows (of one text or of a batch of texts) are scored together in one vectorised pass.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import repeat

import numpy as np

from longtail.linking.statistical.model import StatisticalModel, expand_ranges
from longtail.linking.statistical.spotting import Spots, SpotSelector

_FALLBACK_FORMS = 5
_LARGE_CONTEXT = 16  # a vector this many times longer than the query is searched, not scanned

@dataclass(slots=True)
class ScoredCandidate:
    """One candidate entity of a spot, with Spotlight's scores."""

    entity: int
    uri: str
    support: int
    types: tuple[str, ...]
    prior: float
    pair_prior: float
    contextual_score: float
    similarity: float
    second_rank: float
    score: float


@dataclass(slots=True)
class SpotCandidates:
    """A spot and its candidates that beat NIL, best first."""

    surface_form: str
    offset: int
    spot_score: float
    candidates: list[ScoredCandidate]


@dataclass(slots=True)
class Scores:
    """The candidates that beat NIL, as parallel arrays grouped by spot (index into `spots`);
    `starts` indexes each group's best candidate."""

    model: StatisticalModel
    spots: Spots
    starts: np.ndarray
    spot_of: np.ndarray
    entity: np.ndarray
    support: np.ndarray
    pair_prior: np.ndarray
    score: np.ndarray
    similarity: np.ndarray
    contextual: np.ndarray
    second: np.ndarray

    def candidate(self, i: int) -> ScoredCandidate:
        model, entity = self.model, int(self.entity[i])
        return ScoredCandidate(
            entity, model.entity_uris[entity], int(self.support[i]), model.entity_types(entity),
            float(self.support[i]) / max(model.total_support, 1), float(self.pair_prior[i]),
            float(self.contextual[i]), float(self.similarity[i]), float(self.second[i]),
            float(self.score[i]))

    def spot_candidates(self) -> list[SpotCandidates]:
        bounds = np.append(self.starts, len(self.entity)).tolist()
        out = []
        spots = self.spots
        for g, s in enumerate(self.spot_of[self.starts].tolist()):
            out.append(SpotCandidates(spots.surface_form(s), int(spots.start[s]),
                                      float(spots.score[s]),
                                      [self.candidate(i) for i in range(bounds[g], bounds[g + 1])]))
        return out


class Disambiguator:
    """Scores the candidates of every spot of one or more texts."""

    def __init__(self, model: StatisticalModel, selector: SpotSelector):
        self.model = model
        self.selector = selector
        header = model.header
        lam = float(header["smoothing_lambda"])
        self.max_candidates = int(header["max_candidates"])
        self.max_context = int(header["max_context"])
        self.log_lambda = math.log(lam)
        self.log_rest = math.log(1.0 - lam)
        self.log_lm_total = math.log(max(int(header["total_tokens"]) + int(header["vocabulary"]),
                                         1))
        self.log_nil_prior = -math.log(max(model.total_annotated, 1))
        self.log_total_support = math.log(max(model.total_support, 1))
        self.vocabulary = max(len(model.vocab_hash), 1)

    def windows(self, sentence: np.ndarray, token_starts: np.ndarray, spot_starts: np.ndarray,
                offset: int = 0, whole: bool | None = None
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Context windows of one text whose tokens are `offset + i`, as (first tokens, end
        tokens, the window of each spot); `spot_starts` ascending. Windows without a spot are
        left out. `whole` True or False says whether the text is one window (for a piece of a
        longer text, see `segments`); None decides by its number of sentences."""
        n = len(sentence)
        if n == 0 or len(spot_starts) == 0:
            none = np.zeros(0, dtype=np.int64)
            return none, none, none
        sentence_ends = np.append(np.flatnonzero(sentence[1:] != sentence[:-1]) + 1, n)
        if whole or (whole is None and len(sentence_ends) <= self.max_context):
            return (np.array([offset]), np.array([offset + n]),
                    np.zeros(len(spot_starts), dtype=np.int64))
        bounds, begin = [], 0
        for end in sentence_ends[:-1].tolist():
            if end - begin >= self.max_context:
                bounds.append(end)
                begin = end
        ends = np.array(bounds + [n], dtype=np.int64)
        begins = np.concatenate(([0], ends[:-1]))
        # a spot belongs to the first window whose last token starts at or after it
        window = np.searchsorted(token_starts[ends - 1], spot_starts)
        used, window = np.unique(window, return_inverse=True)
        return begins[used] + offset, ends[used] + offset, window.ravel()

    def score(self, vocab: np.ndarray, spots: Spots, window_begin: np.ndarray,
              window_end: np.ndarray, spot_window: np.ndarray,
              context: np.ndarray | None = None,
              context_gains: dict[int, float] | None = None) -> Scores | None:
        """Scored candidates of every spot against its context window (token ranges);
        `vocab` holds the per-token vocabulary ids of the text(s) the windows index (-1: stop
        word or unknown). `context`, the sorted distinct vocabulary ids of a longer text,
        stands for the one window instead (see `segments`); `context_gains` then keeps each
        entity's context score against it from one piece of that text to the next."""
        if not len(spots):
            return None
        model = self.model
        if context is None:
            keys = self._window_tokens(vocab, window_begin, window_end)
        else:
            keys = context.astype(np.int64)
        query_key, query_lm, nil_context = self._queries(keys, len(window_begin))
        spot_of, entity, prior = self._candidates(spots)
        if len(entity) == 0:
            return None
        window_of = spot_window[spot_of]
        pairs, inverse = np.unique(window_of * len(model.entity_support) + entity,
                                   return_inverse=True)
        pair_window, pair_entity = np.divmod(pairs, len(model.entity_support))
        if context_gains is None:
            gain = self._context_gain(pair_window, pair_entity, query_key, query_lm)
        else:
            gain = np.fromiter(map(context_gains.get, pair_entity.tolist(), repeat(math.nan)),
                               dtype=np.float64, count=len(pair_entity))
            new = np.flatnonzero(np.isnan(gain))
            if len(new):
                gain[new] = self._context_gain(pair_window[new], pair_entity[new], query_key,
                                               query_lm)
                context_gains.update(zip(pair_entity[new].tolist(), gain[new].tolist(),
                                         strict=True))
        context = nil_context[window_of] + gain[inverse]
        support = model.entity_support[entity]
        with np.errstate(divide="ignore"):
            score = (np.log(prior) + context + np.log(support.astype(np.float64))
                     - self.log_total_support)
        nil_spot_context = nil_context[spot_window]
        nil = self._nil_surface(vocab, spots) + nil_spot_context + self.log_nil_prior
        keep = np.flatnonzero(score > nil[spot_of])
        if len(keep) == 0:
            return None
        order = keep[np.lexsort((entity[keep], -score[keep], spot_of[keep]))]
        spot_of, entity, prior, score, context, support = (
            spot_of[order], entity[order], prior[order], score[order], context[order],
            support[order])
        starts = np.flatnonzero(np.concatenate(([True], spot_of[1:] != spot_of[:-1])))
        group = np.repeat(np.arange(len(starts)), np.diff(np.append(starts, len(order))))
        group_spot = spot_of[starts]
        similarity = np.exp(score - _log_sum_exp(score, starts, group, nil[group_spot]))
        contextual = np.exp(context - _log_sum_exp(context, starts, group,
                                                   nil_spot_context[group_spot]))
        second = np.zeros(len(order))
        follows = np.flatnonzero(np.append(spot_of[1:] == spot_of[:-1], False))
        second[follows] = np.exp(score[follows + 1] - score[follows])
        return Scores(model, spots, starts, spot_of, entity, support, prior, score, similarity,
                      contextual, second)

    def _window_tokens(self, vocab: np.ndarray, begins: np.ndarray, ends: np.ndarray
                       ) -> np.ndarray:
        """Sorted (window * V + token) keys of each window's distinct known tokens."""
        lengths = ends - begins
        ids = vocab[expand_ranges(begins, lengths)]
        owner = np.repeat(np.arange(len(begins)), lengths)
        known = ids >= 0
        return np.unique(owner[known] * self.vocabulary + ids[known])

    def _queries(self, keys: np.ndarray, windows: int
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The window token keys, their ln((1 - lambda) P_LM), and each window's NIL context
        score (their sum)."""
        counts = self.model.vocab_count[keys % self.vocabulary].astype(np.float64)
        lm = self.log_rest + np.log(counts + 1.0) - self.log_lm_total
        nil_context = np.bincount(keys // self.vocabulary, weights=lm, minlength=windows)
        return keys, lm, nil_context

    def _nil_surface(self, vocab: np.ndarray, spots: Spots) -> np.ndarray:
        """ln P(s|NIL) per spot: LM probability of its NIL tokens; stop words and unknown
        tokens count 1, as Spotlight's STOPWORD and UNKNOWN token types do."""
        first = spots.nil_first
        lengths = spots.nil_last - first
        ids = vocab[expand_ranges(first, lengths)]
        counts = np.ones(len(ids), dtype=np.float64)
        known = ids >= 0
        counts[known] = self.model.vocab_count[ids[known]]
        terms = self.log_rest + np.log(counts + 1.0) - self.log_lm_total
        owner = np.repeat(np.arange(len(spots)), lengths)
        return np.bincount(owner, weights=terms, minlength=len(spots))

    def _candidates(self, spots: Spots) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(spot index, entity, P(e|s)) of the top candidates of every spot, by prior."""
        model = self.model
        sfs = spots.sf
        offsets = model.sf_pair_offsets
        begin = offsets[sfs].astype(np.int64)
        available = offsets[sfs + 1].astype(np.int64) - begin
        lengths = np.minimum(available, self.max_candidates)
        index = expand_ranges(begin, lengths)
        spot_of = np.repeat(np.arange(len(spots)), lengths)
        entity = model.pair_entity[index].astype(np.int64)
        linked = model.sf_annotated[sfs].astype(np.float64)
        prior = model.pair_count[index] / linked[spot_of]
        empty = np.flatnonzero(available == 0)
        if len(empty):
            extra = [self._fallback(spots.surface_form(i)) for i in empty.tolist()]
            spot_of = np.concatenate([spot_of] + [np.full(len(e), i) for i, (e, _) in
                                                  zip(empty.tolist(), extra, strict=True)])
            entity = np.concatenate([entity] + [e for e, _ in extra])
            prior = np.concatenate([prior] + [p for _, p in extra])
        return spot_of, entity, prior

    def _fallback(self, spelling: str) -> tuple[np.ndarray, np.ndarray]:
        """Candidates of the best lowercase-map forms, when the spot's own form has none."""
        best: dict[int, float] = {}
        for sf, _ in self.selector.ranked_lowercase(spelling)[:_FALLBACK_FORMS]:
            begin, end = self.model.pair_slice(sf)
            linked = float(self.model.sf_annotated[sf])
            for e, c in zip(self.model.pair_entity[begin:end].tolist(),
                            self.model.pair_count[begin:end].tolist(), strict=True):
                best[e] = max(best.get(e, 0.0), c / linked)
        ranked = sorted(best.items(), key=lambda item: (-item[1], item[0]))[:self.max_candidates]
        return (np.array([e for e, _ in ranked], dtype=np.int64),
                np.array([p for _, p in ranked], dtype=np.float64))

    def _context_gain(self, pair_window: np.ndarray, pair_entity: np.ndarray,
                      query_key: np.ndarray, query_lm: np.ndarray) -> np.ndarray:
        """ln P(c|e) - ln P(c|NIL) per (window, entity) pair: only tokens in both the
        window's context and the entity's vector differ from NIL."""
        gain = np.zeros(len(pair_entity))
        if len(query_key) == 0 or len(pair_entity) == 0:
            return gain
        model, v = self.model, self.vocabulary
        offsets = model.entity_context_offsets
        begin = offsets[pair_entity].astype(np.int64)
        lengths = offsets[pair_entity + 1].astype(np.int64) - begin
        totals = model.entity_context_total[pair_entity].astype(np.float64)
        window_bounds = np.searchsorted(query_key, np.arange(pair_window.max() + 2) * v)
        query_size = np.diff(window_bounds)[pair_window]
        large = lengths > _LARGE_CONTEXT * np.maximum(query_size, 1)
        small = np.flatnonzero(~large & (lengths > 0))
        if len(small):
            index = expand_ranges(begin[small], lengths[small])
            owner = np.repeat(np.arange(len(small)), lengths[small])
            keys = pair_window[small][owner] * v + model.context_token[index]
            pos = np.minimum(np.searchsorted(query_key, keys), len(query_key) - 1)
            hit = np.flatnonzero(query_key[pos] == keys)
            if len(hit):
                owner, pos = owner[hit], pos[hit]
                ml = self.log_lambda + np.log(
                    model.context_count[index[hit]].astype(np.float64) / totals[small][owner])
                lm = query_lm[pos]
                gain[small] = np.bincount(owner, weights=np.logaddexp(lm, ml) - lm,
                                          minlength=len(small))
        for i in np.flatnonzero(large).tolist():
            a, b = window_bounds[pair_window[i]], window_bounds[pair_window[i] + 1]
            query = query_key[a:b] % v
            tokens = model.context_token[begin[i]:begin[i] + lengths[i]]
            pos = np.minimum(np.searchsorted(tokens, query), len(tokens) - 1)
            hit = np.flatnonzero(tokens[pos] == query)
            if len(hit):
                ml = self.log_lambda + np.log(
                    model.context_count[begin[i] + pos[hit]].astype(np.float64) / totals[i])
                lm = query_lm[a:b][hit]
                gain[i] = float((np.logaddexp(lm, ml) - lm).sum())
        return gain


def _log_sum_exp(values: np.ndarray, starts: np.ndarray, group: np.ndarray,
                 extra: np.ndarray) -> np.ndarray:
    """Per element: log(sum(exp(values of its group)) + exp(extra of its group))."""
    top = np.maximum(np.maximum.reduceat(values, starts), extra)
    total = np.add.reduceat(np.exp(values - top[group]), starts) + np.exp(extra - top)
    return (top + np.log(total))[group]
