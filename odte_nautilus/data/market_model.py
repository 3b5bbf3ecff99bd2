"""The synthetic S&P market behind ``odte catalog sample``: one index path and one vol surface per session.

What it must look like (issue 3, docs/market-facts.md, "Sanity anchors"):

- an intraday U-shaped volatility (busy open, quiet lunch, busy close);
- a put skew (25-delta put IV about 3 vol points over the 25-delta call);
- jumps, and day regimes: calm, trending, choppy (mean-reverting), and a crash-and-IV-crush day shaped
  like 2024-08-05 (gap down, a violent first hour, a rally, implied vol crushed by the afternoon);
- an ATM straddle at 10:00 costing about 0.45 % (median) / 0.55 % (mean) of spot, and a long straddle
  held 10:00 -> close losing on about two days in three (fat tails: most days move less than priced).
- memory across days (issue 8, part 3): the day's vol level is a persistent AR(1) in logs like the VIX's
  (``VolMemory``), the day's regime shapes what the day delivers but not what the open prices, and a crash
  (rare, about one session a year, plus the replayed stress days) lifts implied vol for the days after.

The model works in log-price variance over the *rest of the session*: the market's implied remaining
variance ``W(s)`` at second ``s`` is the expected diffusive variance still to come plus the expected jump
variance, times a premium and a slowly moving, spot-sensitive factor. The Black-Scholes vol of an ATM
option is then ``sqrt(W / T)`` with ``T`` the fractional calendar time to the close in years — the same
fractional-day convention the strategies use for greeks (design §11), so a price does not depend
on how a year is counted.

Pure numpy; every random draw comes from the ``numpy.random.Generator`` passed in (determinism).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

import numpy as np

from odte_nautilus.risk.session import SessionWindow
from odte_nautilus.risk.time_units import SECONDS_PER_YEAR

MINUTE = 60


class Regime(StrEnum):
    CALM = "calm"
    TRENDING = "trending"
    CHOPPY = "choppy"
    CRASH = "crash"


@dataclass(frozen=True, slots=True)
class RegimeParams:
    """How a regime shapes its day; amounts are in units of the day's expected open-to-close stdev."""

    weight: float  # ordinary regimes: relative weight of the draw; crash: its own rate per session
    vol: float  # the stdev the day delivers relative to the market's level of the day (``VolMemory``)
    drift: float  # |drift| over the session (trending), sign drawn per day
    reversion: float  # mean-reversion strength towards the open over a session (choppy)
    jumps: float  # expected number of jumps
    jump_size: float  # stdev of one jump
    skew: float  # put-skew slope of the smile
    gap: float  # mean overnight gap into the day (log)
    front_load: float  # extra variance concentrated in the first hour (the panic open)
    panic: float  # extra implied variance the market pays that the day does not deliver (IV crush)
    # The stdev the market prices at the open relative to the level: an ordinary day's regime is not known
    # in advance (so the level, not the regime, carries the implied vol from day to day); a crash is.
    priced: float = 1.0


REGIMES: dict[Regime, RegimeParams] = {
    Regime.CALM: RegimeParams(0.45, 0.80, 0.0, 0.0, 0.3, 0.40, 0.10, 0.0005, 0.0, 0.0),
    Regime.TRENDING: RegimeParams(0.25, 1.00, 0.6, 0.0, 0.6, 0.50, 0.12, 0.0, 0.0, 0.0),
    Regime.CHOPPY: RegimeParams(0.28, 1.15, 0.0, 1.5, 0.8, 0.50, 0.11, 0.0, 0.0, 0.0),
    Regime.CRASH: RegimeParams(0.004, 2.00, 0.0, 0.0, 1.5, 0.40, 0.22, -0.035, 8.0, 1.5, priced=2.0),
}

_ORDINARY = [r for r in REGIMES.values() if r is not REGIMES[Regime.CRASH]]
_ORDINARY_JUMP_VARIANCE = sum(r.weight * r.jumps * r.jump_size**2 for r in _ORDINARY) / sum(r.weight for r in _ORDINARY)
"""Expected jump variance of an ordinary day, in units of the day's level variance (what the market prices)."""

STRESS_DAYS: dict[date, Regime] = {date(2024, 8, 5): Regime.CRASH}
"""Historical stress sessions replayed as their regime whenever a sample covers them (2024-08-05: the
yen-carry unwind; SPX gapped down ~3 %, the 0DTE straddle hit $80 and implied vol fell from ~146 % to ~70 %)."""

# The crash day's path shape (2024-08-05): a sell-off into ~10:00, then a rally into the close.
_CRASH_DIP = -0.45  # in day-stdevs, over the first 30 minutes
_CRASH_RALLY = 0.30  # in day-stdevs, over the rest of the session
_CRASH_DIP_SECONDS = 30 * MINUTE
_PANIC_SECONDS = 90 * MINUTE


