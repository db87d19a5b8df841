"""Spotlight's `/rest/annotate`, `/rest/candidates` and `/rest/spot` over the embedded linker.

Each function takes one request's checked parameters and a `StatisticalLinker` and returns the
response body in Spotlight's format (the `longtail.linking.spotlight.wire` renderers).

- annotate: the linker's annotations (confidence, support), then Spotlight's type filter.
- candidates: every spot's candidates that pass Spotlight's filters one by one (support > S,
  the type filter, similarity >= c, percentage of second rank <= 1 - c^2); spots left
  without a candidate are dropped, as Spotlight's `Candidates` resource does. Spots come by
  offset (Spotlight's come in hash-map order).
- spot: the spots kept at the request's confidence, each with an empty resource list.
"""

from __future__ import annotations

from urllib.parse import unquote

from longtail.linking.annotation import DBPEDIA_RESOURCE
from longtail.linking.spotlight.wire import (
    Candidate,
    CandidateSpot,
    render_annotate_json,
    render_annotate_xml,
    render_candidates_json,
    render_candidates_xml,
)
from longtail.linking.statistical import ScoredCandidate, StatisticalLinker
from longtail.serve.parameters import SpotlightParams, TypeFilter

OPERATIONS = ("annotate", "candidates", "spot")


def annotate(linker: StatisticalLinker, params: SpotlightParams, fmt: str) -> str:
    found = linker.annotate(params.text, confidence=params.confidence, support=params.support)
    keep = params.type_filter
    found = [a for a in found if keep.accepts(a.types)]
    render = render_annotate_json if fmt == "json" else render_annotate_xml
    return render(params.text, found, confidence=params.confidence, support=params.support,
                  types=params.types, sparql=params.sparql, policy=params.policy)


def candidates(linker: StatisticalLinker, params: SpotlightParams, fmt: str) -> str:
    keep = params.type_filter
    spots = []
    for spot in linker.candidates(params.text, confidence=params.confidence):
        passed = tuple(_candidate(c) for c in spot.candidates
                       if passes(c, params.confidence, params.support, keep))
        if passed:
            spots.append(CandidateSpot(spot.surface_form, spot.offset, passed))
    render = render_candidates_json if fmt == "json" else render_candidates_xml
    return render(params.text, spots)


def spot(linker: StatisticalLinker, params: SpotlightParams, fmt: str) -> str:
    spots = [CandidateSpot(s.surface_form, s.start, ())
             for s in linker.spots(params.text, confidence=params.confidence)]
    render = render_candidates_json if fmt == "json" else render_candidates_xml
    return render(params.text, spots)


def passes(candidate: ScoredCandidate, confidence: float, support: int,
           keep: TypeFilter) -> bool:
    """Spotlight's `OccsFilter` on one candidate."""
    return (candidate.support > support and keep.accepts(candidate.types)
            and candidate.similarity >= confidence
            and candidate.second_rank <= 1.0 - confidence * confidence)


def _candidate(c: ScoredCandidate) -> Candidate:
    name = c.uri[len(DBPEDIA_RESOURCE):] if c.uri.startswith(DBPEDIA_RESOURCE) else c.uri
    return Candidate(uri=c.uri, label=unquote(name).replace("_", " "),
                     contextual_score=c.contextual_score, second_rank=c.second_rank,
                     support=c.support, prior_score=c.prior, final_score=c.similarity,
                     types=c.types)
