"""Load-time schema checks: refuse wrong market data with a named error, before anything is written.

Seed 000: "schema-level data tests (SPX bars must not have a volume column — which catches
wrong-instrument joins at load time)". Every import, every sample and every backtest load
(``catalog_check.validate_catalog``) runs the same checks; each failure is its own exception class carrying
the file, the row or instrument, the reason and what to do. Importers check every session of a job before
writing the first file, so a refused job writes nothing. The checks judge a session in memory; reading the
catalog is ``catalog_io``'s, and ``catalog_check`` runs the one over the other.
"""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar

import numpy as np
import pandas as pd
from nautilus_trader.model.enums import OptionKind

from odte_nautilus.data.bundle import Origin, QuoteSeries, SessionData
from odte_nautilus.data.ticks import on_tick_grid
from odte_nautilus.risk.model import OptionRight
from odte_nautilus.risk.session import NEW_YORK, SessionWindow

ATM_BAND = 5
"""Strikes either side of the opening ATM that must be listed and quoted, calls and puts: enough for the
strategies' straddles, strangles and iron-fly wings."""


class CheckCode(StrEnum):
    INDEX_VOLUME = "index_volume"
    MULTIPLIER = "multiplier"
    CROSSED_QUOTE = "crossed_quote"
    OFF_TICK = "off_tick"
    OUTSIDE_SESSION = "outside_session"
    EXPIRY_NOT_SESSION = "expiry_not_session"
    DUPLICATE_TIMESTAMP = "duplicate_timestamp"
    STRIKE_GRID_HOLE = "strike_grid_hole"
    MISSING_UNDERLYING = "missing_underlying"
    MISSING_DEFINITION = "missing_definition"


class DataCheckError(ValueError):
    """Base of the named data errors: ``file``, ``where`` (row or instrument), ``reason`` and a fix."""

    code: ClassVar[CheckCode]
    fix: ClassVar[str]

    def __init__(self, file: str, where: str, reason: str) -> None:
        self.file, self.where, self.reason = file, where, reason
        super().__init__(f"[{self.code}] {file}, {where}: {reason}. {self.fix}")


class IndexVolumeError(DataCheckError):
    code = CheckCode.INDEX_VOLUME
    fix = (
        "An index has no volume, so this series is another instrument under the index's id (a "
        "wrong-instrument join, e.g. SPY or ES bars). Load the index's own file."
    )


class MultiplierError(DataCheckError):
    code = CheckCode.MULTIPLIER
    fix = (
        "SPX, SPXW and SPY options have multiplier 100. Nautilus's Databento loader reads 1 from "
        "unit_of_measure_qty: import through `odte catalog import databento`, which sets 100."
    )


class CrossedQuoteError(DataCheckError):
    code = CheckCode.CROSSED_QUOTE
    fix = "Check the column mapping (bid and ask swapped?) or drop crossed rows at the source."


class OffTickError(DataCheckError):
    code = CheckCode.OFF_TICK
    fix = (
        "Quotes must lie on the contract's grid (SPXW: $0.05 below $3, $0.10 from $3; SPY: $0.01) and be "
        "non-negative: check the price scale of the source (cents? a strike column read as a price?)."
    )


class OutsideSessionError(DataCheckError):
    code = CheckCode.OUTSIDE_SESSION
    fix = (
        "Quotes must lie in the regular session (09:30 to the close, 13:00 on early closes). Check the "
        "time zone (CSV times are New York local unless they carry an offset) or filter extended hours."
    )


class ExpiryNotSessionError(DataCheckError):
    code = CheckCode.EXPIRY_NOT_SESSION
    fix = (
        "The catalog holds 0DTE sessions: every option must expire at the close of the session it is "
        "quoted in (16:00 New York, 13:00 on early closes). Pull only expiration == quote date "
        "(or pass --skip-non-0dte); AM-settled SPX monthlies are never 0DTE."
    )


class DuplicateTimestampError(DataCheckError):
    code = CheckCode.DUPLICATE_TIMESTAMP
    fix = "Keep one quote per instrument and timestamp (e.g. the last) before importing."


class StrikeGridHoleError(DataCheckError):
    code = CheckCode.STRIKE_GRID_HOLE
    fix = (
        f"The {ATM_BAND} strikes either side of the opening ATM must all be listed and quoted, calls and "
        "puts (the strategies trade there). Pull a wider strike range."
    )


class MissingUnderlyingError(DataCheckError):
    code = CheckCode.MISSING_UNDERLYING
    fix = (
        "Import the underlying's 1-minute bars for the same session (`--index FILE`), with a bar stamped "
        "at the close: the backtester cash-settles 0DTE options on it, and without it positions never close."
    )


class MissingDefinitionError(DataCheckError):
    code = CheckCode.MISSING_DEFINITION
    fix = "Every quoted instrument needs its definition: include the definition file for the same pull."


def _at(origin: Origin, index: int, instrument_id: str) -> tuple[str, str]:
    file, where = origin.locate(index)
    return file, f"{where} ({instrument_id})"


