"""Signals: fractional time to expiry, implied vol (and when not to trust it), the IV percentile, dealer GEX.

Prices are made with Nautilus's Rust ``black_scholes_greeks`` — the same function the synthetic market
quotes with — so a round trip checks the solver wiring, not a second formula.
"""

from __future__ import annotations

import math
from datetime import date, timedelta

import pytest
from nautilus_trader.core.nautilus_pyo3 import black_scholes_greeks

from odte_nautilus.risk.model import OptionRight
from odte_nautilus.risk.time_units import SECONDS_PER_YEAR
from odte_nautilus.strategies.chain import ChainLink, OptionChain
from odte_nautilus.strategies.signals import (
    MIN_YEARS,
    IvPercentile,
    atm_iv,
    gamma_exposure,
    gex_strength,
    gex_tilt,
    implied_vol,
    years_to_expiry,
)
from tests.kit import contract, ny_ns

SPOT = 5000.0
RATE, CARRY = 0.045, 0.032  # the synthetic SPX market's r and b = r - q
HOURS_2 = 2.0 / (24 * 365.25)
MINUTES_30 = 0.5 / (24 * 365.25)
CALL, PUT = OptionRight.CALL, OptionRight.PUT


def bs_price(strike: float, right: OptionRight, vol: float, t: float, spot: float = SPOT) -> float:
    return black_scholes_greeks(spot, RATE, CARRY, vol, right is CALL, strike, t).price


def chain_of(strikes) -> OptionChain:
    links = [ChainLink(contract(r, k).instrument_id, OptionRight(r), float(k)) for k in strikes for r in ("C", "P")]
    return OptionChain("SPX", ny_ns(16, 0), links)


CHAIN = chain_of(range(4950, 5055, 5))


def iid(right: str, strike: float) -> str:
    return contract(right, strike).instrument_id


# -- time to expiry ------------------------------------------------------------------------------------------


def test_years_to_expiry_is_fractional_not_whole_days():
    """The bug of the greeks calculator in model.greeks: 2 hours read as 1 day. Here 2 hours is 2 hours."""
    assert years_to_expiry(ny_ns(14, 0), ny_ns(16, 0)) == pytest.approx(7200 / SECONDS_PER_YEAR, rel=1e-12)


@pytest.mark.parametrize("now", [ny_ns(16, 0), ny_ns(16, 5)])
def test_years_to_expiry_at_or_after_expiry_is_a_tiny_positive_floor(now):
    t = years_to_expiry(now, ny_ns(16, 0))
    assert t == MIN_YEARS > 0
    assert math.isfinite(black_scholes_greeks(SPOT, 0.0, 0.0, 0.2, True, 5010.0, t).gamma)


# -- implied vol ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "t, vol, strike, right",
    [
        (HOURS_2, 0.14, 5010.0, CALL),
        (HOURS_2, 0.14, 5020.0, CALL),
        (HOURS_2, 0.14, 4990.0, PUT),
        (HOURS_2, 0.14, 4980.0, PUT),
        (HOURS_2, 0.30, 5040.0, CALL),
        (MINUTES_30, 0.14, 5005.0, CALL),
        (MINUTES_30, 0.14, 4995.0, PUT),
        (MINUTES_30, 0.30, 5020.0, CALL),
        (MINUTES_30, 0.30, 4980.0, PUT),
    ],
)
def test_implied_vol_recovers_the_vol_of_an_otm_price(t, vol, strike, right):
    price = bs_price(strike, right, vol, t)
    assert price >= 0.05  # at least a tick: a sub-tick price carries float32 noise, not vol
    assert implied_vol(SPOT, strike, right, price, t, RATE, CARRY) == pytest.approx(vol, abs=1e-3)


@pytest.mark.parametrize(
    "strike, right, price, t",
    [
        (5010.0, CALL, 0.0, HOURS_2),  # no price
        (5010.0, CALL, -0.05, HOURS_2),
        (5010.0, CALL, math.nan, HOURS_2),
        (4900.0, CALL, 99.0, HOURS_2),  # below intrinsic (100)
        (5100.0, PUT, 100.0, HOURS_2),  # exactly intrinsic: no time value to invert
        (5010.0, CALL, 6000.0, HOURS_2),  # above the spot: the solver's silent 1e-8
        (5010.0, CALL, 0.5, 1e-12),  # T ~ 0: any price "solves" to an absurd vol
    ],
)
def test_an_unreliable_implied_vol_is_none(strike, right, price, t):
    assert implied_vol(SPOT, strike, right, price, t) is None


