"""A client for DBpedia Spotlight's REST API that survives what real servers do.

Spotlight answers any internal exception with HTTP 400 and a Java stack trace, rejects big
bodies, stalls under load and restarts for minutes while it loads its model. The client cuts
long texts at sentence boundaries, halves texts that a server rejects until the bad part is
isolated, retries connection errors, timeouts and 5xx with backoff on another endpoint, and
rests endpoints that keep failing. A text gets all its annotations or a `LinkError`: never
a partial result.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from typing import TypeVar
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

from longtail.errors import UsageError
from longtail.linking.annotation import (
    SPOTLIGHT_CONFIDENCE,
    SPOTLIGHT_SUPPORT,
    Annotation,
    LinkError,
    LinkResult,
)
from longtail.linking.chunking import split_for_request, split_in_half
from longtail.linking.spotlight.endpoints import EndpointPool, rest_base_url
from longtail.linking.spotlight.wire import CandidateSpot, parse_annotate, parse_candidates_json

Item = TypeVar("Item", Annotation, CandidateSpot)

_PENDING_PER_SLOT = 4  # annotate_many keeps this many texts per in-flight slot in memory
_LONGEST_BACKOFF = 30.0


class _Rejected(Exception):
    """The server refused this text (400: an exception inside Spotlight; 413: too big)."""

    def __init__(self, reason: str, first_line: str):
        super().__init__(reason)
        self.reason = reason
        self.first_line = first_line


class SpotlightClient:
    """The `Linker` for one or more DBpedia Spotlight servers.

    `endpoints` take the forms `http://host:2222`, `http://host:2222/rest` and
    `http://host:2222/rest/annotate`. `max_chars` bounds one request (code points; 100,000
    keeps a form-encoded body under Spotlight's 2 MB even for 4-byte characters); a text
    rejected with 400 is halved down to `min_split_chars`. Error reasons: http_400,
    too_large, http_5xx, timeout, connection, bad_response.
    """

    def __init__(
        self,
        endpoints: Sequence[str],
        confidence: float = SPOTLIGHT_CONFIDENCE,
        support: int = SPOTLIGHT_SUPPORT,
        types: str = "",
        sparql: str = "",
        policy: str = "whitelist",
        max_in_flight: int = 5,
        connect_timeout: float = 5.0,
        read_timeout: float = 60.0,
        retries: int = 4,
        backoff: float = 0.5,
        max_chars: int = 100_000,
        min_split_chars: int = 200,
        failures_before_rest: int = 3,
        rest_seconds: float = 30.0,
        give_up_seconds: float = 600.0,
    ):
        if isinstance(endpoints, str):
            endpoints = [endpoints]
        if not endpoints:
            raise UsageError("give at least one Spotlight endpoint URL")
        _check(0.0 <= confidence <= 1.0, f"confidence must be between 0 and 1, got {confidence}")
        _check(support >= 0, f"support must be >= 0, got {support}")
        _check(policy in ("whitelist", "blacklist"), f"policy must be whitelist or blacklist, "
               f"got {policy!r}")
        _check(max_in_flight >= 1, f"max_in_flight must be >= 1, got {max_in_flight}")
        _check(connect_timeout > 0 and read_timeout > 0, "timeouts must be > 0")
        _check(retries >= 0 and backoff >= 0, "retries and backoff must be >= 0")
        _check(max_chars >= 1, f"max_chars must be >= 1, got {max_chars}")
        _check(min_split_chars >= 1, f"min_split_chars must be >= 1, got {min_split_chars}")
        _check(failures_before_rest >= 1, "failures_before_rest must be >= 1")
        _check(rest_seconds >= 0, "rest_seconds must be >= 0")
        self.confidence = confidence
        self.support = support
        self.types = types
        self.sparql = sparql
        self.policy = policy
        self.max_in_flight = max_in_flight
        self.timeout = (connect_timeout, read_timeout)
        self.retries = retries
        self.backoff = backoff
        self.max_chars = max_chars
        self.min_split_chars = min_split_chars
        base_urls = [rest_base_url(e) for e in endpoints]
        self._pool = EndpointPool(base_urls, max_in_flight, failures_before_rest, rest_seconds,
                                  give_up_seconds)
        self._session = _pooled_session(base_urls, max_in_flight)
        self._executor: ThreadPoolExecutor | None = None
        self._executor_lock = threading.Lock()

    @property
    def endpoints(self) -> list[str]:
        return [e.base_url for e in self._pool.endpoints]

    # ------------------------------------------------------------ Linker

    def annotate(self, text: str) -> list[Annotation]:
        """Annotations for `text`, offsets in code points, ordered by offset."""
        found = self._link(text, "annotate", parse_annotate)
        return sorted(found, key=lambda a: a.offset)

    def candidates(self, text: str) -> list[CandidateSpot]:
        """Ranked candidate entities per spotted surface form (`/rest/candidates`)."""
        found = self._link(text, "candidates", parse_candidates_json)
        return sorted(found, key=lambda s: s.offset)

    def annotate_many(self, items: Iterable[tuple[object, str]]) -> Iterator[LinkResult]:
        """One `LinkResult` per `(key, text)`, in input order, annotated concurrently.

        Reads ahead at most four texts per in-flight slot, so an endless iterator is fine;
        one slow text holds back the results after it, not the requests.
        """
        executor = self._thread_pool()
        window = _PENDING_PER_SLOT * self._capacity
        pending: deque[tuple[object, Future[list[Annotation]]]] = deque()
        try:
            for key, text in items:
                pending.append((key, executor.submit(self.annotate, text)))
                if len(pending) >= window:
                    yield _result(*pending.popleft())
            while pending:
                yield _result(*pending.popleft())
        finally:
            for _, future in pending:
                future.cancel()

    def close(self) -> None:
        with self._executor_lock:
            if self._executor is not None:
                self._executor.shutdown(wait=False, cancel_futures=True)
                self._executor = None
        self._session.close()

    def __enter__(self) -> SpotlightClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------ pieces

    @property
    def _capacity(self) -> int:
        return self.max_in_flight * len(self._pool.endpoints)

    def _thread_pool(self) -> ThreadPoolExecutor:
        with self._executor_lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(self._capacity, "spotlight")
            return self._executor

    def _link(
        self, text: str, api: str, parse: Callable[[bytes, str], list[Item]]
    ) -> list[Item]:
        if not text.strip():
            return []
        pieces = [(0, text)] if len(text) <= self.max_chars else split_for_request(
            text, self.max_chars)
        found: list[Item] = []
        for start, piece in pieces:
            found += self._link_piece(piece, start, api, parse)
        return found

    def _link_piece(
        self, piece: str, start: int, api: str, parse: Callable[[bytes, str], list[Item]]
    ) -> list[Item]:
        """Items of `piece` with offsets shifted by `start`; halves the piece on rejection."""
        if not piece.strip():
            return []
        try:
            found = self._request(piece, api, parse)
        except _Rejected as rejected:
            if len(piece) <= self.min_split_chars:
                end = start + len(piece)
                raise LinkError(
                    rejected.reason, f"{rejected.first_line} (chars {start}-{end})"
                ) from None
            left, right = split_in_half(piece)
            return (self._link_piece(left, start, api, parse)
                    + self._link_piece(right, start + len(left), api, parse))
        _check_surface_forms(found, piece)
        return [replace(item, offset=item.offset + start) for item in found] if start else found

    def _request(
        self, text: str, api: str, parse: Callable[[bytes, str], list[Item]]
    ) -> list[Item]:
        """One text, sent until an endpoint answers; retried errors raise their last reason."""
        form = {
            "text": text,
            "confidence": repr(float(self.confidence)),
            "support": str(self.support),
            "types": self.types,
            "sparql": self.sparql,
            "policy": self.policy,
        }
        error = LinkError("connection", "no attempt made")
        endpoint = None
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self._backoff_seconds(attempt))
            endpoint = self._pool.acquire(avoid=endpoint)
            healthy = False
            try:
                response = self._session.post(
                    endpoint.url(api), data=form, timeout=self.timeout,
                    headers={"Accept": "application/json"},
                )
                status = response.status_code
                healthy = status < 500
            except requests.Timeout as err:
                error = LinkError("timeout", f"{endpoint.base_url}: {err}")
                continue
            except requests.RequestException as err:
                error = LinkError("connection", f"{endpoint.base_url}: {err}")
                continue
            finally:
                self._pool.release(endpoint, healthy)
            if status >= 500:
                error = LinkError("http_5xx", f"HTTP {status} from {endpoint.base_url}: "
                                  f"{_first_line(response.content)}")
                continue
            if status == 400:
                raise _Rejected("http_400", _first_line(response.content))
            if status == 413:
                raise _Rejected("too_large", _first_line(response.content) or "HTTP 413")
            if status != 200:
                raise LinkError("bad_response", f"HTTP {status} from {endpoint.url(api)}: "
                                f"{_first_line(response.content)}")
            return parse(response.content, text)
        raise error

    def _backoff_seconds(self, attempt: int) -> float:
        """Exponential backoff with jitter: about `backoff * 2**(attempt-1)`."""
        return min(self.backoff * 2 ** (attempt - 1), _LONGEST_BACKOFF) * random.uniform(0.5, 1.5)


def _pooled_session(base_urls: list[str], max_in_flight: int) -> requests.Session:
    """One session whose connection pools hold as many connections as requests in flight."""
    per_host = Counter(urlsplit(url).netloc for url in base_urls)
    adapter = HTTPAdapter(
        pool_connections=len(per_host), pool_maxsize=max_in_flight * max(per_host.values()),
        max_retries=0,
    )
    session = requests.Session()
    session.trust_env = False  # no proxies or .netrc look-ups per request for cluster hosts
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def _check_surface_forms(found: Sequence[Annotation | CandidateSpot], text: str) -> None:
    """Offsets that miss their surface form mean the server saw another text."""
    for item in found:
        if text[item.offset : item.offset + len(item.surface_form)] != item.surface_form:
            raise LinkError(
                "bad_response",
                f"surface form {item.surface_form!r} is not at offset {item.offset}",
            )


def _result(key: object, future: Future[list[Annotation]]) -> LinkResult:
    try:
        return LinkResult(key, future.result())
    except LinkError as err:
        return LinkResult(key, error=err)


def _first_line(body: bytes) -> str:
    text = body.decode("utf-8", "replace").strip()
    return text.splitlines()[0][:500] if text else ""


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise UsageError(message)
