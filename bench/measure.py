"""Shared timing helpers: warm up, repeat, take the median, and build result records."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

Result = dict[str, Any]


def median_seconds(work: Callable[[], object], *, repeat: int = 5, warmup: int = 1) -> float:
    """Median wall time of `work` over `repeat` runs, after `warmup` unmeasured runs."""
    for _ in range(warmup):
        work()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def result(value: float, unit: str, *, floor: float | None = None, target: str | None = None) -> Result:
    """One figure in the bench/results.json shape; the ratio is value / floor when there is a floor."""
    record: Result = {"value": round(value, 4), "unit": unit}
    if floor is not None:
        record["floor"] = round(floor, 4)
        record["ratio"] = round(value / floor, 3) if floor else None
    if target is not None:
        record["target"] = target
    return record


def meets(record: Result) -> bool | None:
    """Whether a figure meets its target ('<= 1.5', '>= 0.5'); None when it has no target."""
    target = record.get("target")
    if not target:
        return None
    comparator, number = target.split()
    measured = record.get("ratio", record["value"])
    if measured is None:
        return False
    return measured <= float(number) if comparator == "<=" else measured >= float(number)
