"""Spotlight endpoints shared by the threads of one client: in-flight caps and resting.

An endpoint that fails `failures_before_rest` requests in a row (connection error, timeout,
5xx) rests, for 1 s the first time and twice as long each time its probe fails again, up to
`rest_seconds`; while probing it takes one request at a time until one succeeds.
When every endpoint is resting and none has answered for `give_up_seconds`, the pool raises
`EndpointsUnreachable`: an outage stops the run (to be resumed) instead of marking every
remaining document as failed.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from longtail.errors import UsageError

_LONGEST_IDLE_WAIT = 1.0  # seconds between re-checks while every endpoint is busy
_FIRST_REST = 1.0  # seconds; doubled for each rest in a row, up to rest_seconds


def rest_base_url(endpoint: str) -> str:
    """`http://host:2222/rest` from `http://host:2222`, `.../rest` or `.../rest/annotate`."""
    url = endpoint.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"not a Spotlight endpoint URL (want http://host:port/rest): {endpoint!r}")
    if parts.query or parts.fragment:
        raise UsageError(f"a Spotlight endpoint URL takes no query or fragment: {endpoint!r}")
    for api in ("/annotate", "/candidates", "/spot", "/disambiguate"):
        if url.endswith("/rest" + api):
            return url[: -len(api)]
    return url if url.endswith("/rest") else url + "/rest"


class EndpointsUnreachable(RuntimeError):
    """No Spotlight endpoint has answered for too long: the run stops, to be resumed later."""


@dataclass(eq=False)
class Endpoint:
    """One Spotlight server and what the client knows of its health."""

    base_url: str
    in_flight: int = 0
    failures_in_a_row: int = 0
    rest_until: float = 0.0
    rests_in_a_row: int = 0
    probing: bool = False  # after a rest: one request at a time until one succeeds

    def url(self, api: str) -> str:
        return f"{self.base_url}/{api}"


class EndpointPool:
    """Hands out endpoints round-robin, at most `max_in_flight` requests each at a time."""

    def __init__(
        self,
        base_urls: list[str],
        max_in_flight: int,
        failures_before_rest: int,
        rest_seconds: float,
        give_up_seconds: float = 600.0,
    ):
        self.endpoints = [Endpoint(url) for url in base_urls]
        self._give_up_seconds = give_up_seconds
        self._last_answer = time.monotonic()
        self._max_in_flight = max_in_flight
        self._failures_before_rest = failures_before_rest
        self._rest_seconds = rest_seconds
        self._next = 0
        self._changed = threading.Condition()

    def acquire(self, avoid: Endpoint | None = None) -> Endpoint:
        """An endpoint with a free slot, preferring one other than `avoid`; waits for one
        (while all rest, until the soonest rest ends). Pair every call with `release`."""
        with self._changed:
            while True:
                now = time.monotonic()
                endpoint = self._pick(now, avoid)
                if endpoint is not None:
                    endpoint.in_flight += 1
                    return endpoint
                silent = now - self._last_answer
                if silent > self._give_up_seconds and all(
                        e.rest_until > now for e in self.endpoints):
                    raise EndpointsUnreachable(
                        f"no Spotlight endpoint answered for {silent:.0f} s "
                        f"({', '.join(e.base_url for e in self.endpoints)}); finished shards "
                        "are kept: run the same command again once they are up")
                self._changed.wait(self._wait_seconds(now))

    def release(self, endpoint: Endpoint, healthy: bool) -> None:
        """Return the slot; `healthy` is False after a connection error, timeout or 5xx."""
        with self._changed:
            endpoint.in_flight -= 1
            if healthy:
                self._last_answer = time.monotonic()
                endpoint.failures_in_a_row = 0
                endpoint.rests_in_a_row = 0
                endpoint.probing = False
            else:
                endpoint.failures_in_a_row += 1
                if endpoint.probing or endpoint.failures_in_a_row >= self._failures_before_rest:
                    rest = min(self._rest_seconds, _FIRST_REST * 2**endpoint.rests_in_a_row)
                    endpoint.rests_in_a_row += 1
                    endpoint.rest_until = time.monotonic() + rest
                    endpoint.probing = True
                    endpoint.failures_in_a_row = 0
            self._changed.notify_all()

    def _pick(self, now: float, avoid: Endpoint | None) -> Endpoint | None:
        count = len(self.endpoints)
        usable = [
            e
            for e in (self.endpoints[(self._next + i) % count] for i in range(count))
            if self._usable(e, now)
        ]
        if not usable:
            return None
        chosen = next((e for e in usable if e is not avoid), usable[0])
        self._next = (self.endpoints.index(chosen) + 1) % count
        return chosen

    def _usable(self, endpoint: Endpoint, now: float) -> bool:
        if endpoint.rest_until > now:
            return False
        limit = 1 if endpoint.probing else self._max_in_flight
        return endpoint.in_flight < limit

    def _wait_seconds(self, now: float) -> float:
        rest_ends = [e.rest_until for e in self.endpoints if e.rest_until > now]
        if rest_ends:
            return min(min(rest_ends) - now, _LONGEST_IDLE_WAIT)
        return _LONGEST_IDLE_WAIT
