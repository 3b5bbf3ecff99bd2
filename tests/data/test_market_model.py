"""The synthetic market looks like the 0DTE market (issue 3) and is calibrated into the published bands."""

from dataclasses import replace
from datetime import date

import numpy as np

from odte_nautilus.data.calibration import BANDS, day_figure, figures, outside_bands
from odte_nautilus.data.market_model import (
    MINUTE,
    MarketParams,
    Regime,
    VolMemory,
    intraday_profile,
    simulate_day,
)
from odte_nautilus.data.sample import SampleConfig, market_days, sample_sessions
from odte_nautilus.risk.time_units import SECONDS_PER_YEAR
from tests.kit import trading_session

CRASH_DAY = date(2024, 8, 5)


def _path(day=date(2024, 7, 22), regime=Regime.CALM, seed=3):
    return simulate_day(trading_session(day), 5500.0, regime, np.random.default_rng(seed))


def test_intraday_volatility_is_u_shaped():
    profile = intraday_profile(23_400, MarketParams(), front_load=0.0)
    first, midday, last = profile[: 15 * MINUTE].mean(), profile[11_000:12_000].mean(), profile[-15 * MINUTE :].mean()
    assert first > 1.5 * midday and last > 1.2 * midday
    assert np.isclose(profile.sum(), 1.0)


def test_puts_are_richer_than_calls_at_the_same_distance():
    path = _path()
    s = np.array([1800])
    width = np.sqrt(path.implied_variance[1800]) * 0.674  # ~25 delta either side
    spot = path.spot[1800]
    risk_reversal = path.implied_vol(spot * np.exp(-width), s) - path.implied_vol(spot * np.exp(width), s)
    # Published: 25-delta put minus call IV ~0.03 at ATM IV ~0.15-0.20, i.e. ~15-20 % of the ATM level.
    assert 0.08 < risk_reversal[0] / path.atm_vol(s)[0] < 0.30


def test_time_to_expiry_is_fractional_calendar_time():
    path = _path()
    one_hour_left = path.seconds - 3600
    assert path.years_left(np.array([one_hour_left]))[0] == 3600 / SECONDS_PER_YEAR
    assert path.years_left(np.array([path.seconds]))[0] == 1 / SECONDS_PER_YEAR  # a quote at the close still prices


def test_same_seed_same_path_other_seed_other_path():
    assert np.array_equal(_path(seed=7).spot, _path(seed=7).spot)
    assert not np.array_equal(_path(seed=7).spot, _path(seed=8).spot)


def test_2024_08_05_is_replayed_as_a_crash_and_iv_crush_day():
    config = SampleConfig(days=11)
    by_day = {path.session.trading_date: path for path in market_days(config)}
    crash, before = by_day[CRASH_DAY], by_day[date(2024, 8, 2)]
    assert crash.regime is Regime.CRASH
    assert crash.spot[0] < 0.985 * before.spot[-1]  # gapped down
    at = np.array([0, 4 * 3600])  # 09:30 and 13:30
    open_vol, afternoon_vol = crash.atm_vol(at)
    assert open_vol > 0.6 and afternoon_vol < 0.65 * open_vol  # implied vol crushed by the afternoon


def test_default_20_day_sample_falls_in_the_published_bands():
    """The calibration figures of the default sample (only ATM quotes matter; per-instrument seeding makes a
    narrower chain quote exactly the same ATM prices as the full one)."""
    config = replace(SampleConfig(), strikes_each_side=12)
    values = figures([day_figure(data) for data in sample_sessions(config)])
    assert outside_bands(values) == []
    assert {band.key for band in BANDS} <= set(values)


def test_a_crash_day_loses_for_the_long_straddle():
    config = SampleConfig(days=11, strikes_each_side=12)
    crash = next(day_figure(d) for d in sample_sessions(config) if d.session.trading_date == CRASH_DAY)
    assert crash.straddle_pct > 1.0  # the $70-80 straddle of 2024-08-05
    assert crash.long_pnl_pct < 0  # IV crush


def _log_vol_at_ten(paths):
    return np.log([float(p.atm_vol(np.array([30 * MINUTE]))[0]) for p in paths])


def test_implied_vol_has_memory_across_days():
    """Issue 8, part 3: the day's implied vol persists (VIX-like), it does not halve or double overnight."""
    level = _log_vol_at_ten(list(market_days(SampleConfig(days=120))))
    autocorr = np.corrcoef(level[:-1], level[1:])[0, 1]
    assert autocorr > 0.6  # the memoryless market before it: about 0
    assert np.median(np.abs(np.diff(level))) < 0.12  # before: about 0.5


def test_a_crash_is_followed_by_high_vol_days_that_decay():
    by_day = {p.session.trading_date: p for p in market_days(SampleConfig(days=20))}
    level = dict(zip(by_day, _log_vol_at_ten(list(by_day.values())), strict=True))
    before, after, later = level[date(2024, 8, 2)], level[date(2024, 8, 6)], level[date(2024, 8, 16)]
    assert after > before + 0.3  # the echo of the crash
    assert later < after  # and it fades


def test_crashes_are_rare_outside_the_replayed_stress_days():
    regimes = [p.regime for p in market_days(SampleConfig(days=250, start=date(2021, 1, 4)))]
    assert regimes.count(Regime.CRASH) <= 4  # about one a year


def test_vol_memory_is_an_ar1_with_the_stationary_spread():
    params = MarketParams()
    memory, rng = VolMemory(params), np.random.default_rng(5)
    level = np.array([memory.today(Regime.CALM, rng) for _ in range(20_000)])
    assert abs(np.corrcoef(level[:-1], level[1:])[0, 1] - params.vol_persistence) < 0.01
    assert abs(level.std() - params.vol_dispersion) < 0.05
