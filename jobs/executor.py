"""Spark as the stage runner's executor: one task per item, results back on the driver, and
one line of progress on a terminal while the tasks run."""

from __future__ import annotations

import sys
import threading
import uuid
from collections.abc import Callable
from typing import TypeVar

from longtail.progress import ProgressLine

T = TypeVar("T")
R = TypeVar("R")
POLL_SECONDS = 0.5


class SparkExecutor:
    """Applies a function to a list of items with one Spark task per item."""

    def __init__(self, spark, description: str):
        self.spark = spark
        self.description = description

    def __call__(self, function: Callable[[T], R], items: list[T]) -> list[R]:
        if not items:
            return []
        sc = self.spark.sparkContext
        group = f"longtail-{uuid.uuid4().hex[:8]}"
        sc.setJobGroup(group, f"{self.description}: {len(items)} tasks")
        with TaskProgress(sc, group, self.description, len(items)):
            return sc.parallelize(items, len(items)).map(function).collect()


class TaskProgress:
    """`link: 12/32 tasks` on one line of the terminal, from Spark's status tracker, cleared
    when the tasks are done (so the stage's summary line is never torn). Nothing when stderr
    is not a terminal."""

    def __init__(self, sc, group: str, description: str, total: int):
        self.sc, self.group, self.total = sc, group, total
        self.line = ProgressLine(description)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def __enter__(self) -> TaskProgress:
        if sys.stderr.isatty():
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        self.line.clear()

    def done(self) -> int:
        tracker = self.sc.statusTracker()
        finished = 0
        for job in tracker.getJobIdsForGroup(self.group):
            info = tracker.getJobInfo(job)
            for stage in info.stageIds if info else ():
                stage_info = tracker.getStageInfo(stage)
                finished += stage_info.numCompletedTasks if stage_info else 0
        return finished

    def _poll(self) -> None:
        while not self._stop.wait(POLL_SECONDS):
            try:
                self.line.show(f"{min(self.done(), self.total)}/{self.total} tasks")
            except Exception:  # noqa: BLE001 - progress must never stop the work
                return
