"""The strategies' signals: implied vol, the IV percentile (Theta Harvester) and dealer gamma exposure (Gamma Scalper).

This is the "alpha" model of the LEAN split (docs/style.md): plain numbers in, a signal out; whether the signal
may become an order is the kernel's business, how big it is is ``sizing``'s.

Every greek and implied vol comes from Nautilus's Rust ``black_scholes_greeks``/``imply_vol_and_greeks``
with a *fractional* time to expiry in years (design §11). Never Nautilus's greeks calculator: it rounds
time to expiry up to a whole day, so a 2-hour option reads as a 1-day one (IV 7.5 % instead of 26.6 %).
Those are pure functions of their arguments, the only Nautilus this module touches.

The Rust solver fails silently (docs/design.md §11): below intrinsic or above the no-arbitrage
ceiling it returns vol = 1e-8, at exactly zero time value it can answer a plausible-looking vol (17 % for
a 2-hour put priced at its discounted intrinsic), and with time to expiry near zero any price solves to
an absurd vol. ``implied_vol`` turns each of those into ``None``, and the IV of a strike is read from
its out-of-the-money side, where there is time value to invert.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from datetime import date
from typing import Protocol

from nautilus_trader.core.nautilus_pyo3 import black_scholes_greeks, imply_vol_and_greeks

from odte_nautilus.risk.model import OptionRight
from odte_nautilus.risk.time_units import NS_PER_SECOND, SECONDS_PER_YEAR
from odte_nautilus.strategies.chain import OptionChain


class Mids(Protocol):
    """Instrument id -> mid price, read with ``get``: a dict, or the strategy's view of the quote cache."""

    def get(self, instrument_id: str, /) -> float | None: ...


MIN_YEARS = 1.0 / SECONDS_PER_YEAR  # one second: the formulas divide by sqrt(T), so T is never 0
MIN_RELIABLE_VOL = 1e-6  # the solver's failure value is 1e-8
MAX_RELIABLE_VOL = 5.0  # 500 %: beyond it the price had no information left (T -> 0), not a real vol
GEX_MOVE = 0.01  # GEX is quoted per 1 % move of the underlying


def years_to_expiry(now_ns: int, expiry_ns: int) -> float:
    """Calendar time to expiry in years, fractional to the nanosecond, floored at one second."""
    return max((expiry_ns - now_ns) / NS_PER_SECOND, 1.0) / SECONDS_PER_YEAR


def _no_arbitrage_floor(
    spot: float, strike: float, right: OptionRight, t_years: float, rate: float, carry: float
) -> float:
    """A European option's lower bound: its discounted forward intrinsic value."""
    forward = spot * math.exp((carry - rate) * t_years)
    discounted_strike = strike * math.exp(-rate * t_years)
    intrinsic = forward - discounted_strike if right is OptionRight.CALL else discounted_strike - forward
    return max(intrinsic, 0.0)


def implied_vol(
    spot: float,
    strike: float,
    right: OptionRight,
    price: float,
    t_years: float,
    rate: float = 0.0,
    carry: float = 0.0,
) -> float | None:
    """The Black-Scholes implied vol of one option price, or ``None`` when the solve cannot be trusted.

    ``carry`` is b = r - q. ``None`` for a non-positive or non-finite price, a price at or below the
    no-arbitrage floor (no time value to invert), and a result outside (1e-6, 500 %] or not finite.
    A price just above the floor still inverts badly (a deep ITM 0DTE option with 0.01 of time value
    reads ~40 %): feed it out-of-the-money prices, as ``atm_iv`` does.
    """
    right = OptionRight(right)
    if not (math.isfinite(price) and price > 0 and spot > 0 and strike > 0 and t_years > 0):
        return None
    if price <= _no_arbitrage_floor(spot, strike, right, t_years, rate, carry):
        return None
    vol = imply_vol_and_greeks(spot, rate, carry, right is OptionRight.CALL, strike, t_years, price).vol
    if not math.isfinite(vol) or vol <= MIN_RELIABLE_VOL or vol > MAX_RELIABLE_VOL:
        return None
    return vol


def atm_iv(
    spot: float,
    chain: OptionChain,
    mids: Mids,
    t_years: float,
    rate: float = 0.0,
    carry: float = 0.0,
) -> float | None:
    """The at-the-money implied vol: the mean of the nearest OTM call's and nearest OTM put's IVs.

    ``mids`` maps instrument id -> mid price (the strategy keeps it from its quote handler). The nearest
    OTM call is the lowest listed call strike >= spot, the nearest OTM put the highest put strike <= spot.
    Both sides are required: puts carry the skew, so a one-sided reading would shift the daily series
    the IV percentile ranks, and a fake high percentile sizes up (``None`` then; the strategy uses its
    base size).
    """
    call, put = chain.nearest_otm(spot)
    if call is None or put is None:
        return None
    vols = []
    for link in (call, put):
        mid = mids.get(link.instrument_id)
        vol = None if mid is None else implied_vol(spot, link.strike, link.right, mid, t_years, rate, carry)
        if vol is None:
            return None
        vols.append(vol)
    return sum(vols) / len(vols)


