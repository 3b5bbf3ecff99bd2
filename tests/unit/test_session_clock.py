"""The compressed session's clocks: every clock of the node moves together and timers fire in time order."""

from __future__ import annotations

import pytest
from nautilus_trader.common.component import TestClock
from nautilus_trader.common.events import TimeEvent

from odte_nautilus.live.session_clock import advance_clocks, replayed_time_kernel


def _clocks(n: int, at: int = 0) -> list[TestClock]:
    clocks = [TestClock() for _ in range(n)]
    for clock in clocks:
        clock.set_time(at)
    return clocks


def test_timers_of_different_clocks_fire_in_time_order_each_seeing_every_clock_at_its_instant():
    engine, strategy, guard = _clocks(3)
    seen = []

    def record(name, clock_list):
        return lambda event: seen.append((name, event.ts_event, [c.timestamp_ns() for c in clock_list]))

    clocks = [engine, strategy, guard]
    guard.set_time_alert_ns("eod", 300, record("eod", clocks))
    strategy.set_time_alert_ns("entry", 100, record("entry", clocks))
    engine.set_time_alert_ns("check", 200, record("check", clocks))
    assert advance_clocks(clocks, 1_000) == 3
    assert seen == [("entry", 100, [100] * 3), ("check", 200, [200] * 3), ("eod", 300, [300] * 3)]
    assert [c.timestamp_ns() for c in clocks] == [1_000] * 3


def test_a_timer_set_by_a_callback_fires_in_its_turn_within_the_same_advance():
    (clock,) = _clocks(1)
    fired: list[TimeEvent] = []
    clock.set_time_alert_ns("flatten", 100, lambda e: clock.set_time_alert_ns("deadline", 150, fired.append))
    clock.set_time_alert_ns("later", 400, fired.append)
    advance_clocks([clock], 500)
    assert [e.name for e in fired] == ["deadline", "later"]


def test_a_timer_after_the_target_waits_for_a_later_advance():
    (clock,) = _clocks(1)
    fired: list[TimeEvent] = []
    clock.set_time_alert_ns("eod", 2_000, fired.append)
    advance_clocks([clock], 1_000)
    assert fired == [] and clock.timestamp_ns() == 1_000
    advance_clocks([clock], 2_000)
    assert [e.name for e in fired] == ["eod"]


@pytest.mark.parametrize("url", ["https://paper-api.alpaca.markets", "http://10.0.0.5:8080"])
def test_replayed_time_is_refused_for_anything_but_a_simulator_on_loopback(url):
    with pytest.raises(RuntimeError, match="loopback only"), replayed_time_kernel(url):
        pass
