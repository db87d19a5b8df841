"""The per-request guard of `longtail serve` (`longtail.serve.limits`), in this process.

Real memory is allocated and real CPU time spent; the guard's watchdog must stop them. Each
runaway loop is bounded by itself, so a guard that fails ends the test with a failure, never
with an exhausted machine.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest
import requests

from longtail.errors import UsageError
from longtail.linking.annotation import LinkError
from longtail.linking.statistical import StatisticalLinker, StatisticalModel
from longtail.serve.command import byte_size
from longtail.serve.limits import RequestGuard, TooCostly, anonymous_memory
from longtail.serve.server import SpotlightServer
from tests.unit.test_serve import write_model

MB = 1 << 20


def grow(chunks: list[bytearray], limit_mb: int) -> str:
    """Allocate (and touch) 1 MB at a time into `chunks`, up to `limit_mb`; a guard that
    works stops it first."""
    for _ in range(limit_mb):
        chunks.append(bytearray(MB))
        time.sleep(0.002)
    return "never stopped"


def spin(seconds: float) -> str:
    """Burn CPU for up to `seconds` of wall time."""
    deadline = time.monotonic() + seconds
    n = 0
    while time.monotonic() < deadline:
        n += 1
    return "never stopped"


def test_a_text_that_keeps_allocating_is_stopped_near_its_budget():
    guard = RequestGuard(max_memory=32 * MB)
    guard.open()
    chunks: list[bytearray] = []
    before = anonymous_memory()
    with pytest.raises(TooCostly, match="more than the 32 MB of memory a request may use"):
        guard.run(1000, grow, chunks, 1024)
    assert before is not None
    # stopped within a few samples of the budget, far below the loop's own 1 GB bound
    assert 32 <= len(chunks) < 256
    assert guard.stopped == 1
    chunks.clear()
    # the thread is usable again and no stop is left pending for it
    assert guard.run(10, sum, [1, 2, 3]) == 6
    time.sleep(0.05)
    assert guard.run(10, sum, [4]) == 4


def test_a_text_over_its_cpu_time_is_stopped():
    guard = RequestGuard(max_memory=1 << 30, max_cpu_seconds=0.2)
    began = time.monotonic()
    with pytest.raises(TooCostly, match=r"more than 0.2 s of CPU"):
        guard.run(10, spin, 60.0)
    assert time.monotonic() - began < 60.0
    assert guard.run(10, spin, 0.0) == "never stopped"  # a short one goes through


def test_the_linkers_estimate_refuses_a_text_before_linking():
    seen: list[str] = []

    def estimate(text: str) -> int:
        seen.append(text)
        return 100 * len(text)

    guard = RequestGuard(max_memory=10 * MB, estimate=estimate)
    guard.admit("short")
    with pytest.raises(TooCostly) as refused:
        guard.admit("x" * 200_000)
    assert str(refused.value) == ("linking this text needs about 19 MB, more than the 10 MB of "
                                  "memory a request may use; send it in smaller pieces")
    assert seen == ["short", "x" * 200_000]
    # an estimate given with the text is used when the guard has none of its own
    RequestGuard(max_memory=10 * MB).admit("x" * 10, estimate)
    with pytest.raises(TooCostly):
        RequestGuard(max_memory=10 * MB).admit("x" * 200_000, estimate)


def test_the_server_refuses_with_the_linkers_own_estimate(tmp_path):
    model_dir = write_model(tmp_path)
    linker = StatisticalLinker.load(model_dir)
    text = "Paris and Berlin " * 6000
    needed = linker.working_memory(text)
    assert needed > 16 * MB
    with SpotlightServer(StatisticalModel.load(model_dir), port=0, threads=1,
                         max_request_memory=16 * MB).start() as server:
        answer = requests.post(f"{server.url}/annotate", data={"text": text},
                               headers={"Accept": "application/json"}, timeout=60)
        small = requests.post(f"{server.url}/annotate", data={"text": "Paris"},
                              headers={"Accept": "application/json"}, timeout=60)
    assert answer.status_code == 413
    assert answer.json() == {"error": f"linking this text needs about {needed / MB:,.0f} MB, "
                                      f"more than the 16 MB of memory a request may use; send it "
                                      f"in smaller pieces"}
    assert small.status_code == 200


@pytest.mark.parametrize("error", [MemoryError("out"), LinkError("internal_error", "x")])
def test_memory_errors_become_too_costly_and_others_pass(error):
    def fail() -> None:
        if isinstance(error, LinkError):
            raise error from MemoryError("Unable to allocate 5.00 GiB")
        raise error

    guard = RequestGuard(max_memory=64 * MB)
    with pytest.raises(TooCostly, match="64 MB"):
        guard.run(10, fail)

    def other() -> None:
        raise LinkError("not_text", "expected a string")

    with pytest.raises(LinkError, match="expected a string"):
        guard.run(10, other)


def test_two_texts_at_once_only_the_larger_is_stopped():
    guard = RequestGuard(max_memory=24 * MB)
    guard.open()
    results: dict[str, object] = {}
    small: list[bytearray] = []
    big: list[bytearray] = []
    started = threading.Event()

    def small_text() -> str:
        small.append(bytearray(4 * MB))
        started.set()
        time.sleep(0.5)
        return "answered"

    def run(name: str, size: int, operation, *args) -> None:
        try:
            results[name] = guard.run(size, operation, *args)
        except TooCostly as err:
            results[name] = err

    a = threading.Thread(target=run, args=("small", 100, small_text))
    a.start()
    started.wait(5)
    b = threading.Thread(target=run, args=("big", 100_000, grow, big, 1024))
    b.start()
    a.join(30)
    b.join(30)
    assert results["small"] == "answered"
    assert isinstance(results["big"], TooCostly)
    assert len(big) < 256


def test_a_worker_that_keeps_memory_after_a_stop_asks_to_be_replaced():
    guard = RequestGuard(max_memory=16 * MB)
    guard.open()
    asked = threading.Event()
    guard.on_recycle = asked.set
    kept: list[bytearray] = []  # still referenced after the stop, as a leak would be
    with pytest.raises(TooCostly):
        guard.run(10, grow, kept, 1024)
    assert asked.is_set()
    kept.clear()
    fresh = RequestGuard(max_memory=16 * MB)
    fresh.open()
    fresh.on_recycle = asked.clear
    with pytest.raises(TooCostly):
        fresh.run(10, lambda: grow([], 1024))  # nothing kept: it goes back, no replacement
    assert asked.is_set()


def test_the_server_answers_413_and_then_what_the_linker_gives(tmp_path):
    model_dir = write_model(tmp_path)
    linker = StatisticalLinker.load(model_dir)
    with SpotlightServer(StatisticalModel.load(model_dir), port=0, threads=1,
                         max_request_seconds=0.05).start() as server:
        big = requests.post(f"{server.url}/annotate", data={"text": "Paris Berlin " * 60_000},
                            headers={"Accept": "application/json"}, timeout=120)
        assert big.status_code == 413
        assert big.json() == {"error": "linking this text took more than 0.05 s of CPU, the "
                                       "most a request may use; send it in smaller pieces"}
        text = "Marie Curie won the Nobel Prize in Paris. Mercury is the planet."
        small = requests.post(f"{server.url}/annotate", data={"text": text},
                              headers={"Accept": "application/json"}, timeout=30)
        assert small.status_code == 200
        got = [(r["@URI"], int(r["@offset"])) for r in small.json()["Resources"]]
        assert got == [(a.uri, a.offset) for a in linker.annotate(text)]
        health = requests.get(server.url.replace("/rest", "/health"), timeout=10).json()
        assert health["requests_stopped"] == 1
        assert health["max_request_cpu_seconds"] == 0.05


@pytest.mark.parametrize("value, size", [("1048576", MB), ("512M", 512 * MB), ("2G", 2 << 30),
                                         ("1.5g", 3 << 29), ("64MiB", 64 * MB), ("1k", None),
                                         ("12X", None), ("", None), ("-1G", None)])
def test_byte_sizes(value, size):
    if size is None:
        with pytest.raises(UsageError, match="--max-request-memory"):
            byte_size(value, "--max-request-memory")
    else:
        assert byte_size(value, "--max-request-memory") == size


HARD_CAP = """
import numpy as np
from longtail.serve.limits import RequestGuard, TooCostly
guard = RequestGuard(max_memory=64 << 20)
cap = guard.limit_process_memory(threads=1)
if cap is None:
    raise SystemExit("no cap could be set")  # then never try the allocation below
print("cap", cap)
small = np.ones(32 << 17)  # 32 MB: within the cap
try:
    guard.run(10, np.ones, 1 << 29)  # 4 GB at once, faster than any watchdog could see
except TooCostly as err:
    print("refused:", err)
print("after", np.ones(32 << 17).sum() == 32 << 17)
"""


def test_the_process_cap_turns_one_huge_allocation_into_413_not_growth():
    done = subprocess.run([sys.executable, "-c", HARD_CAP], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("cap ") and int(lines[0].split()[1]) > 64 << 20
    assert lines[1:] == ["refused: linking this text needs more than the 64 MB of memory a "
                         "request may use; send it in smaller pieces", "after True"]