@dataclass(frozen=True, slots=True)
class MarketParams:
    """The market's calibration; defaults put a 20-day sample inside the published bands (``calibration``)."""

    base_vol: float = 0.0064  # median expected open-to-close stdev of SPX (fraction of spot)
    realized_noise: float = 0.75  # lognormal stdev of realized vs expected variance within a day
    # Implied over expected variance. Below zero on purpose: a straddle is worth E|move| ~ 0.8 E[sigma],
    # which under this fat-tailed mixture is well below 0.8 sqrt(E[sigma^2]); -12 % brings the long
    # straddle's mean P&L near the published ~0 while it still loses on about two days in three.
    variance_premium: float = -0.12
    leverage: float = 6.0  # implied variance rises this many x the fall of log spot since the open
    vol_of_vol: float = 0.10  # stdev of the slow log-variance factor over a session
    smile: float = 0.03  # curvature of the smile in standardized moneyness
    open_weight: float = 1.5  # U-shape: extra variance at the open (decays over ~25 min)
    close_weight: float = 0.8  # U-shape: extra variance into the close (builds over ~20 min)
    # Memory across days (``VolMemory``): the log vol level is an AR(1) like the VIX's.
    vol_persistence: float = 0.97  # day-to-day autocorrelation of the log vol level
    vol_dispersion: float = 0.35  # stationary stdev of the log vol level across days
    crash_vol_jump: float = 0.55  # log vol added the day after a crash (VIX ~38 -> ~27 after 2024-08-05)
    crash_vol_decay: float = 0.7  # and kept day after day at this rate (back near the level in ~a week)


@dataclass(frozen=True, slots=True)
class DayPath:
    """One session of the market at 1-second resolution: index level and implied remaining variance.

    Arrays have ``seconds + 1`` entries: index 0 is the open, index ``seconds`` the close.
    """

    session: SessionWindow
    regime: Regime
    spot: np.ndarray
    implied_variance: np.ndarray  # W(s): implied log-variance from s to the close (not annualized)
    skew: float
    smile: float

    @property
    def seconds(self) -> int:
        return len(self.spot) - 1

    def years_left(self, s: np.ndarray) -> np.ndarray:
        """Calendar time to the close in years, floored at one second (a quote at the close still prices)."""
        return np.maximum(self.seconds - np.asarray(s), 1) / SECONDS_PER_YEAR

    def atm_vol(self, s: np.ndarray) -> np.ndarray:
        return np.sqrt(self.implied_variance[s] / self.years_left(s))

    def implied_vol(self, strike: float, s: np.ndarray) -> np.ndarray:
        """The smile: ATM vol scaled by a quadratic in standardized moneyness, puts richer (put skew)."""
        atm = self.atm_vol(s)
        z = np.log(strike / self.spot[s]) / np.sqrt(self.implied_variance[s])
        z = np.clip(z, -4.0, 4.0)
        return atm * np.clip(1.0 - self.skew * z + self.smile * z * z, 0.75, 2.0)


def draw_regime(day: date, rng: np.random.Generator) -> Regime:
    """The day's regime: a replayed stress day if listed; else a crash at its own rare rate (about one
    session a year), else calm, trending or choppy by weight. Two draws every day, whatever the outcome."""
    regimes = [r for r in REGIMES if r is not Regime.CRASH]  # the ordinary regimes
    weights = np.array([REGIMES[r].weight for r in regimes])
    drawn: Regime = regimes[int(rng.choice(len(regimes), p=weights / weights.sum()))]
    if rng.random() < REGIMES[Regime.CRASH].weight:
        drawn = Regime.CRASH
    return STRESS_DAYS.get(day, drawn)


@dataclass(slots=True)
class VolMemory:
    """The market's volatility level from day to day: persistent, with crashes that echo for days.

    The log level is an AR(1) across sessions (``vol_persistence``, stationary stdev ``vol_dispersion``),
    started from its stationary law on a sample's first day, plus a crash echo: a crash day adds
    ``crash_vol_jump`` to the following days' log level, decaying by ``crash_vol_decay`` a day. One normal
    draw per day, from that day's generator (determinism: a day depends on the seed, its date and the days
    before it).
    """

    params: MarketParams
    level: float | None = None
    echo: float = 0.0

    def today(self, regime: Regime, rng: np.random.Generator) -> float:
        """The day's log vol level (0 is the market's base); advances the memory past the day."""
        p = self.params
        shock = float(rng.standard_normal())
        if self.level is None:
            self.level = p.vol_dispersion * shock
        else:
            innovation = p.vol_dispersion * np.sqrt(1.0 - p.vol_persistence**2)
            self.level = p.vol_persistence * self.level + innovation * shock
        level = self.level + self.echo
        self.echo = p.crash_vol_decay * self.echo + (p.crash_vol_jump if regime is Regime.CRASH else 0.0)
        return level


