"""Timing helpers shared by the benchmarks.

Every ratio of ``hopid bench`` compares two sides doing the same work on a machine that may be
busy with other jobs, so the sides are never timed one after the other: :func:`alternate`
warms each side up, then lets them take turns for several rounds (in a counterbalanced
order); times are the medians of the rounds and ratios the medians of the rounds' ratios
(:class:`Rounds`).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np

MIN_ROUNDS = 3  # fewer rounds give no median worth the name
Clock = Callable[[], float]
Item = TypeVar("Item")


def wall(function: Callable[[], object], clock: Clock = time.perf_counter) -> float:
    """Seconds one call of ``function`` takes."""
    began = clock()
    function()
    return clock() - began


def cycling(job: Callable[[Item], object], items: Sequence[Item]) -> Callable[[], object]:
    """A side for :func:`alternate` that does ``job`` on the next of ``items`` at each call (round
    robin): short jobs alternate finely, and every side meets the same item in the same round."""
    turns = itertools.cycle(items)
    return lambda: job(next(turns))


def turn_order(names: Sequence[str], round_index: int) -> list[str]:
    """The order of the sides in round ``round_index``: every odd round runs the round before in
    reverse, and the first side moves on every two rounds (A B C, C B A, B C A, A C B, C A B,
    B A C), so within each two rounds every side runs before each other side as often as after
    it: whatever one side leaves behind for the next (warm caches, a busy core) evens out."""
    shift = (round_index // 2) % len(names) if names else 0
    order = [*names[shift:], *names[:shift]]
    return order[::-1] if round_index % 2 else order


@dataclass
class Rounds:
    """What :func:`alternate` measured: per side, the seconds and the return value of each round."""

    seconds: dict[str, list[float]] = field(default_factory=dict)
    results: dict[str, list[object]] = field(default_factory=dict)

    def medians(self) -> dict[str, float]:
        """The median seconds of each side."""
        return medians(self.seconds)

    def ratio(self, numerator: str, denominator: str) -> float:
        """The median over the rounds of ``numerator``'s seconds ÷ ``denominator``'s in the same
        round: the two ran back to back, so a load that comes and goes on a shared machine
        mostly falls on both (a ratio of the two medians can pair a busy moment with a calm one)."""
        pairs = zip(self.seconds[numerator], self.seconds[denominator], strict=True)
        return float(np.median([top / bottom for top, bottom in pairs]))


def alternate(
    sides: Mapping[str, Callable[[], object]],
    rounds: int = MIN_ROUNDS,
    warmup: int = 1,
    clock: Clock = time.perf_counter,
) -> Rounds:
    """Time the ``sides`` (name -> one whole job) in turn: each is first run ``warmup`` times
    untimed, then once per round for ``rounds`` rounds in :func:`turn_order`, so a change
    in the machine's load during the measurement falls on every side alike."""
    if rounds < MIN_ROUNDS:
        raise ValueError(f"alternate needs at least {MIN_ROUNDS} rounds for a median, got {rounds}")
    names = list(sides)
    for _ in range(warmup):
        for name in names:
            sides[name]()
    measured = Rounds({name: [] for name in names}, {name: [] for name in names})
    for round_index in range(rounds):
        for name in turn_order(names, round_index):
            began = clock()
            result = sides[name]()
            measured.seconds[name].append(clock() - began)
            measured.results[name].append(result)
    return measured


def medians(times: Mapping[str, Sequence[float]]) -> dict[str, float]:
    """The median of each side's times."""
    return {name: float(np.median(values)) for name, values in times.items()}
