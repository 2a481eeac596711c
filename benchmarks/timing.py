"""Timing shared by the benchmark scripts (imported as `timing`: each script runs with this folder first on sys.path)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def best_time(fn: Callable[[], T], repeats: int) -> tuple[float, T]:
    """The shortest of `repeats` wall-clock times of `fn()`, in seconds, and the output of its last call."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out
