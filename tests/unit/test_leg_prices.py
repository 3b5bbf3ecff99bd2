"""A package fill's leg prices: inside each quote, on the tick grid, summing exactly to the package price."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from odte_nautilus.data.ticks import PENNY_TICKS, SPXW_TICKS, TickScheme, on_tick_grid
from odte_nautilus.execution.leg_prices import LegQuote, allocate_leg_prices, package_range


def _fly(ticks: TickScheme = SPXW_TICKS) -> list[LegQuote]:
    """An iron fly bought back (ratios as the package defines them: short body -1, long wings +1)."""
    return [
        LegQuote(-1, 11.90, 12.40, ticks),  # short ATM call
        LegQuote(-1, 10.80, 11.30, ticks),  # short ATM put
        LegQuote(1, 0.80, 0.95, ticks),  # long call wing
        LegQuote(1, 0.65, 0.75, ticks),  # long put wing
    ]


def _sum(prices: tuple[float, ...], legs: list[LegQuote]) -> float:
    return round(sum(leg.ratio * p for leg, p in zip(legs, prices, strict=True)), 2)


def test_a_package_filled_at_its_far_touch_fills_every_leg_at_its_own_far_side():
    legs = _fly()
    low, high = package_range(legs)
    assert (round(low, 2), round(high, 2)) == (-22.25, -21.0)
    assert allocate_leg_prices(high, legs) == (11.90, 10.80, 0.95, 0.75)
    assert allocate_leg_prices(low, legs) == (12.40, 11.30, 0.80, 0.65)


def test_a_price_inside_the_range_spreads_over_the_legs_inside_their_quotes_and_sums_exactly():
    legs = _fly()
    prices = allocate_leg_prices(-21.35, legs)
    assert prices is not None
    assert _sum(prices, legs) == -21.35
    for leg, price in zip(legs, prices, strict=True):
        assert leg.bid <= price <= leg.ask
        assert bool(on_tick_grid(price, leg.ticks))


def test_a_price_outside_the_package_quotes_has_no_allocation():
    legs = _fly()
    assert allocate_leg_prices(-20.95, legs) is None  # better than any price the legs showed
    assert allocate_leg_prices(-22.30, legs) is None


def test_a_sum_the_grids_cannot_make_has_no_allocation():
    legs = [LegQuote(1, 3.00, 3.10, SPXW_TICKS), LegQuote(1, 3.00, 3.10, SPXW_TICKS)]  # 0.10 ticks above $3
    assert allocate_leg_prices(6.05, legs) is None
    assert allocate_leg_prices(6.10, legs) is not None


def test_the_engines_mid_and_plug_would_fall_outside_a_quote_and_ours_does_not():
    """The case of issue 8: mid for the wings and a plug on the dearest leg pushes it past its ask."""
    legs = [LegQuote(1, 5.00, 5.40, SPXW_TICKS), LegQuote(1, 0.10, 0.90, SPXW_TICKS)]
    package = 5.40 + 0.90  # bought at the far touch
    plug = package - (0.10 + 0.90) / 2
    assert plug > legs[0].ask  # the engine's plug leg (5.80) would trade above its ask
    assert allocate_leg_prices(package, legs) == (5.40, 0.90)


_LEG = st.tuples(
    st.sampled_from([-2, -1, 1, 2]),
    st.integers(min_value=1, max_value=600),  # bid in cents
    st.integers(min_value=0, max_value=120),  # width in cents
    st.sampled_from([SPXW_TICKS, PENNY_TICKS]),
)


def _on_grid(cents: int, ticks: TickScheme, up: bool) -> float:
    step = 1 if up else -1
    while not bool(on_tick_grid(cents / 100, ticks)):
        cents += step
    return cents / 100


@given(st.lists(_LEG, min_size=2, max_size=4), st.data())
def test_any_price_the_legs_quotes_can_make_is_allocated_inside_the_quotes_to_the_cent(raw, data):
    legs = []
    for ratio, bid, width, ticks in raw:
        low = _on_grid(bid, ticks, up=True)
        high = max(low, _on_grid(round(low * 100) + width, ticks, up=False))
        legs.append(LegQuote(ratio, low, high, ticks))
    # a package price the legs can actually make: one grid price per leg inside its quote
    chosen = []
    for leg in legs:
        grid = [c / 100 for c in range(round(leg.bid * 100), round(leg.ask * 100) + 1)]
        chosen.append(data.draw(st.sampled_from([p for p in grid if bool(on_tick_grid(p, leg.ticks))])))
    package = _sum(tuple(chosen), legs)
    prices = allocate_leg_prices(package, legs)
    assert prices is not None
    assert _sum(prices, legs) == package
    for leg, price in zip(legs, prices, strict=True):
        assert leg.bid - 1e-9 <= price <= leg.ask + 1e-9
        assert bool(on_tick_grid(price, leg.ticks))
