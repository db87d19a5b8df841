"""Spark as the stage runner's executor: one task per item, results back on the driver."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


class SparkExecutor:
    """Applies a function to a list of items with one Spark task per item."""

    def __init__(self, spark, description: str):
        self.spark = spark
        self.description = description

    def __call__(self, function: Callable[[T], R], items: list[T]) -> list[R]:
        if not items:
            return []
        sc = self.spark.sparkContext
        sc.setJobDescription(f"{self.description}: {len(items)} tasks")
        return sc.parallelize(items, len(items)).map(function).collect()
