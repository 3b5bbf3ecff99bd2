"""Turn a simulated ``DayPath`` into a quoted 0DTE chain: underlying bars, options, bid/ask, sizes, OI.

Prices come from Nautilus's Rust ``black_scholes_greeks`` (not a hand-written formula; design
§11) with fractional calendar time to the close. Quotes then look like a market maker's: the spread widens
with the premium, for far strikes and into the last hour (docs/market-facts.md, "Spreads and slippage"), every price
is on the contract's tick grid (``ticks.round_to_tick``), bid <= ask, bid >= 0 — a far OTM option may well
bid zero — and the ask is at least one tick.
"""

from __future__ import annotations

import numpy as np
from nautilus_trader.core.nautilus_pyo3 import black_scholes_greeks

from odte_nautilus.data.bundle import BarSeries, Origin, QuoteSeries, SessionData
from odte_nautilus.data.instruments import session_option, underlying_instrument
from odte_nautilus.data.market_model import MINUTE, DayPath
from odte_nautilus.data.ticks import Direction, round_to_tick, tick_above
from odte_nautilus.data.underlyings import UnderlyingSpec
from odte_nautilus.risk.model import OptionRight
from odte_nautilus.risk.session import SessionWindow
from odte_nautilus.risk.time_units import NS_PER_SECOND


def model_prices(
    spot: np.ndarray, vols: np.ndarray, years: np.ndarray, strike: float, right: OptionRight, spec: UnderlyingSpec
) -> np.ndarray:
    """Black-Scholes prices through Nautilus (b = r - q), one call per quote time (~0.5 us each)."""
    r, b, is_call = spec.rate, spec.rate - spec.dividend_yield, right is OptionRight.CALL
    return np.fromiter(
        (
            black_scholes_greeks(s, r, b, v, is_call, strike, t).price
            for s, v, t in zip(spot.tolist(), vols.tolist(), years.tolist(), strict=True)
        ),
        dtype=np.float64,
        count=len(spot),
    )


def quote_prices(
    price: np.ndarray,
    moneyness: np.ndarray,
    minutes_left: np.ndarray,
    spec: UnderlyingSpec,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Bid and ask around a model price: wider for dearer, farther and later options, always on the grid."""
    style = spec.quotes
    far = 1.0 + 0.15 * np.minimum(np.abs(moneyness), 4.0)
    late = 1.0 + 0.5 * np.clip((60.0 - minutes_left) / 60.0, 0.0, 1.0) + 0.6 * (minutes_left < 5)
    jitter = rng.lognormal(0.0, 0.15, len(price))
    width = np.minimum((style.base + style.per_dollar * price) * far * late * jitter, style.cap)
    bid = np.maximum(round_to_tick(price - width / 2, Direction.DOWN, spec.ticks), 0.0)
    ask = round_to_tick(price + width / 2, Direction.UP, spec.ticks)
    ask = np.maximum(ask, tick_above(bid, spec.ticks))
    return bid, ask


def quote_sizes(price: np.ndarray, spec: UnderlyingSpec, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Displayed sizes: larger for cheap options, never zero (the engine's L1 book needs a size)."""
    depth = spec.quotes.size * (1.0 + 3.0 / (1.0 + price))
    bid = np.maximum(1.0, np.round(depth * rng.lognormal(0.0, 0.5, len(price))))
    ask = np.maximum(1.0, np.round(depth * rng.lognormal(0.0, 0.5, len(price))))
    return bid, ask


def open_interest(
    strike: float, right: OptionRight, open_price: float, spec: UnderlyingSpec, rng: np.random.Generator
) -> int:
    """Start-of-day open interest: piled near the money and on round strikes, puts heavier below spot."""
    distance = np.log(strike / open_price) / 0.015
    pile = 40.0 * spec.quotes.size * np.exp(-0.5 * distance * distance)
    round_bonus = 2.0 if strike % (10 * spec.strike_step) == 0 else 1.4 if strike % (5 * spec.strike_step) == 0 else 1.0
    put_tilt = 1.5 if right is OptionRight.PUT and strike < open_price else 1.0
    return round((pile + 2.0 * spec.quotes.size) * round_bonus * put_tilt * rng.lognormal(0.0, 0.3))


def underlying_bars(path: DayPath, spec: UnderlyingSpec, rng: np.random.Generator, origin: Origin) -> BarSeries:
    """1-minute LAST bars stamped at their close, the last one at the session close (the settlement level).

    An index has no volume (seed 000: an index bar with volume is a wrong-instrument join); an ETF does.
    """
    minutes = path.seconds // MINUTE
    windows = np.lib.stride_tricks.sliding_window_view(path.spot, MINUTE + 1)[::MINUTE][:minutes]
    precision = spec.underlying_price_precision
    volume = np.zeros(minutes) if spec.is_index else np.round(rng.lognormal(np.log(40_000), 0.5, minutes))
    return BarSeries(
        bar_type=spec.bar_type,
        ts=(path.session.open_ns + np.arange(1, minutes + 1, dtype=np.uint64) * MINUTE * NS_PER_SECOND).astype(
            np.uint64
        ),
        open=np.round(windows[:, 0], precision),
        high=np.round(windows.max(axis=1), precision),
        low=np.round(windows.min(axis=1), precision),
        close=np.round(windows[:, -1], precision),
        volume=volume,
        origin=origin,
    )


def instrument_rng(seed: int, session: SessionWindow, stream: int, *key: int) -> np.random.Generator:
    """A generator per (seed, day, stream, instrument): adding strikes never changes another quote."""
    return np.random.default_rng([seed, session.trading_date.toordinal(), stream, *key])


def synthetic_session(
    path: DayPath,
    spec: UnderlyingSpec,
    strikes_each_side: int,
    freq_seconds: int,
    seed: int,
    origin: Origin,
) -> SessionData:
    """The session's full chain: ``strikes_each_side`` strikes either side of the opening ATM, calls and puts."""
    session = path.session
    seconds = np.arange(freq_seconds, path.seconds + 1, freq_seconds)
    ts = (session.open_ns + seconds.astype(np.uint64) * NS_PER_SECOND).astype(np.uint64)
    spot = path.spot[seconds]
    years = path.years_left(seconds)
    minutes_left = (path.seconds - seconds) / MINUTE
    open_price = float(path.spot[0])
    atm = round(open_price / spec.strike_step) * spec.strike_step
    strikes = atm + spec.strike_step * np.arange(-strikes_each_side, strikes_each_side + 1)

    options, quotes, oi = [], {}, {}
    for strike in strikes.tolist():
        vols = path.implied_vol(strike, seconds)
        moneyness = np.log(strike / spot) / np.sqrt(path.implied_variance[seconds])
        for code, right in enumerate((OptionRight.CALL, OptionRight.PUT)):
            rng = instrument_rng(seed, session, 1, round(strike * 1000), code)
            option = session_option(spec, session, right, strike)
            price = model_prices(spot, vols, years, strike, right, spec)
            bid, ask = quote_prices(price, moneyness, minutes_left, spec, rng)
            bid_size, ask_size = quote_sizes(price, spec, rng)
            iid = option.id.value
            options.append(option)
            quotes[iid] = QuoteSeries(iid, ts, bid, ask, bid_size, ask_size, origin)
            oi[iid] = open_interest(strike, right, open_price, spec, rng)

    return SessionData(
        session=session,
        spec=spec,
        underlying=underlying_instrument(spec, session.open_ns),
        bars=underlying_bars(path, spec, instrument_rng(seed, session, 2), origin),
        options=options,
        quotes=quotes,
        instruments_origin=origin,
        open_interest=oi,
    )