class IvPercentile:
    """Where today's implied vol ranks among the last ``window`` trading days' (one reading a day).

    The Theta Harvester sells more premium when IV is rich relative to its own recent history (seed 003:
    "1-3 contracts per trade, based on IV percentile"). The first reading of a day is kept (the strategy
    observes at its entry check, so the series is sampled at the same time of day); later readings of
    that day are ignored. ``percentile`` ranks against the days *before* ``today`` only, so the order in
    which the strategy calls ``observe`` and ``percentile`` does not matter.
    """

    def __init__(self, window: int = 252, min_history: int = 5) -> None:
        if window < 1:
            raise ValueError(f"IV percentile window must be at least 1 day, got {window}")
        if not 1 <= min_history <= window:
            raise ValueError(f"IV percentile min_history must be in 1..window ({window}), got {min_history}")
        self.window = window
        self.min_history = min_history
        self._days: deque[tuple[date, float]] = deque(maxlen=window)

    def __len__(self) -> int:
        return len(self._days)

    def observe(self, day: date, iv: float) -> None:
        """Record ``day``'s IV reading; the first one of a day wins, days must not go backwards."""
        if not (math.isfinite(iv) and iv > 0):
            raise ValueError(f"IV reading for {day} must be a positive finite vol, got {iv}")
        if self._days:
            last = self._days[-1][0]
            if day == last:
                return
            if day < last:
                raise ValueError(f"IV reading for {day} arrived after one for {last}: days must be observed in order")
        self._days.append((day, iv))

    def percentile(self, today_iv: float, today: date) -> float | None:
        """Share (0-100) of the prior days' readings strictly below ``today_iv``; ``None`` if history is short."""
        history = [iv for day, iv in self._days if day < today]
        if len(history) < self.min_history:
            return None
        below = sum(1 for iv in history if iv < today_iv)
        return 100.0 * below / len(history)


def _dealer_gammas(
    spot: float,
    chain: OptionChain,
    open_interest: Mapping[str, int],
    vols: Mapping[str, float] | float,
    t_years: float,
    rate: float,
    carry: float,
) -> list[float]:
    """Each contract's signed dollar gamma per 1 % move (calls +, puts -), for those with OI and a usable vol."""
    out = []
    dollar_gamma = chain.multiplier * spot * spot * GEX_MOVE
    for link in chain.links:
        oi = open_interest.get(link.instrument_id, 0)
        vol = vols if isinstance(vols, float | int) else vols.get(link.instrument_id)
        if oi <= 0 or vol is None or not (math.isfinite(vol) and vol > 0):
            continue
        is_call = OptionRight(link.right) is OptionRight.CALL
        gamma = black_scholes_greeks(spot, rate, carry, float(vol), is_call, link.strike, t_years).gamma
        out.append((1.0 if is_call else -1.0) * gamma * oi * dollar_gamma)
    return out


def gamma_exposure(
    spot: float,
    chain: OptionChain,
    open_interest: Mapping[str, int],
    vols: Mapping[str, float] | float,
    t_years: float,
    rate: float = 0.0,
    carry: float = 0.0,
) -> float:
    """Dealer gamma exposure (GEX) in dollars per 1 % move of the underlying.

    GEX = sum over contracts of sign x gamma x OI x multiplier x spot^2 x 0.01, where gamma comes from
    ``black_scholes_greeks`` at the contract's vol and the fractional time to expiry.

    Sign convention (SqueezeMetrics-style, the common public one): dealers are assumed *long* the calls
    (customers sell calls, overwriting) and *short* the puts (customers buy puts, hedging), so calls
    count +, puts -. Negative GEX means dealers are short gamma: their hedging buys rallies and sells
    dips, so moves amplify — the Gamma Scalper's entry signal. Positive GEX pins the market.

    ``vols`` is one vol for the whole chain or a mapping instrument id -> vol; a contract with no open
    interest or no usable vol (missing, non-finite, <= 0) adds nothing.

    Its size is in dollars and is no threshold by itself: a 0DTE gamma grows like 1/sqrt(time to expiry),
    so the same open interest reads several times larger at 14:00 than at 10:00, and it scales with spot^2
    and the product's open interest. The entry signal is ``gex_tilt``, its share of the gross.
    """
    return sum(_dealer_gammas(spot, chain, open_interest, vols, t_years, rate, carry))


def gex_tilt(
    spot: float,
    chain: OptionChain,
    open_interest: Mapping[str, int],
    vols: Mapping[str, float] | float,
    t_years: float,
    rate: float = 0.0,
    carry: float = 0.0,
) -> float | None:
    """Dealer gamma exposure as a share of the gross: GEX / sum |contract GEX|, from -1 (dealers short
    gamma on every contract) to +1 (long on every one); ``None`` when no contract counts.

    Scale-free, unlike GEX in dollars: it does not grow through the day as 0DTE gammas do, nor with spot^2
    or with the product's open interest (SPX and SPY read alike), so one threshold means the same at 10:00
    and at 14:00. Same sign convention as ``gamma_exposure``.
    """
    gammas = _dealer_gammas(spot, chain, open_interest, vols, t_years, rate, carry)
    gross = sum(abs(g) for g in gammas)
    return sum(gammas) / gross if gross > 0 else None


def gex_strength(gex: float, threshold: float) -> float:
    """How many ``threshold``s (> 0, in GEX's units: a tilt, or dollars) GEX lies below zero; 0 when GEX >= 0."""
    if not (math.isfinite(threshold) and threshold > 0):
        raise ValueError(f"GEX threshold must be positive (a tilt, or dollars per 1 % move), got {threshold}")
    return max(0.0, -gex / threshold)
