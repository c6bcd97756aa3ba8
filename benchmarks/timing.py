"""Timing helper shared by the benchmark scripts (imported as a sibling module when a script runs)."""

from __future__ import annotations

import time
from typing import Callable

__all__ = ["best_time"]


def best_time(fn: Callable[[], object], *, repeats: int) -> float:
    """Best wall time in seconds of ``repeats`` calls of ``fn``, after one untimed warm-up call
    (imports, caches, thread pools); the minimum is the least disturbed by other load on the machine."""
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)
