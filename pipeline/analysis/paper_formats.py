"""The formats Kandpal et al. (2022) released, and their entity records.

- Entity map, `*_entity_map.npz`: one int32 array per DBpedia URI (the array's name) holding
  the indices of the corpus documents that mention the entity. Their linking script stored a
  document whose request failed under a marker name instead, `__SPOTLIGHT_EXCEPTION__`,
  `__CONNECTION_ERROR__` or `__HTTP_ERROR__`; those are failures here, not entities.
- QA entities, JSON Lines, line i for QA row i: `{"q_entities": [...], "a_entities": [...]}`,
  each entity a Spotlight `Resources` item without the "@" of its keys. The released files
  went through pyspotlight, which turns every value that parses as a number into one (support,
  offset, scores, and a surface form such as "1984"); raw Spotlight gives strings. Both are
  read; either is written. Offsets are Spotlight's UTF-16 units: the question for question
  entities, `question + "\\n" + "\\n".join(answers)` for answer entities.
"""

from __future__ import annotations

import re
from typing import Any

from longtail.errors import UsageError
from longtail.linking.spotlight.wire import java_double

ENTITY_KEYS = ("URI", "support", "types", "surfaceForm", "offset", "similarityScore",
               "percentageOfSecondRank")
VALUE_STYLES = ("pyspotlight", "spotlight")
IMPORT_STAGE = "import"
_MARKER = re.compile(r"^__([A-Z][A-Z_]*[A-Z])__$")


def marker_reason(key: str) -> str | None:
    """`spotlight_exception` for `__SPOTLIGHT_EXCEPTION__`; None for an entity URI."""
    match = _MARKER.match(key)
    return match.group(1).lower() if match else None


def marker_key(reason: str) -> str:
    return f"__{reason.upper()}__"


class BadRecord(ValueError):
    """An entity record that cannot be read; the message says which key and why."""


def parse_entity(record: Any) -> tuple[str, int, list[str], str, int, float, float]:
    """(uri, support, types, surface form, offset in UTF-16 units, similarity, second rank)."""
    if not isinstance(record, dict):
        raise BadRecord(f"an entity is {type(record).__name__}, not an object")
    missing = [k for k in ENTITY_KEYS if k not in record]
    if missing:
        raise BadRecord(f"an entity has no {', '.join(missing)}")
    uri = record["URI"]
    if not isinstance(uri, str) or not uri:
        raise BadRecord("URI is not a non-empty string")
    types = record["types"]
    if isinstance(types, str):
        types = types.split(",") if types else []
    elif not (isinstance(types, list) and all(isinstance(t, str) for t in types)):
        raise BadRecord(f"types of {uri} is neither a string nor a list of strings")
    surface = record["surfaceForm"]
    if isinstance(surface, bool) or not isinstance(surface, str | int | float):
        raise BadRecord(f"surfaceForm of {uri} is {type(surface).__name__}")
    return (uri, _integer(record["support"], "support", uri), types, str(surface),
            _integer(record["offset"], "offset", uri),
            _number(record["similarityScore"], "similarityScore", uri),
            _number(record["percentageOfSecondRank"], "percentageOfSecondRank", uri))


def render_entity(uri: str, support: int, types: list[str], surface: str, offset: int,
                  similarity: float, second_rank: float, style: str = "pyspotlight"
                  ) -> dict[str, Any]:
    """An entity record in the released files' shape; `style` spotlight keeps every value a
    string as Spotlight writes it, pyspotlight converts numbers as pyspotlight does."""
    if style == "spotlight":
        values = (uri, str(support), ",".join(types), surface, str(offset),
                  java_double(similarity), java_double(second_rank))
    elif style == "pyspotlight":
        values = (uri, support, ",".join(types), pyspotlight_value(surface), offset,
                  similarity, second_rank)
    else:
        raise UsageError(f"unknown value style {style!r}; choose {' or '.join(VALUE_STYLES)}")
    return dict(zip(ENTITY_KEYS, values, strict=True))


def pyspotlight_value(text: str) -> str | int | float:
    """What pyspotlight makes of a string value: an int if it parses, else a float, else it."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def _integer(value: Any, key: str, uri: str) -> int:
    if isinstance(value, bool):
        raise BadRecord(f"{key} of {uri} is a boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            pass
    raise BadRecord(f"{key} of {uri} is not an integer: {value!r}")


def _number(value: Any, key: str, uri: str) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    raise BadRecord(f"{key} of {uri} is not a number: {value!r}")
