"""What one request may cost a worker: memory and CPU time for linking its text.

    guard = RequestGuard(max_memory=1 << 30, max_cpu_seconds=60, estimate=None)
    guard.run(len(text), linker.annotate, text)     # in a linker thread; TooCostly if over

Three layers, cheapest first:
1. An estimate of the working memory linking a text needs (`estimate(text) -> bytes`; the
   server passes `StatisticalLinker.working_memory`): a text estimated over `max_memory` is
   refused before any linking.
2. A watchdog thread samples the process's anonymous memory (its resident memory less the
   mapped model and libraries, from /proc/self/statm) every 10 ms while texts are linked, and
   each linker thread's CPU clock. When the growth since the worker was last idle passes
   `max_memory` per text being linked, the longest of those texts is stopped; a text whose
   linking used more than `max_cpu_seconds` of CPU is stopped too. Stopping raises an
   exception inside the linker thread (at its next Python instruction), which unwinds it and
   frees what it held.
3. `limit_process_memory(threads)` caps the process's data segment (RLIMIT_DATA: private
   writable memory, not the read-only mapped model) at its size now plus `threads` requests'
   worth and a margin, so a single allocation too large for the watchdog to see in time fails
   with MemoryError instead of growing the worker. Only for a process that does nothing but
   serve (a pre-forked worker).

Any of these ends as `TooCostly`, which the server answers with 413. A worker that, idle
after a stopped text, still holds more than half of `max_memory` above its size at start
(memory the allocator did not give back) asks to be replaced through `on_recycle`.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import gc
import os
import resource
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")
SAMPLE_SECONDS = 0.01  # the watchdog's period while texts are being linked
DATA_MARGIN = 256 << 20  # RLIMIT_DATA headroom over the requests' budget (threads, buffers)
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


class TooCostly(Exception):
    """A text that needs more than one request may use; answered with 413."""


class _Stop(BaseException):
    """Raised inside a linker thread whose text went over a limit. A BaseException, so that
    the linker's own `except Exception` (which turns errors into LinkError) lets it through."""


def anonymous_memory() -> int | None:
    """Resident anonymous memory of this process in bytes (None where /proc is missing)."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            fields = statm.read().split()
    except OSError:
        return None
    return (int(fields[1]) - int(fields[2])) * _PAGE  # resident - file-backed and shared


def data_size() -> int | None:
    """This process's data segment (VmData, what RLIMIT_DATA limits) in bytes."""
    try:
        with open("/proc/self/status", "rb") as status:
            for line in status:
                if line.startswith(b"VmData:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def give_back_memory() -> None:
    """Collect garbage and ask glibc's allocator to return free pages to the system."""
    gc.collect()
    name = ctypes.util.find_library("c") if sys.platform.startswith("linux") else None
    if name:
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(name).malloc_trim(0)


def _raise_in_thread(thread_id: int, exception: type[BaseException] | None) -> None:
    """Make `exception` pending in thread `thread_id` (None clears a pending one)."""
    ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(thread_id), ctypes.py_object(exception) if exception else None)


def megabytes(size: int) -> str:
    return f"{size / (1 << 20):,.0f} MB"


@dataclass(eq=False)
class _Ticket:
    """One text being linked, in the thread `thread`."""

    thread: int
    size: int
    cpu_clock: int | None
    cpu_start: float
    stopped: str = ""  # why it was stopped, once it is
    last_out: bool = False  # left the process idle after a stopped text


