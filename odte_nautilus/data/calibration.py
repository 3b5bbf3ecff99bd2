"""Sanity figures of a 0DTE catalog beside the published ones (docs/market-facts.md, "Sanity anchors").

Vilkov (2026, SSRN 4641356; SPXW 0DTE 2016-2026, entry 10:00 ET, held to the close, at mid, % of spot):
the ATM straddle at 10:00 costs about 0.45 % of spot (median) and 0.55 % (mean), and a long ATM straddle
loses on 69.3 % of days. A catalog far outside these bands has a units, multiplier or model bug — or is
not SPX. ``odte catalog stats`` prints them; the synthetic sample's defaults are calibrated into them.
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
)


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
    }


def outside_bands(values: dict[str, float]) -> list[Band]:
    return [band for band in BANDS if not band.holds(values[band.key])]
