"""DBpedia Spotlight's wire formats: `/rest/annotate` and `/rest/candidates`, JSON and XML.

Parsers accept every shape real servers have sent (see the module's tests); renderers write
what a current Spotlight (1.0/1.1) writes, so a Spotlight client cannot tell the difference:
every value a string, doubles in Java's `Double.toString` form, offsets in UTF-16 units.
Parsers raise `LinkError("bad_response", ...)` for anything they cannot read.
"""

from __future__ import annotations

import json
import math
import re
import xml.etree.ElementTree as ET
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from xml.sax.saxutils import escape

from longtail.linking.annotation import (
    DBPEDIA_RESOURCE,
    SPOTLIGHT_CONFIDENCE,
    SPOTLIGHT_SUPPORT,
    Annotation,
    LinkError,
    canonical_uri,
)

# Spotlight 1.x serializes with Gson, which escapes these characters inside strings.
_GSON_ESCAPES = str.maketrans({
    "<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "=": "\\u003d", "'": "\\u0027",
    "\u2028": "\\u2028", "\u2029": "\\u2029",
})
# Attribute escaping of Xalan (annotate XML) and XStream (candidates XML).
_XALAN_ATTR = {'"': "&quot;", "\n": "&#10;", "\r": "&#13;", "\t": "&#9;"}
_XSTREAM_ATTR = {'"': "&quot;", "'": "&apos;", "\r": "&#xd;"}
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")


class Utf16Offsets:
    """Converts offsets in one text between UTF-16 units (Java's) and code points (Python's)."""

    def __init__(self, text: str):
        self._astral = [] if text.isascii() else [m.start() for m in _ASTRAL.finditer(text)]
        self._astral_utf16 = [cp + k for k, cp in enumerate(self._astral)]

    def to_code_points(self, utf16: int) -> int:
        if not self._astral:
            return utf16
        return utf16 - bisect_left(self._astral_utf16, utf16 - 1)

    def to_utf16(self, code_points: int) -> int:
        if not self._astral:
            return code_points
        return code_points + bisect_left(self._astral, code_points)


def java_double(value: float) -> str:
    """`value` as Java's `Double.toString` writes it: "1.0", "0.0", "7.564391175472872E-5".

    Digits are the shortest that round-trip (Java 19+; older JVMs sometimes print more).
    """
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "-0.0" if math.copysign(1.0, value) < 0 else "0.0"
    sign, digit_tuple, exponent = Decimal(repr(value)).as_tuple()
    digits = "".join(map(str, digit_tuple)).rstrip("0")
    exponent += len(digit_tuple) - len(digits)
    point = len(digits) - 1 + exponent  # decimal exponent of the first digit
    if 1e-3 <= abs(value) < 1e7:
        if point >= 0:
            whole = digits[: point + 1].ljust(point + 1, "0")
            text = f"{whole}.{digits[point + 1:] or '0'}"
        else:
            text = "0." + "0" * (-point - 1) + digits
    else:
        text = f"{digits[0]}.{digits[1:] or '0'}E{point}"
    return "-" + text if sign else text


def split_types(types: str) -> tuple[str, ...]:
    """Spotlight's comma-separated type list ("DBpedia:Place,Schema:Place" or ", ") as a tuple."""
    return tuple(t for t in (part.strip() for part in types.split(",")) if t)


# ---------------------------------------------------------------- annotate: parsing


def parse_annotate(body: str | bytes, text: str | None = None) -> list[Annotation]:
    """Annotations from an `/rest/annotate` response in either format (sniffed)."""
    head = body.lstrip()[:1]
    if head in ("<", b"<"):
        return parse_annotate_xml(body, text)
    return parse_annotate_json(body, text)


def parse_annotate_json(body: str | bytes, text: str | None = None) -> list[Annotation]:
    """Annotations from an `/rest/annotate` JSON response, offsets in code points of `text`.

    `text` is the text that was sent; without it the response's `@text` is used.
    """
    doc = _load_json(body)
    if not isinstance(doc, dict):
        raise _bad("annotate JSON is not an object", body)
    if text is None:
        text = doc.get("@text")
    items = _resource_items(doc.get("Resources"), body)
    return _annotations(items, text, prefix="@")


def parse_annotate_xml(body: str | bytes, text: str | None = None) -> list[Annotation]:
    """Annotations from an `/rest/annotate` XML response (root attributes optional)."""
    root = _load_xml(body)
    if root.tag != "Annotation":
        raise _bad(f"XML root is <{root.tag}>, not <Annotation>", body)
    error = root.find("Error")
    if error is not None:
        raise LinkError("bad_response", f"server error: {error.get('message', '')}")
    if text is None:
        text = root.get("text")
    items = [dict(el.attrib) for el in root.iterfind("Resources/Resource")]
    return _annotations(items, text, prefix="")


def _resource_items(resources: Any, body: str | bytes) -> list[dict]:
    if resources in (None, "", []):
        return []
    if isinstance(resources, dict):
        if "Resource" in resources:  # XML-to-JSON conversions of old servers
            return _resource_items(resources["Resource"], body)
        return [resources]
    if isinstance(resources, list) and all(isinstance(r, dict) for r in resources):
        return resources
    raise _bad("Resources is neither an object nor a list of objects", body)