def test_a_price_at_the_discounted_forward_intrinsic_is_none():
    """No time value left, yet the solver answers a plausible 17 % for this put: only the floor check catches it.

    With r and b the floor is K e^(-rT) - S e^((b-r)T), not K - S.
    """
    floor = 5100.0 * math.exp(-RATE * HOURS_2) - SPOT * math.exp((CARRY - RATE) * HOURS_2)
    assert implied_vol(SPOT, 5100.0, PUT, floor, HOURS_2, RATE, CARRY) is None


ATM_SPOT = 5001.0  # the nearest OTM call is the 5005, the nearest OTM put the 5000


def otm_mids(call_vol: float = 0.14, put_vol: float = 0.14) -> dict[str, float]:
    return {
        iid("C", 5005): bs_price(5005, CALL, call_vol, HOURS_2, ATM_SPOT),
        iid("P", 5000): bs_price(5000, PUT, put_vol, HOURS_2, ATM_SPOT),
    }


def test_atm_iv_averages_the_nearest_otm_call_and_put():
    assert atm_iv(ATM_SPOT, CHAIN, otm_mids(0.12, 0.16), HOURS_2, RATE, CARRY) == pytest.approx(0.14, abs=1e-3)


def test_atm_iv_ignores_in_the_money_quotes():
    mids = otm_mids() | {iid("C", 5000): 1.05, iid("P", 5005): 4.05}  # ITM, thin time value: never read
    assert atm_iv(ATM_SPOT, CHAIN, mids, HOURS_2, RATE, CARRY) == pytest.approx(0.14, abs=1e-3)


@pytest.mark.parametrize("drop", [("C", 5005), ("P", 5000)])
def test_atm_iv_needs_both_sides(drop):
    mids = otm_mids()
    del mids[iid(*drop)]
    assert atm_iv(ATM_SPOT, CHAIN, mids, HOURS_2, RATE, CARRY) is None


# -- IV percentile -------------------------------------------------------------------------------------------

D0 = date(2024, 3, 1)


def history(ivs, window: int = 252, min_history: int = 1) -> IvPercentile:
    p = IvPercentile(window=window, min_history=min_history)
    for i, iv in enumerate(ivs):
        p.observe(D0 + timedelta(days=i), iv)
    return p


TODAY = D0 + timedelta(days=100)


@pytest.mark.parametrize("today_iv, expected", [(0.25, 50.0), (0.10, 0.0), (0.05, 0.0), (0.40, 75.0), (0.45, 100.0)])
def test_percentile_is_the_share_of_history_strictly_below(today_iv, expected):
    assert history([0.10, 0.20, 0.30, 0.40]).percentile(today_iv, TODAY) == expected


def test_percentile_is_none_until_the_minimum_history():
    p = history([0.1, 0.2, 0.3, 0.4], min_history=5)
    assert p.percentile(0.25, TODAY) is None
    p.observe(D0 + timedelta(days=4), 0.5)
    assert p.percentile(0.25, TODAY) == 40.0


def test_percentile_window_keeps_only_the_last_days():
    p = history([0.9, 0.9, 0.1, 0.2, 0.3], window=3)
    assert len(p) == 3
    assert p.percentile(0.5, TODAY) == 100.0  # the two 0.9 days have rolled out


def test_todays_own_reading_is_not_in_the_history_it_is_ranked_against():
    p = history([0.1, 0.2])
    today = D0 + timedelta(days=2)
    p.observe(today, 0.15)
    assert p.percentile(0.15, today) == 50.0  # ranked against 0.1 and 0.2 only


def test_the_first_reading_of_a_day_wins():
    p = history([0.1])
    p.observe(D0, 0.9)
    assert len(p) == 1 and p.percentile(0.5, TODAY) == 100.0


def test_readings_out_of_order_or_not_a_vol_are_refused():
    p = history([0.1, 0.2])
    with pytest.raises(ValueError, match="in order"):
        p.observe(D0, 0.3)
    with pytest.raises(ValueError, match="positive finite"):
        p.observe(TODAY, math.nan)


@pytest.mark.parametrize("window, min_history", [(0, 1), (10, 0), (10, 11)])
def test_percentile_config_out_of_range_is_refused(window, min_history):
    with pytest.raises(ValueError):
        IvPercentile(window, min_history)


# -- dealer gamma exposure -----------------------------------------------------------------------------------


def oi_on(rights: str, oi: int = 1000) -> dict[str, int]:
    return {iid(r, k): oi for k in range(4950, 5055, 5) for r in rights}


