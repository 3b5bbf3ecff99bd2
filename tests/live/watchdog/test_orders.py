"""The watchdog's closing orders: shorts before longs, marketable limits on the SPXW tick grid."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from odte_nautilus.data.ticks import on_tick_grid
from odte_nautilus.live.watchdog_orders import close_action, close_waves, marketable_limit


def test_shorts_are_the_first_wave_longs_the_second():
    fly = {"wing_low": 1, "body_call": -1, "body_put": -1, "wing_high": 1, "flat": 0}
    shorts, longs = close_waves(fly)
    assert shorts == {"body_call": -1, "body_put": -1}
    assert longs == {"wing_low": 1, "wing_high": 1}
    assert [close_action(q) for q in shorts.values()] == ["BUY", "BUY"]
    assert [close_action(q) for q in longs.values()] == ["SELL", "SELL"]
    with pytest.raises(ValueError):
        close_action(0)


@pytest.mark.parametrize(
    ("action", "bid", "ask", "ticks", "price"),
    [
        ("BUY", 2.80, 2.93, 0, 2.95),  # the ask rounded up on the 0.05 tier
        ("BUY", 2.80, 2.95, 1, 3.00),  # one tick further crosses into the 0.10 tier
        ("BUY", 2.80, 2.95, 2, 3.10),
        ("BUY", 3.00, 3.01, 0, 3.10),
        ("SELL", 3.04, 3.30, 0, 3.00),  # the bid rounded down
        ("SELL", 3.00, 3.30, 1, 2.95),  # one tick below 3.00 is on the 0.05 tier
        ("SELL", 0.05, 0.10, 3, 0.05),  # never below the smallest price
        ("BUY", 0.05, float("nan"), 0, None),  # no ask: at market
        ("BUY", 0.05, -1.0, 0, None),  # IB's "no price"
        ("SELL", 0.0, 0.05, 0, None),  # no bid for a long: at market
        ("SELL", None, None, 0, None),
    ],
)
def test_marketable_limit(action, bid, ask, ticks, price):
    assert marketable_limit(action, bid, ask, ticks) == price


@given(
    far=st.floats(min_value=0.01, max_value=80.0, allow_nan=False),
    ticks=st.integers(min_value=0, max_value=4),
)
def test_a_limit_is_on_the_grid_and_never_short_of_the_far_touch(far, ticks):
    buy = marketable_limit("BUY", None, far, ticks)
    sell = marketable_limit("SELL", far, None, ticks)
    assert buy is not None and sell is not None
    assert bool(on_tick_grid(buy)) and bool(on_tick_grid(sell))
    assert buy >= far - 1e-9
    assert sell <= far + 1e-9 or math.isclose(sell, 0.05)
