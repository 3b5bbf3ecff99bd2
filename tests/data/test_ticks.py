"""The one place that rounds to the tick (docs/style.md), checked against the tier boundaries and Nautilus."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from nautilus_trader.model.tick_scheme.base import get_tick_scheme

from odte_nautilus.data.instruments import ensure_tick_scheme
from odte_nautilus.data.ticks import PENNY_TICKS, SPXW_TICKS, Direction, on_tick_grid, round_to_tick, tick_above


@pytest.mark.parametrize(
    ("price", "down", "up"),
    [
        (2.93, 2.90, 2.95),
        (2.98, 2.95, 3.00),  # rounding up from the $0.05 tier lands on the boundary
        (3.00, 3.00, 3.00),
        (3.01, 3.00, 3.10),  # just above $3 the tick is $0.10
        (3.07, 3.00, 3.10),
        (0.01, 0.00, 0.05),
        (2.95 + 0.05, 3.00, 3.00),  # float noise (3.0000000000000004) is not a new tick
    ],
)
def test_spxw_rounding_at_the_tier_boundary(price, down, up):
    assert round_to_tick(price, Direction.DOWN) == down
    assert round_to_tick(price, Direction.UP) == up


def test_credit_prices_round_towards_the_safe_side():
    """A credit package has a negative price: UP (pay more / receive less) shrinks the credit."""
    assert round_to_tick(-4.37, Direction.UP) == -4.30
    assert round_to_tick(-4.37, Direction.DOWN) == -4.40
    assert round_to_tick(-2.93, Direction.UP) == -2.90


def test_nearest_and_penny_grid():
    assert round_to_tick(3.04, Direction.NEAREST) == 3.00
    assert round_to_tick(3.06, Direction.NEAREST) == 3.10
    assert round_to_tick(1.234, Direction.UP, PENNY_TICKS) == 1.24


def test_arrays_round_elementwise():
    np.testing.assert_allclose(round_to_tick(np.array([2.93, 3.07]), Direction.UP), [2.95, 3.10])


def test_on_tick_grid_refuses_off_grid_negative_and_missing_prices():
    prices = np.array([2.95, 3.00, 3.10, 3.05, 2.93, -0.05, np.nan, 0.0])
    assert on_tick_grid(prices).tolist() == [True, True, True, False, False, False, False, True]


def test_tick_above_is_the_narrowest_ask():
    np.testing.assert_allclose(tick_above(np.array([0.0, 2.95, 3.00])), [0.05, 3.00, 3.10])


@given(st.floats(min_value=0.0, max_value=500.0, allow_nan=False))
def test_rounding_brackets_the_price_on_the_grid(price):
    down, up = round_to_tick(price, Direction.DOWN), round_to_tick(price, Direction.UP)
    assert down <= price + 1e-9 and up >= price - 1e-9
    assert on_tick_grid(np.array([down, up])).all()
    assert up - down <= (0.10 if up >= 3.0 else 0.05) + 1e-9  # Cboe SPXW: $0.05 below $3.00, $0.10 from it


@given(st.floats(min_value=0.05, max_value=100.0, allow_nan=False))
def test_agrees_with_nautilus_tiered_scheme(price):
    """Our grid is the scheme Nautilus gets (registered from the same tiers)."""
    scheme = get_tick_scheme(ensure_tick_scheme(SPXW_TICKS))
    assert round_to_tick(price, Direction.DOWN) == pytest.approx(scheme.next_bid_price(price).as_double())
    assert round_to_tick(price, Direction.UP) == pytest.approx(scheme.next_ask_price(price).as_double())


def test_registering_the_scheme_twice_is_harmless():
    assert ensure_tick_scheme(SPXW_TICKS) == ensure_tick_scheme(SPXW_TICKS) == "SPXW_OPTIONS"
