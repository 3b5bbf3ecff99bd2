"""Seed 003's order rate limits: sliding-window counts of package entries.

"No more than N new packages per minute per strategy, no more than M total packages per hour — very
important when signals go crazy." The risk state keeps each strategy's entry times as an ascending tuple,
so a count is one binary search, cheap enough for every pre-trade check; the total count searches every
strategy's times merged into one tuple, which the state's index merges once per snapshot.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable


def entries_within(times_ns: tuple[int, ...], now_ns: int, window_ns: int) -> int:
    """Entries in the window ``(now - window, now]`` of an ascending tuple of entry times.

    An entry exactly one window old has left the window. Entries stamped after ``now`` (a clock that ran
    ahead) still count: an undercount would let a burst through.
    """
    return len(times_ns) - bisect_right(times_ns, now_ns - window_ns)


def merged_entry_times(per_strategy: Iterable[tuple[int, ...]]) -> tuple[int, ...]:
    """Every strategy's entry times as one ascending tuple."""
    merged: list[int] = []
    for times in per_strategy:
        merged += times
    merged.sort()
    return tuple(merged)
