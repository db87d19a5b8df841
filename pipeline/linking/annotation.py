"""The annotation record every linker returns, and the protocol linkers follow."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable
from urllib.parse import unquote

# DBpedia Spotlight's defaults for `confidence` and `support`, which every linker, the server
# and the stage flags share.
SPOTLIGHT_CONFIDENCE = 0.5
SPOTLIGHT_SUPPORT = 0

DBPEDIA_RESOURCE = "http://dbpedia.org/resource/"
_WIKIPEDIA_PREFIXES = (
    "http://en.wikipedia.org/wiki/",
    "https://en.wikipedia.org/wiki/",
)


@dataclass(frozen=True, slots=True)
class Annotation:
    """One linked mention, the fields of a Spotlight `Resources` item with typed values.

    `offset` is in Python code points (Spotlight's own offsets are UTF-16 units).
    """

    uri: str
    surface_form: str
    offset: int
    similarity: float
    second_rank: float
    support: int
    types: tuple[str, ...] = ()


class LinkError(Exception):
    """A text could not be linked. `reason` is a short machine-readable code."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass(slots=True)
class LinkResult:
    """The outcome for one text of a batch: annotations, or the error that stopped it."""

    key: object
    annotations: list[Annotation] = field(default_factory=list)
    error: LinkError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@runtime_checkable
class Linker(Protocol):
    """What the pipeline needs from a linker; `SpotlightClient` and `StatisticalLinker` both fit."""

    confidence: float
    support: int

    def annotate(self, text: str) -> list[Annotation]:
        """Annotations for one text, ordered by offset. Raises `LinkError`."""
        ...

    def annotate_many(self, items: Iterable[tuple[object, str]]) -> Iterator[LinkResult]:
        """One `LinkResult` per `(key, text)`, in input order; never raises for one bad text."""
        ...

    def close(self) -> None: ...


def annotate_each(linker: Linker, items: Iterable[tuple[object, str]]) -> Iterator[LinkResult]:
    """Sequential `annotate_many` for linkers without their own concurrency."""
    for key, text in items:
        try:
            yield LinkResult(key, linker.annotate(text))
        except LinkError as err:
            yield LinkResult(key, error=err)


def canonical_uri(uri: str) -> str:
    """A DBpedia resource URI from any of the forms wikistats and Spotlight use.

    `X`, `http://en.wikipedia.org/wiki/X` and `http://dbpedia.org/resource/X` all give
    `http://dbpedia.org/resource/X`; other full URIs (e.g. nl.dbpedia.org) are kept as they are.
    """
    uri = uri.strip()
    for prefix in _WIKIPEDIA_PREFIXES:
        if uri.startswith(prefix):
            return DBPEDIA_RESOURCE + unquote(uri[len(prefix) :]).replace(" ", "_")
    if uri.startswith(("http://", "https://")):
        return uri
    return DBPEDIA_RESOURCE + uri.replace(" ", "_")


def entity_id(uri: str) -> int:
    """A stable non-negative 63-bit id for a URI, the same in every run, corpus and stage."""
    digest = hashlib.blake2b(uri.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") & 0x7FFF_FFFF_FFFF_FFFF
