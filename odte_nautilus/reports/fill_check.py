"""The fill check: a run's fills against the catalog's own quotes and its own money (issue 8, part 2).

Independent of the engine, as the invariant audit is: it reads ``fills.csv``, ``positions.csv`` and the
catalog's quote and bar files, never the engine's objects. A run passes when

- ``leg_outside_quote``: every leg traded inside the bid/ask its catalog quote showed when it filled;
- ``off_tick_grid``: every leg price lies on its contract's tick grid;
- ``stale_quote``: no fill acted on a quote older than its own minute while that minute's quote was still to
  come (a decision that jumped ahead of the option quotes of the minute that triggered it);
- ``settlement_level``: every expiry settlement paid the intrinsic value at the session's closing index level;
- ``money``: every closed package's P&L in ``positions.csv`` equals, to the cent, the cash its leg fills in
  ``fills.csv`` moved less their fees (and so do the per-strategy totals of ``summary.json``).

The quote in force at a fill is the latest seen by then. The backtest engine sees a quote at its ``ts_init``,
which the catalog writer stamps ``QUOTE_INIT_DELAY_NS`` after the quote's minute; a broker (the simulator)
stamps a fill with its own clock, at which that minute's quotes are already out (``quote_delay_ns=0``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from odte_nautilus.data.bundle import QuoteSeries
from odte_nautilus.data.catalog_io import QUOTE_INIT_DELAY_NS, read_bars, read_many_quotes
from odte_nautilus.data.symbology import parse_option_id
from odte_nautilus.data.ticks import on_tick_grid
from odte_nautilus.data.underlyings import underlying_spec
from odte_nautilus.reports.audit import Violation
from odte_nautilus.reports.frames import parse_utc_ns
from odte_nautilus.reports.summary import TOTAL
from odte_nautilus.risk.session import TradingCalendar
from odte_nautilus.risk.time_units import MINUTE_NS

SETTLEMENT = "settlement"
_CENT = 0.005  # half a cent: two amounts that round to the same cent agree
_PRICE_TOL = 1e-9


@dataclass
class FillCheck:
    """What was checked (counts) and what failed, as the invariant audit's ``Violation``s."""

    checked: dict[str, int] = field(default_factory=dict)
    violations: list[Violation] = field(default_factory=list)

    def flag(self, rule: str, ts: str, detail: str) -> None:
        self.violations.append(Violation(rule, ts, detail))


def check_fills(
    fills: pd.DataFrame,
    positions: pd.DataFrame,
    catalog: str | Path,
    strategy_pnl: dict[str, float] | None = None,
    quote_delay_ns: int = QUOTE_INIT_DELAY_NS,
) -> FillCheck:
    """Check a run's fills against the catalog at ``catalog`` and its money (see the module docstring)."""
    result = FillCheck({"traded_legs": 0, "settlements": 0, "reconciled": 0})
    if fills.empty:
        return result
    fills = fills.assign(
        ts_ns=parse_utc_ns(fills["ts_event"], "fills.csv", "ts_event").astype("int64"),
        **{column: pd.to_numeric(fills[column]) for column in ("price", "quantity", "fee", "strike")},
    )
    traded = fills[fills["exit_kind"].fillna("") != SETTLEMENT]
    in_catalog = {iid: catalog_id(iid) for iid in traded["instrument_id"].unique()}
    quotes = read_many_quotes(catalog, sorted(set(in_catalog.values())))
    for row in traded.itertuples(index=False):
        _check_leg(result, row, quotes[in_catalog[row.instrument_id]], quote_delay_ns)
    settlements = fills[fills["exit_kind"].fillna("") == SETTLEMENT]
    _check_settlements(result, settlements, Path(catalog))
    _check_money(result, fills, positions, strategy_pnl or {})
    result.checked = {"traded_legs": len(traded), "settlements": len(settlements), "reconciled": len(positions)}
    return result


def catalog_id(instrument_id: str) -> str:
    """The catalog's id of a traded contract: a live node's venue (``.ALPACA``) is not the catalog's."""
    key = parse_option_id(instrument_id)
    return underlying_spec(key.root).option_id(key.expiry, key.right, key.strike, key.root)


def _check_leg(result: FillCheck, row: Any, series: QuoteSeries, delay_ns: int) -> None:
    ts, where = row.ts_event, f"{row.instrument_id} {row.side} at {row.price}"
    seen = np.asarray(series.ts, dtype=np.int64) + delay_ns
    at = int(np.searchsorted(seen, row.ts_ns, side="right")) - 1
    if at < 0:
        result.flag("leg_outside_quote", ts, f"{where}: no quote before the fill")
        return
    bid, ask = float(series.bid[at]), float(series.ask[at])
    if not bid - _PRICE_TOL <= row.price <= ask + _PRICE_TOL:
        result.flag("leg_outside_quote", ts, f"{where}: quote {bid}/{ask}")
    if not bool(on_tick_grid(float(row.price), underlying_spec(row.underlying).ticks)):
        result.flag("off_tick_grid", ts, where)
    minute = row.ts_ns - row.ts_ns % MINUTE_NS
    minutes_quote_to_come = at + 1 < len(seen) and int(series.ts[at + 1]) == minute
    if int(series.ts[at]) < minute and minutes_quote_to_come:
        result.flag("stale_quote", ts, f"{where}: filled on the previous minute's quote before its own minute's")


def _check_settlements(result: FillCheck, settlements: pd.DataFrame, catalog: Path) -> None:
    calendar = TradingCalendar()
    for (underlying, expiry), group in settlements.groupby(["underlying", "expiry"]):
        window = calendar.session_window(pd.Timestamp(expiry).date())
        if window is None:
            result.flag("settlement_level", str(expiry), f"{underlying}: not a trading session")
            continue
        bars = read_bars(catalog, underlying_spec(underlying).bar_type, window.close_ns, window.close_ns)
        closes = bars.close[np.asarray(bars.ts, dtype=np.int64) == window.close_ns]
        if len(closes) == 0:
            result.flag("settlement_level", str(expiry), f"{underlying}: no index bar at the close")
            continue
        level = float(closes[-1])
        for row in group.itertuples(index=False):
            intrinsic = max(0.0, level - row.strike) if row.right == "C" else max(0.0, row.strike - level)
            if abs(row.price - round(intrinsic, 2)) > _PRICE_TOL + 0.005:
                detail = f"{row.instrument_id} settled at {row.price}, index close {level}"
                result.flag("settlement_level", row.ts_event, detail)


def _check_money(
    result: FillCheck, fills: pd.DataFrame, positions: pd.DataFrame, strategy_pnl: dict[str, float]
) -> None:
    sign = np.where(fills["side"] == "SELL", 1.0, -1.0)
    cash = sign * fills["price"] * fills["quantity"] * 100 - fills["fee"]
    by_package = cash.groupby(fills["package_id"]).sum()
    closed = positions[positions["closed_at"] != ""]
    for row in closed.itertuples(index=False):
        moved = float(by_package.get(row.package_id, 0.0))
        if abs(moved - row.realized_pnl) >= _CENT:
            detail = f"{row.package_id}: fills {moved:.2f}, positions.csv {row.realized_pnl:.2f}"
            result.flag("money", row.closed_at, detail)
    per_strategy = closed.groupby("strategy_id")["realized_pnl"].sum()
    for strategy, pnl in strategy_pnl.items():
        packages = float(closed["realized_pnl"].sum() if strategy == TOTAL else per_strategy.get(strategy, 0.0))
        if abs(packages - pnl) >= _CENT:
            result.flag("money", "", f"{strategy}: summary.json {pnl:.2f}, its packages {packages:.2f}")
