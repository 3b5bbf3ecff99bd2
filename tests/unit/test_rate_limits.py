"""Seed 003's sliding-window entry counts: who is inside the window, exactly at its edge."""

from __future__ import annotations

import pytest

from odte_nautilus.risk.rate_limits import entries_within, merged_entry_times
from odte_nautilus.risk.time_units import HOUR_NS, MINUTE_NS, NS_PER_SECOND

NOW = 1_710_511_200 * NS_PER_SECOND


def ago(seconds: float) -> int:
    return NOW - int(seconds * NS_PER_SECOND)


@pytest.mark.parametrize(
    ("times", "count"),
    [
        ((), 0),
        ((ago(59),), 1),
        ((ago(60),), 0),  # exactly one window old: left the window
        ((ago(60) + 1,), 1),  # one nanosecond younger: still inside
        ((ago(120), ago(61), ago(30), ago(0)), 2),
        ((ago(30), NOW + NS_PER_SECOND), 2),  # a clock that ran ahead still counts
    ],
)
def test_entries_within_a_minute(times: tuple[int, ...], count: int) -> None:
    assert entries_within(times, NOW, MINUTE_NS) == count


def test_total_entries_add_every_strategy() -> None:
    per_strategy = {
        "ThetaHarvester-001": (ago(3_600), ago(1_800), ago(5)),
        "GammaScalper-001": (ago(3_599), ago(10)),
        "Idle-001": (),
    }
    assert entries_within(merged_entry_times(per_strategy.values()), NOW, HOUR_NS) == 4
    assert entries_within(merged_entry_times(per_strategy.values()), NOW, MINUTE_NS) == 2


def test_entries_at_the_same_instant_by_two_strategies_count_twice() -> None:
    # The total is counted over every strategy's times merged into one tuple (once per risk snapshot):
    # the merge must keep both, or a burst split across strategies would undercount.
    both = {"ThetaHarvester-001": (ago(5),), "GammaScalper-001": (ago(5),)}
    assert merged_entry_times(both.values()) == (ago(5), ago(5))
    assert entries_within(merged_entry_times(both.values()), NOW, MINUTE_NS) == 2