def intraday_profile(seconds: int, params: MarketParams, front_load: float) -> np.ndarray:
    """Per-second share of the session's variance: the U shape (plus a panic open), summing to 1."""
    t = np.arange(seconds) + 0.5
    weights = (
        1.0
        + params.open_weight * np.exp(-t / (25 * MINUTE))
        + params.close_weight * np.exp(-(seconds - t) / (20 * MINUTE))
        + front_load * np.exp(-t / (45 * MINUTE))
    )
    return weights / weights.sum()


def _ar1(shocks: np.ndarray, keep: float) -> np.ndarray:
    """x[i] = keep * x[i-1] + shocks[i] (short series: minutes)."""
    out = np.empty_like(shocks)
    x = 0.0
    for i, e in enumerate(shocks.tolist()):
        x = keep * x + e
        out[i] = x
    return out


def simulate_day(
    session: SessionWindow,
    open_price: float,
    regime: Regime,
    rng: np.random.Generator,
    params: MarketParams = MarketParams(),
    vol_level: float = 0.0,
) -> DayPath:
    """Simulate one session's index path and implied remaining variance; ``vol_level`` is the day's log vol
    level from ``VolMemory`` (0: the market's base)."""
    reg = REGIMES[regime]
    n = session.seconds
    minutes = n // MINUTE
    profile = intraday_profile(n, params, reg.front_load)

    level = params.base_vol * float(np.exp(vol_level))
    sigma = level * reg.vol  # what the day delivers
    expected_var = (level * reg.priced) ** 2  # what the market prices
    noise = params.realized_noise
    realized_var = sigma**2 * float(np.exp(rng.normal(-noise * noise / 2, noise)))

    # Diffusion with the U-shaped variance profile.
    returns = np.sqrt(realized_var * profile) * rng.standard_normal(n)

    # Directional days.
    if reg.drift:
        sign = 1.0 if rng.random() < 0.5 else -1.0
        returns += sign * reg.drift * sigma / n
    if regime is Regime.CRASH:
        dip = min(_CRASH_DIP_SECONDS, n // 4)
        returns[:dip] += _CRASH_DIP * sigma / dip
        returns[dip:] += _CRASH_RALLY * sigma / (n - dip)

    # Jumps: Poisson count, uniform times, slightly down-biased sizes (mean -0.3 stdev: E[J^2] = 1.09 var).
    # The market prices an ordinary day's jumps at the ordinary regimes' average (it cannot tell them apart).
    priced_jumps = _ORDINARY_JUMP_VARIANCE if regime is not Regime.CRASH else reg.jumps * reg.jump_size**2
    jump_second_moment = priced_jumps * (level * reg.priced) ** 2 * 1.09
    for _ in range(int(rng.poisson(reg.jumps))):
        returns[int(rng.integers(0, n))] += rng.normal(-0.3 * reg.jump_size * sigma, reg.jump_size * sigma)

    log_path = np.concatenate(([0.0], np.cumsum(returns)))
    if reg.reversion:
        # Choppy: pull the path back towards the open, minute by minute (the pull is smooth within a minute).
        keep = float(np.exp(-reg.reversion / minutes))
        per_minute = log_path[MINUTE::MINUTE][:minutes] - log_path[: minutes * MINUTE : MINUTE]
        reverted = _ar1(per_minute, keep)
        pull = np.concatenate(([0.0], reverted - np.cumsum(per_minute)))
        log_path = log_path + np.interp(np.arange(n + 1), np.arange(minutes + 1) * MINUTE, pull)
    spot = open_price * np.exp(log_path)

    # Implied remaining variance: expected diffusive + jump variance to come, with premium and a slow factor.
    remaining = np.concatenate((np.cumsum(profile[::-1])[::-1], [profile[-1]]))
    time_left = np.maximum(n - np.arange(n + 1), 1) / n
    base = expected_var * remaining + jump_second_moment * time_left
    slow = _ar1(rng.normal(0.0, params.vol_of_vol * np.sqrt(2 / minutes), minutes + 1), 1 - 1 / minutes)
    slow = np.interp(np.arange(n + 1), np.arange(minutes + 1) * MINUTE, slow)
    factor = np.clip(np.exp(slow - params.leverage * log_path), 0.5, 2.0)
    panic = reg.panic * np.exp(-np.arange(n + 1) / _PANIC_SECONDS)  # the fear premium bleeds out by midday
    implied = (1.0 + params.variance_premium + panic) * base * factor

    return DayPath(session, regime, spot, implied, reg.skew, params.smile)


def next_open(close: float, regime: Regime, rng: np.random.Generator) -> float:
    """Tomorrow's open from today's close: an overnight gap (the crash day's is -3.5 % on average)."""
    return close * float(np.exp(rng.normal(REGIMES[regime].gap, 0.004)))
