"""Small timing helpers shared by the benchmarks."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np


def per_call(function: Callable[[], object], repeats: int, warmup: int = 3) -> np.ndarray:
    """Seconds of each of ``repeats`` calls (after ``warmup`` calls)."""
    for _ in range(warmup):
        function()
    out = np.empty(repeats)
    for i in range(repeats):
        began = time.perf_counter()
        function()
        out[i] = time.perf_counter() - began
    return out


def wall(function: Callable[[], object]) -> float:
    began = time.perf_counter()
    function()
    return time.perf_counter() - began