def _ny(ts_ns: int) -> str:
    """A timestamp as New York wall-clock time, as the messages show it."""
    return pd.Timestamp(ts_ns, tz="UTC").tz_convert(NEW_YORK).strftime("%Y-%m-%d %H:%M:%S")


def _in_session(ts_ns: np.ndarray, session: SessionWindow) -> np.ndarray:
    """True where a timestamp lies in [open, close] (a quote stamped at the close is in the session)."""
    return (ts_ns >= session.open_ns) & (ts_ns <= session.close_ns)


def _check_underlying(data: SessionData) -> None:
    spec, session, bars = data.spec, data.session, data.bars
    if data.underlying is None or bars is None or len(bars) == 0:
        raise MissingUnderlyingError(
            data.instruments_origin.file,
            spec.underlying_id,
            f"no {spec.underlying_id} bars for the session of {session.trading_date}",
        )
    if spec.is_index:
        loud = np.flatnonzero(bars.volume != 0)
        if len(loud):
            i = int(loud[0])
            raise IndexVolumeError(
                *_at(bars.origin, i, spec.underlying_id),
                f"index bar at {_ny(int(bars.ts[i]))} has volume {bars.volume[i]:g}",
            )
    if not np.any(bars.ts == np.uint64(session.close_ns)):
        raise MissingUnderlyingError(
            bars.origin.file,
            spec.underlying_id,
            f"no bar stamped at the close {_ny(session.close_ns)} (the settlement level)",
        )


def _check_instruments(data: SessionData) -> None:
    spec, session, file = data.spec, data.session, data.instruments_origin.file
    for option in data.options:
        iid = option.id.value
        if int(option.multiplier) != spec.multiplier:
            raise MultiplierError(file, iid, f"multiplier {option.multiplier} is not {spec.multiplier}")
        settles_on = f"{option.underlying}.{option.id.venue}"
        if settles_on != spec.underlying_id:
            raise MissingUnderlyingError(file, iid, f"settles against {settles_on}, not {spec.underlying_id}")
        if option.expiration_ns != session.close_ns:
            raise ExpiryNotSessionError(
                file,
                iid,
                f"expires {_ny(option.expiration_ns)} but is quoted in the session of "
                f"{session.trading_date} closing {_ny(session.close_ns)}",
            )
    defined = {o.id.value for o in data.options}
    for iid, series in data.quotes.items():
        if iid not in defined:
            raise MissingDefinitionError(series.origin.file, iid, "quoted but has no instrument definition")


def check_quotes(series: QuoteSeries, data: SessionData) -> None:
    """One instrument's quotes: in the session, unique timestamps, not crossed, on the tick grid."""
    session, iid, origin = data.session, series.instrument_id, series.origin
    outside = np.flatnonzero(~_in_session(series.ts, session))
    if len(outside):
        i = int(outside[0])
        raise OutsideSessionError(
            *_at(origin, i, iid),
            f"quote at {_ny(int(series.ts[i]))} (New York) is outside the session "
            f"{_ny(session.open_ns)}-{_ny(session.close_ns)[-8:]}",
        )
    duplicate = np.flatnonzero(np.diff(series.ts.astype(np.int64)) <= 0)
    if len(duplicate):
        i = int(duplicate[0]) + 1
        raise DuplicateTimestampError(
            *_at(origin, i, iid),
            f"timestamp {_ny(int(series.ts[i]))} repeats (or goes back) for this instrument",
        )
    crossed = np.flatnonzero(series.bid > series.ask)
    if len(crossed):
        i = int(crossed[0])
        raise CrossedQuoteError(*_at(origin, i, iid), f"bid {series.bid[i]:g} > ask {series.ask[i]:g}")
    ticks = data.spec.ticks
    for side, prices in (("bid", series.bid), ("ask", series.ask)):
        off = np.flatnonzero(~on_tick_grid(prices, ticks))
        if len(off):
            i = int(off[0])
            raise OffTickError(*_at(origin, i, iid), f"{side} {prices[i]:g} is off the {ticks.name} grid")


def _check_strike_grid(data: SessionData) -> None:
    spec = data.spec
    open_level = float(data.checked_bars.open[0])
    atm = round(open_level / spec.strike_step) * spec.strike_step
    quoted = {
        (o.strike_price.as_double(), OptionRight.CALL if o.option_kind == OptionKind.CALL else OptionRight.PUT)
        for o in data.options
        if len(data.quotes.get(o.id.value, ())) > 0
    }
    wanted = [atm + spec.strike_step * k for k in range(-ATM_BAND, ATM_BAND + 1)]
    missing = [
        f"{right.value}{strike:g}" for strike in wanted for right in OptionRight if (strike, right) not in quoted
    ]
    if missing:
        raise StrikeGridHoleError(
            data.instruments_origin.file,
            f"session {data.session.trading_date}",
            f"opening level {open_level:g} (ATM {atm:g}) but no quoted {', '.join(missing)}",
        )


def check_session(data: SessionData) -> None:
    """Raise the first ``DataCheckError`` of a session (underlying, definitions, quotes, strike grid)."""
    _check_underlying(data)
    _check_instruments(data)
    for series in data.quotes.values():
        check_quotes(series, data)
    _check_strike_grid(data)
