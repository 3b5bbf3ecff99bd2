"""Quotes look like a market maker's: on the grid, never crossed, wider far out and late, sized."""

import numpy as np
from nautilus_trader.core.nautilus_pyo3 import black_scholes_greeks

from odte_nautilus.data.calibration import atm_strike
from odte_nautilus.data.checks import check_session
from odte_nautilus.data.sample import SampleConfig, market_days, sample_sessions
from odte_nautilus.data.symbology import parse_option_id
from odte_nautilus.data.ticks import PENNY_TICKS, SPXW_TICKS, on_tick_grid
from odte_nautilus.data.underlyings import SPX
from odte_nautilus.risk.model import OptionRight
from odte_nautilus.risk.time_units import SECONDS_PER_YEAR
from tests.data.helpers import TINY


def _by_strike(data, right):
    return {parse_option_id(i).strike: q for i, q in data.quotes.items() if parse_option_id(i).right is right}


def test_every_quote_is_on_the_grid_uncrossed_and_sized(session_data):
    for q in session_data.quotes.values():
        assert on_tick_grid(q.bid).all() and on_tick_grid(q.ask).all()
        assert (q.bid >= 0).all() and (q.ask > q.bid).all() and (q.ask >= 0.05).all()
        assert (q.bid_size >= 1).all() and (q.ask_size >= 1).all()
    check_session(session_data)  # the generator's output passes the import checks too


def test_mid_is_nautilus_black_scholes(session_data):
    """The model price behind a quote is Nautilus's Rust Black-Scholes with fractional-day T."""
    path = next(market_days(TINY))
    second = 1800
    spot = path.spot[second]
    strike = atm_strike(sorted(_by_strike(session_data, OptionRight.CALL)), spot)
    vol = path.implied_vol(strike, np.array([second]))[0]
    years = (path.seconds - second) / SECONDS_PER_YEAR
    model = black_scholes_greeks(spot, SPX.rate, SPX.rate - SPX.dividend_yield, vol, True, strike, years).price
    q = _by_strike(session_data, OptionRight.CALL)[strike]
    i = second // 60 - 1
    assert q.bid[i] <= model <= q.ask[i]


def test_far_strikes_quote_wider_relative_spreads(session_data):
    calls = _by_strike(session_data, OptionRight.CALL)
    strikes = sorted(calls)
    morning = slice(30, 300)

    def relative(k):
        q = calls[k]
        return np.median(((q.ask - q.bid) / ((q.ask + q.bid) / 2))[morning])

    assert relative(strikes[-1]) > relative(strikes[len(strikes) // 2])


def test_last_hour_is_wider_than_midday_for_the_same_premium(session_data):
    """Compare spread per dollar of premium across all options: the last hour quotes wider."""

    def per_dollar(window):
        spread = np.concatenate([(q.ask - q.bid)[window] for q in session_data.quotes.values()])
        mid = np.concatenate([((q.ask + q.bid) / 2)[window] for q in session_data.quotes.values()])
        keep = mid > 1.0
        return np.median(spread[keep] / mid[keep])

    assert per_dollar(slice(-60, -5)) > per_dollar(slice(120, 240))


def test_index_bars_have_no_volume_and_end_at_the_close(session_data):
    bars = session_data.bars
    assert (bars.volume == 0).all()
    assert int(bars.ts[-1]) == session_data.session.close_ns
    assert len(bars) == 390 and (bars.high >= bars.low).all()


def test_open_interest_piles_up_near_the_money(session_data):
    oi = session_data.open_interest
    assert set(oi) == set(session_data.quotes) and min(oi.values()) > 0
    strikes = sorted({parse_option_id(i).strike for i in oi})
    far, near = strikes[0], strikes[len(strikes) // 2]
    put = {parse_option_id(i).strike: v for i, v in oi.items() if parse_option_id(i).right is OptionRight.PUT}
    assert put[near] > put[far]


def test_spy_chain_quotes_in_pennies_with_one_dollar_strikes():
    data = next(sample_sessions(SampleConfig(days=1, underlying="SPY", strikes_each_side=6)))
    strikes = sorted({parse_option_id(i).strike for i in data.quotes})
    assert np.diff(strikes).tolist() == [1.0] * (len(strikes) - 1)
    assert type(data.underlying).__name__ == "Equity" and data.checked_underlying.id.value == "SPY.SMART"
    assert (data.checked_bars.volume > 0).all()  # an ETF trades; only an index must not
    assert any((~on_tick_grid(q.bid, SPXW_TICKS)).any() for q in data.quotes.values())  # penny prices occur
    assert all(on_tick_grid(q.bid, PENNY_TICKS).all() for q in data.quotes.values())
    check_session(data)
