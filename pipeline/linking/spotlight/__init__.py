"""DBpedia Spotlight: a REST client that follows the `Linker` protocol, and its wire formats."""

from longtail.linking.spotlight.client import SpotlightClient
from longtail.linking.spotlight.wire import (
    Candidate,
    CandidateSpot,
    java_double,
    parse_annotate,
    parse_annotate_json,
    parse_annotate_xml,
    parse_candidates_json,
    parse_candidates_xml,
    render_annotate_json,
    render_annotate_xml,
    render_candidates_json,
    render_candidates_xml,
)

__all__ = [
    "Candidate",
    "CandidateSpot",
    "SpotlightClient",
    "java_double",
    "parse_annotate",
    "parse_annotate_json",
    "parse_annotate_xml",
    "parse_candidates_json",
    "parse_candidates_xml",
    "render_annotate_json",
    "render_annotate_xml",
    "render_candidates_json",
    "render_candidates_xml",
]
