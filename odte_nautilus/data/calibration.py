"""Sanity figures of a 0DTE catalog beside the published ones (docs/market-facts.md, "Sanity anchors").

Vilkov (2026, SSRN 4641356; SPXW 0DTE 2016-2026, entry 10:00 ET, held to the close, at mid, % of spot):
the ATM straddle at 10:00 costs about 0.45 % of spot (median) and 0.55 % (mean), and a long ATM straddle
loses on 69.3 % of days. A catalog far outside these bands has a units, multiplier or model bug — or is
not SPX. ``odte catalog stats`` prints them; the synthetic sample's defaults are calibrated into them.

Persistence (docs/market-facts.md, "Sanity anchors"; public VIX history): implied vol has memory. The daily
log VIX has a lag-1 autocorrelation of about 0.97 and moves by about 5 % on a typical day. The catalog's
figures are those of the log 10:00 straddle from one session to the next. Their bands are wide on purpose:
on 20 sessions the autocorrelation estimate is biased low by about (1 + 4 phi) / n ~ 0.24 and one crash
spike lowers it further. The bands were set on the default 20-session window over 40 seeds: the
synthetic market's samples fall inside both on 38 of 40 seeds (the default seed: 0.58 and 0.13), the
memoryless market before it (generator version 1: -0.11 and 0.90 on the default seed) on none.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

from odte_nautilus.data.bundle import QuoteSeries, SessionData
from odte_nautilus.data.symbology import parse_option_id
from odte_nautilus.risk.model import OptionRight
from odte_nautilus.risk.session import ny_ns

ENTRY_TIME = (10, 0)  # New York, the paper's entry


@dataclass(frozen=True, slots=True)
class Band:
    key: str
    label: str
    published: float
    low: float
    high: float

    def holds(self, value: float) -> bool:
        return self.low <= value <= self.high


BANDS: tuple[Band, ...] = (
    Band("straddle_median_pct", "ATM straddle at 10:00, median (% of spot)", 0.45, 0.35, 0.60),
    Band("straddle_mean_pct", "ATM straddle at 10:00, mean (% of spot)", 0.55, 0.40, 0.75),
    Band("long_straddle_loss_share", "long ATM straddle 10:00->close loses (share of days)", 0.693, 0.50, 0.80),
    Band("vol_autocorr", "log 10:00 straddle, day-to-day autocorrelation (VIX)", 0.97, 0.25, 1.00),
    Band("vol_day_change", "log 10:00 straddle, median |day-to-day change| (VIX)", 0.05, 0.03, 0.20),
)
PERSISTENCE_KEYS = ("vol_autocorr", "vol_day_change")  # need three distinct sessions of one underlying


@dataclass(frozen=True, slots=True)
class DayFigure:
    """One session: the ATM straddle bought at mid at 10:00 and held to the settlement at the close."""

    day: date
    spot: float
    strike: float
    straddle: float
    settlement: float

    @property
    def straddle_pct(self) -> float:
        return 100.0 * self.straddle / self.spot

    @property
    def long_pnl_pct(self) -> float:
        return 100.0 * (abs(self.settlement - self.strike) - self.straddle) / self.spot


def atm_strike(strikes: list[float], spot: float) -> float:
    """The listed strike nearest the spot (the lower one on a tie)."""
    return min(sorted(strikes), key=lambda k: abs(k - spot))


def _mid_at(series: QuoteSeries, ts_ns: int) -> float:
    i = int(np.searchsorted(series.ts, np.uint64(ts_ns), side="right")) - 1
    if i < 0:
        raise ValueError(f"{series.instrument_id}: no quote at or before 10:00")
    return float(series.bid[i] + series.ask[i]) / 2.0


def day_figure(data: SessionData) -> DayFigure:
    """The figure of one session; ``data.quotes`` needs at least the ATM call and put."""
    entry = ny_ns(data.session.trading_date, *ENTRY_TIME)
    spot = data.checked_bars.close_at(entry)
    pairs: dict[float, dict[OptionRight, str]] = {}
    for iid in data.quotes:
        key = parse_option_id(iid)
        pairs.setdefault(key.strike, {})[key.right] = iid
    strike = atm_strike([k for k, rights in pairs.items() if len(rights) == 2], spot)
    straddle = sum(_mid_at(data.quotes[pairs[strike][r]], entry) for r in (OptionRight.CALL, OptionRight.PUT))
    return DayFigure(
        data.session.trading_date, spot, strike, straddle, data.checked_bars.close_at(data.session.close_ns)
    )


def persistence(days: list[DayFigure]) -> dict[str, float]:
    """How implied vol carries over from one session to the next, on the log 10:00 straddle in date order.

    Empty with fewer than three sessions or when a date repeats (several underlyings: no single series).
    """
    ordered = sorted(days, key=lambda d: d.day)
    if len(ordered) < 3 or len({d.day for d in ordered}) < len(ordered):
        return {}
    level = np.log([d.straddle_pct for d in ordered])
    return {
        "vol_autocorr": float(np.corrcoef(level[:-1], level[1:])[0, 1]),
        "vol_day_change": float(np.median(np.abs(np.diff(level)))),
    }


def figures(days: list[DayFigure]) -> dict[str, float]:
    """The banded figures plus the P&L distribution (for context, not banded)."""
    straddle = np.array([d.straddle_pct for d in days])
    pnl = np.array([d.long_pnl_pct for d in days])
    return {
        "straddle_median_pct": float(np.median(straddle)),
        "straddle_mean_pct": float(np.mean(straddle)),
        "long_straddle_loss_share": float(np.mean(pnl < 0)),
        "long_pnl_mean_pct": float(np.mean(pnl)),
        "long_pnl_median_pct": float(np.median(pnl)),
        **persistence(days),
    }


def outside_bands(values: dict[str, float]) -> list[Band]:
    """The bands a catalog's figures miss; a figure the catalog cannot give (too few sessions) is not judged."""
    return [band for band in BANDS if band.key in values and not band.holds(values[band.key])]
