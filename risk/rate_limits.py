"""Seed 003's order rate limits: sliding-window counts of package entries.

"No more than N new packages per minute per strategy, no more than M total packages per hour — very
important when signals go crazy." The risk state keeps each strategy's entry times as an ascending tuple,
so a count is one binary search, cheap enough for every pre-trade check.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable

NS_PER_SECOND = 1_000_000_000
MINUTE_NS = 60 * NS_PER_SECOND
HOUR_NS = 60 * MINUTE_NS


def entries_within(times_ns: tuple[int, ...], now_ns: int, window_ns: int) -> int:
    """Entries in the window ``(now - window, now]`` of an ascending tuple of entry times.

    An entry exactly one window old has left the window. Entries stamped after ``now`` (a clock that ran
    ahead) still count: an undercount would let a burst through.
    """
    return len(times_ns) - bisect_right(times_ns, now_ns - window_ns)


def total_entries_within(per_strategy: Iterable[tuple[int, ...]], now_ns: int, window_ns: int) -> int:
    """Entries of all strategies in the window, from each strategy's ascending tuple."""
    since = now_ns - window_ns
    total = 0
    for times in per_strategy:
        total += len(times) - bisect_right(times, since)
    return total
