"""Timing and the statistics the report uses (medians: the machine is shared)."""

from __future__ import annotations

import resource
import statistics
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TypeVar

T = TypeVar("T")


def timed(fn: Callable[[], T]) -> tuple[float, T]:
    """Wall-clock seconds ``fn`` took, and its result."""
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def cpu_self() -> float:
    """CPU seconds (user + system) this process has used: the harness's, i.e. the engine's
    side of a run."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def median(values: Iterable[float]) -> float:
    """Median, or NaN for no values."""
    data = list(values)
    return statistics.median(data) if data else float("nan")


@dataclass
class Samples:
    """Repeated wall-clock measurements of one (who, operation, N) cell, in seconds."""

    values: list[float] = field(default_factory=list)

    def add(self, seconds: float) -> None:
        self.values.append(seconds)

    @property
    def median(self) -> float:
        return median(self.values)