def _annotations(items: list[dict], text: str | None, prefix: str) -> list[Annotation]:
    offsets = Utf16Offsets(text) if text is not None else None
    out = []
    for item in items:
        def field(name: str, item: dict = item) -> Any:
            try:
                return item[prefix + name]
            except KeyError:
                detail = f"resource without {prefix}{name}: {item}"
                raise LinkError("bad_response", detail) from None

        utf16 = _int(field("offset"), "offset")
        out.append(Annotation(
            uri=str(field("URI")),
            surface_form=str(field("surfaceForm")),
            offset=offsets.to_code_points(utf16) if offsets else utf16,
            similarity=_float(field("similarityScore"), "similarityScore"),
            second_rank=_float(item.get(prefix + "percentageOfSecondRank", -1.0),
                               "percentageOfSecondRank"),
            support=_int(field("support"), "support"),
            types=split_types(str(item.get(prefix + "types", ""))),
        ))
    return out


# ---------------------------------------------------------------- annotate: rendering


def render_annotate_json(
    text: str,
    annotations: Sequence[Annotation],
    confidence: float = SPOTLIGHT_CONFIDENCE,
    support: int = SPOTLIGHT_SUPPORT,
    types: str = "",
    sparql: str = "",
    policy: str = "whitelist",
) -> str:
    """The body Spotlight answers to `Accept: application/json` (no `Resources` when empty)."""
    doc: dict[str, Any] = {
        "@text": text,
        "@confidence": java_double(confidence),
        "@support": str(int(support)),
        "@types": types,
        "@sparql": sparql,
        "@policy": policy,
    }
    if annotations:
        offsets = Utf16Offsets(text)
        doc["Resources"] = [
            {"@" + name: value for name, value in _resource_fields(a, offsets)}
            for a in annotations
        ]
    return _gson(doc)


def render_annotate_xml(
    text: str,
    annotations: Sequence[Annotation],
    confidence: float = SPOTLIGHT_CONFIDENCE,
    support: int = SPOTLIGHT_SUPPORT,
    types: str = "",
    sparql: str = "",
    policy: str = "whitelist",
) -> str:
    """The body Spotlight answers to `Accept: text/xml`."""
    root = _xml_attrs([
        ("text", text), ("confidence", java_double(confidence)), ("support", str(int(support))),
        ("types", types), ("sparql", sparql), ("policy", policy),
    ], _XALAN_ATTR)
    lines = ['<?xml version="1.0" encoding="utf-8"?>']
    if not annotations:
        lines.append(f"<Annotation{root}/>")
    else:
        offsets = Utf16Offsets(text)
        lines += [f"<Annotation{root}>", "<Resources>"]
        lines += [f"<Resource{_xml_attrs(_resource_fields(a, offsets), _XALAN_ATTR)}/>"
                  for a in annotations]
        lines += ["</Resources>", "</Annotation>"]
    return "\n".join(lines) + "\n"


def _resource_fields(a: Annotation, offsets: Utf16Offsets) -> list[tuple[str, str]]:
    return [
        ("URI", a.uri),
        ("support", str(a.support)),
        ("types", ",".join(a.types)),
        ("surfaceForm", a.surface_form),
        ("offset", str(offsets.to_utf16(a.offset))),
        ("similarityScore", java_double(a.similarity)),
        ("percentageOfSecondRank", java_double(a.second_rank)),
    ]


# ---------------------------------------------------------------- candidates


@dataclass(frozen=True, slots=True)
class Candidate:
    """One entity `/rest/candidates` proposes for a surface form; `uri` is a full URI."""

    uri: str
    label: str
    contextual_score: float
    second_rank: float
    support: int
    prior_score: float
    final_score: float
    types: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CandidateSpot:
    """A spotted surface form (offset in code points) and its ranked candidates."""

    surface_form: str
    offset: int
    candidates: tuple[Candidate, ...]


def parse_candidates_json(body: str | bytes, text: str | None = None) -> list[CandidateSpot]:
    """Spots from a `/rest/candidates` JSON response (`surfaceForm`/`resource`: object or list)."""
    doc = _load_json(body)
    annotation = doc.get("annotation", doc) if isinstance(doc, dict) else None
    if not isinstance(annotation, dict):
        raise _bad("candidates JSON has no annotation object", body)
    if text is None:
        text = annotation.get("@text")
    spots = [
        (spot, _as_list(spot.get("resource"), body))
        for spot in _as_list(annotation.get("surfaceForm"), body)
    ]
    return _candidate_spots(spots, text, prefix="@")


def parse_candidates_xml(body: str | bytes, text: str | None = None) -> list[CandidateSpot]:
    """Spots from a `/rest/candidates` XML response."""
    root = _load_xml(body)
    if root.tag != "annotation":
        raise _bad(f"XML root is <{root.tag}>, not <annotation>", body)
    if text is None:
        text = root.get("text")
    spots = [
        (dict(el.attrib), [dict(r.attrib) for r in el.iterfind("resource")])
        for el in root.iterfind("surfaceForm")
    ]
    return _candidate_spots(spots, text, prefix="")