def test_gex_of_one_contract_is_gamma_times_oi_times_100_spot_squared_one_percent():
    gamma = black_scholes_greeks(SPOT, RATE, CARRY, 0.15, True, 5000.0, HOURS_2).gamma
    gex = gamma_exposure(SPOT, CHAIN, {iid("C", 5000): 700}, 0.15, HOURS_2, RATE, CARRY)
    assert gex == pytest.approx(gamma * 700 * 100 * SPOT**2 * 0.01, rel=1e-12)


def test_gex_is_positive_with_only_call_open_interest_and_negative_with_only_puts():
    """Dealers long calls, short puts (SqueezeMetrics convention)."""
    assert gamma_exposure(SPOT, CHAIN, oi_on("C"), 0.15, HOURS_2) > 0
    assert gamma_exposure(SPOT, CHAIN, oi_on("P"), 0.15, HOURS_2) < 0


def test_gex_of_equal_call_and_put_open_interest_cancels():
    assert gamma_exposure(SPOT, CHAIN, oi_on("CP"), 0.15, HOURS_2) == pytest.approx(0.0, abs=1e-3)


def test_gex_scales_with_open_interest():
    single = gamma_exposure(SPOT, CHAIN, oi_on("P", 1000), 0.15, HOURS_2)
    assert gamma_exposure(SPOT, CHAIN, oi_on("P", 3000), 0.15, HOURS_2) == pytest.approx(3 * single, rel=1e-12)


def test_gex_takes_per_contract_vols_and_skips_contracts_without_one():
    ids = {iid("C", 5000): 1000, iid("P", 4990): 1000}
    flat = gamma_exposure(SPOT, CHAIN, ids, 0.15, HOURS_2)
    assert gamma_exposure(SPOT, CHAIN, ids, {iid("C", 5000): 0.15, iid("P", 4990): 0.15}, HOURS_2) == flat
    calls_only = gamma_exposure(SPOT, CHAIN, {iid("C", 5000): 1000}, 0.15, HOURS_2)
    for unusable in ({iid("C", 5000): 0.15}, {iid("C", 5000): 0.15, iid("P", 4990): math.nan}):
        assert gamma_exposure(SPOT, CHAIN, ids, unusable, HOURS_2) == calls_only


def test_gex_tilt_is_gex_over_the_gross_from_minus_one_to_one():
    assert gex_tilt(SPOT, CHAIN, oi_on("C"), 0.15, HOURS_2) == pytest.approx(1.0)
    assert gex_tilt(SPOT, CHAIN, oi_on("P"), 0.15, HOURS_2) == pytest.approx(-1.0)
    assert gex_tilt(SPOT, CHAIN, oi_on("CP"), 0.15, HOURS_2) == pytest.approx(0.0, abs=1e-12)
    mixed = {**oi_on("C", 1000), **oi_on("P", 3000)}  # three times the puts: -(3 - 1) / (3 + 1)
    assert gex_tilt(SPOT, CHAIN, mixed, 0.15, HOURS_2) == pytest.approx(-0.5)
    assert gex_tilt(SPOT, CHAIN, {}, 0.15, HOURS_2) is None


def test_gex_tilt_does_not_grow_through_the_day_as_gex_in_dollars_does():
    """Why the signal is the tilt: the same put-heavy open interest reads as several times more dollar GEX
    30 minutes before expiry than 2 hours before (0DTE gamma grows), so a dollar threshold is crossed late in
    almost any session; the tilt of that chain hardly moves, and does not scale with the open interest."""
    oi = {iid("C", 5000): 1000, iid("P", 5000): 1500}  # piled at the money, as 0DTE open interest is
    early, late = (gamma_exposure(SPOT, CHAIN, oi, 0.15, t) for t in (HOURS_2, MINUTES_30))
    assert late < 1.5 * early < 0  # more negative by half again, at least
    tilts = [gex_tilt(SPOT, CHAIN, oi, 0.15, t) for t in (HOURS_2, MINUTES_30)]
    assert tilts == [pytest.approx(-0.2), pytest.approx(-0.2)]
    doubled = {k: 2 * v for k, v in oi.items()}
    assert gex_tilt(SPOT, CHAIN, doubled, 0.15, HOURS_2) == pytest.approx(tilts[0], rel=1e-12)


@pytest.mark.parametrize("gex, strength", [(-2.5e9, 2.5), (-1e9, 1.0), (0.0, 0.0), (3e9, 0.0)])
def test_gex_strength_counts_thresholds_below_zero(gex, strength):
    assert gex_strength(gex, 1e9) == strength


@pytest.mark.parametrize("threshold", [0.0, -1e9, math.nan])
def test_gex_strength_needs_a_positive_threshold(threshold):
    with pytest.raises(ValueError, match="GEX threshold"):
        gex_strength(-1e9, threshold)