class RequestGuard:
    """Per-request memory and CPU limits for the texts a process links in its threads."""

    def __init__(self, max_memory: int, max_cpu_seconds: float | None = None,
                 estimate: Callable[[str], int] | None = None):
        self.max_memory = max_memory
        self.max_cpu_seconds = max_cpu_seconds
        self.estimate = estimate
        self.on_recycle: Callable[[], None] | None = None
        self.stopped = 0  # texts stopped by the watchdog or by MemoryError, for /health
        self._lock = threading.Lock()
        self._running: dict[int, _Ticket] = {}
        self._floor = 0  # anonymous memory when the process was last idle
        self._start_size: int | None = None
        self._stopped_since_idle = False
        self._settling = False
        self._busy = threading.Event()
        self._watchdog: threading.Thread | None = None

    def open(self) -> None:
        """Note the process's size at start (in the process that serves)."""
        give_back_memory()
        self._start_size = anonymous_memory()

    # -- in the linker threads ------------------------------------------------------------

    def admit(self, text: str, estimate: Callable[[str], int] | None = None) -> None:
        """TooCostly if the estimate for `text` (`self.estimate`, else `estimate`) is over
        the budget."""
        estimate = self.estimate or estimate
        if estimate is not None:
            needed = estimate(text)
            if needed > self.max_memory:
                raise TooCostly(self._memory_message(needed))

    def run(self, size: int, operation: Callable[..., T], *args: Any) -> T:
        """`operation(*args)` for a text of `size` characters, watched; TooCostly when stopped
        or when it runs out of memory."""
        ticket = self._enter(size)
        completed = False
        try:
            try:
                result = operation(*args)
                completed = True
            except Exception as err:
                if not _is_memory_error(err):
                    raise
                ticket.stopped = ticket.stopped or self._memory_message()
            finally:
                self._leave(ticket)
        except _Stop:  # delivered inside the operation, or just after it, in the finally
            self._leave(ticket)
        # Out of the except clauses: the stopped text's frames and arrays are unreachable now.
        if ticket.stopped:
            self._after_stop(idle=ticket.last_out)
        if not completed:
            raise TooCostly(ticket.stopped)
        return result

    def _enter(self, size: int) -> _Ticket:
        thread = threading.get_ident()
        clock = _thread_clock(thread)
        ticket = _Ticket(thread, size, clock, time.clock_gettime(clock) if clock else 0.0)
        with self._lock:
            if not self._running:
                self._floor = anonymous_memory() or 0
            self._running[thread] = ticket
            self._busy.set()
        if self._watchdog is None:
            self._start_watchdog()
        return ticket

    def _leave(self, ticket: _Ticket) -> None:
        with self._lock:
            if self._running.get(ticket.thread) is not ticket:
                return  # already left
            del self._running[ticket.thread]
            if ticket.stopped:
                _raise_in_thread(ticket.thread, None)  # if not delivered yet, it never will be
                self.stopped += 1
                self._stopped_since_idle = True
                self._settling = True  # its memory is not given back yet: no memory checks
            if not self._running:
                self._busy.clear()
                ticket.last_out = self._stopped_since_idle
                self._stopped_since_idle = False

    def _after_stop(self, idle: bool) -> None:
        """After a stopped text: give memory back. Texts still being linked then count from
        there; a process left idle asks for a new worker if much of it stays."""
        give_back_memory()
        now, start = anonymous_memory(), self._start_size
        with self._lock:
            self._settling = False
            if self._running and now is not None:
                self._floor = now
        if idle and now is not None and start is not None \
                and now - start > self.max_memory // 2 and self.on_recycle is not None:
            self.on_recycle()

    # -- the watchdog ---------------------------------------------------------------------

    def _start_watchdog(self) -> None:
        with self._lock:
            if self._watchdog is None:
                self._watchdog = threading.Thread(target=self._watch, daemon=True,
                                                  name="request-guard")
                self._watchdog.start()

    def _watch(self) -> None:
        while True:  # a daemon thread: waits for work while the process is idle
            self._busy.wait()
            time.sleep(SAMPLE_SECONDS)
            self.check()

    def check(self) -> None:
        """One look at the texts being linked; stop those over a limit."""
        memory = anonymous_memory()
        with self._lock:
            running = [t for t in self._running.values() if not t.stopped]
            if not running:
                return
            if memory is not None and not self._settling and len(running) == len(
                    self._running) and memory - self._floor > self.max_memory * len(running):
                self._stop(max(running, key=lambda t: t.size), self._memory_message())
            if self.max_cpu_seconds is not None:
                for ticket in running:
                    if ticket.cpu_clock is not None and not ticket.stopped and \
                            time.clock_gettime(ticket.cpu_clock) - ticket.cpu_start \
                            > self.max_cpu_seconds:
                        self._stop(ticket, f"linking this text took more than "
                                           f"{self.max_cpu_seconds:g} s of CPU, the most a "
                                           f"request may use; send it in smaller pieces")

    def _stop(self, ticket: _Ticket, why: str) -> None:
        ticket.stopped = why
        _raise_in_thread(ticket.thread, _Stop)

    def _memory_message(self, estimate: int | None = None) -> str:
        needs = f"about {megabytes(estimate)}, more" if estimate is not None else "more"
        return (f"linking this text needs {needs} than the {megabytes(self.max_memory)} of "
                f"memory a request may use; send it in smaller pieces")

    # -- the hard cap ---------------------------------------------------------------------

    def limit_process_memory(self, threads: int) -> int | None:
        """Cap this process's data segment (see the module doc); the cap in bytes, or None
        where it cannot be read or set."""
        now = data_size()
        if now is None:
            return None
        cap = now + threads * self.max_memory + DATA_MARGIN
        soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
        cap = min([cap] + [limit for limit in (soft, hard) if limit != resource.RLIM_INFINITY])
        try:
            resource.setrlimit(resource.RLIMIT_DATA, (cap, hard))
        except (ValueError, OSError):
            return None
        return cap


def _thread_clock(thread: int) -> int | None:
    try:
        return time.pthread_getcpuclockid(thread)
    except (AttributeError, OSError):
        return None


def _is_memory_error(err: BaseException | None) -> bool:
    """MemoryError, or an error the linker raised because of one."""
    while err is not None:
        if isinstance(err, MemoryError):
            return True
        err = err.__cause__
    return False