def _candidate_spots(
    spots: list[tuple[dict, list[dict]]], text: str | None, prefix: str
) -> list[CandidateSpot]:
    offsets = Utf16Offsets(text) if text is not None else None
    out = []
    for spot, resources in spots:
        try:
            utf16 = _int(spot[prefix + "offset"], "offset")
            out.append(CandidateSpot(
                surface_form=str(spot[prefix + "name"]),
                offset=offsets.to_code_points(utf16) if offsets else utf16,
                candidates=tuple(
                    Candidate(
                        uri=canonical_uri(str(r[prefix + "uri"])),
                        label=str(r.get(prefix + "label", "")),
                        contextual_score=_float(r[prefix + "contextualScore"], "contextualScore"),
                        second_rank=_float(r.get(prefix + "percentageOfSecondRank", -1.0),
                                           "percentageOfSecondRank"),
                        support=_int(r[prefix + "support"], "support"),
                        prior_score=_float(r[prefix + "priorScore"], "priorScore"),
                        final_score=_float(r[prefix + "finalScore"], "finalScore"),
                        types=split_types(str(r.get(prefix + "types", ""))),
                    )
                    for r in resources
                ),
            ))
        except KeyError as err:
            raise LinkError("bad_response", f"candidates item without {err}") from None
    return out


def render_candidates_json(text: str, spots: Sequence[CandidateSpot]) -> str:
    """The body Spotlight answers `/rest/candidates` with `Accept: application/json`.

    Like Spotlight's XStream/Jettison output, a single item is an object, several a list.
    """
    offsets = Utf16Offsets(text)
    annotation: dict[str, Any] = {"@text": text}
    if spots:
        annotation["surfaceForm"] = _one_or_list([
            {**{"@" + k: v for k, v in _spot_fields(s, offsets)},
             "resource": _one_or_list([{"@" + k: v for k, v in _candidate_fields(c)}
                                       for c in s.candidates])}
            for s in spots
        ])
    return json.dumps({"annotation": annotation}, ensure_ascii=False, separators=(",", ":"))


def render_candidates_xml(text: str, spots: Sequence[CandidateSpot]) -> str:
    """The body Spotlight answers `/rest/candidates` with `Accept: text/xml` (XStream style)."""
    offsets = Utf16Offsets(text)
    root = _xml_attrs([("text", text)], _XSTREAM_ATTR)
    if not spots:
        return f"<annotation{root}/>"
    lines = [f"<annotation{root}>"]
    for spot in spots:
        lines.append(f"  <surfaceForm{_xml_attrs(_spot_fields(spot, offsets), _XSTREAM_ATTR)}>")
        lines += [f"    <resource{_xml_attrs(_candidate_fields(c), _XSTREAM_ATTR)}/>"
                  for c in spot.candidates]
        lines.append("  </surfaceForm>")
    lines.append("</annotation>")
    return "\n".join(lines)


def _spot_fields(spot: CandidateSpot, offsets: Utf16Offsets) -> list[tuple[str, str]]:
    return [("name", spot.surface_form), ("offset", str(offsets.to_utf16(spot.offset)))]


def _candidate_fields(c: Candidate) -> list[tuple[str, str]]:
    uri = c.uri[len(DBPEDIA_RESOURCE):] if c.uri.startswith(DBPEDIA_RESOURCE) else c.uri
    return [
        ("label", c.label),
        ("uri", uri),
        ("contextualScore", java_double(c.contextual_score)),
        ("percentageOfSecondRank", java_double(c.second_rank)),
        ("support", str(c.support)),
        ("priorScore", java_double(c.prior_score)),
        ("finalScore", java_double(c.final_score)),
        ("types", ", ".join(c.types)),
    ]


# ---------------------------------------------------------------- shared helpers


def _gson(doc: dict) -> str:
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).translate(_GSON_ESCAPES)


def _xml_attrs(pairs: Sequence[tuple[str, str]], entities: dict[str, str]) -> str:
    return "".join(f' {name}="{escape(value, entities)}"' for name, value in pairs)


def _one_or_list(items: list[dict]) -> dict | list[dict]:
    return items[0] if len(items) == 1 else items


def _as_list(value: Any, body: str | bytes) -> list[dict]:
    if value in (None, "", []):
        return []
    items = value if isinstance(value, list) else [value]
    if not all(isinstance(item, dict) for item in items):
        raise _bad("expected an object or a list of objects", body)
    return items


def _load_json(body: str | bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as err:
        raise _bad(f"not JSON ({err})", body) from None


def _load_xml(body: str | bytes) -> ET.Element:
    try:
        return ET.fromstring(body)
    except ET.ParseError as err:
        raise _bad(f"not XML ({err})", body) from None


def _int(value: Any, name: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise LinkError("bad_response", f"{name} is not an integer: {value!r}") from None


def _float(value: Any, name: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise LinkError("bad_response", f"{name} is not a number: {value!r}") from None


def _bad(problem: str, body: str | bytes) -> LinkError:
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    return LinkError("bad_response", f"{problem}: {body[:200]!r}")
