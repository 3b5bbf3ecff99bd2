"""The importers' shared back end: vendor rows -> per-session ``SessionData`` -> checks -> catalog.

Each importer (``import_databento``, ``import_csv``) only turns its files into one table of quote rows
in the project's vocabulary (option key, UTC ns, bid, ask, sizes, file and row) plus the underlying's
bars; everything after that — the root filter, the 0DTE selection, the expiry rule, the instruments, the
checks and the write — happens here, once. Nothing is written until every session of the job passed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from odte_nautilus.data import catalog_io
from odte_nautilus.data.bundle import BarSeries, Origin, QuoteSeries, SessionData
from odte_nautilus.data.catalog_check import record_passed
from odte_nautilus.data.checks import OutsideSessionError, check_session
from odte_nautilus.data.instruments import option_contract, underlying_instrument
from odte_nautilus.data.symbology import OptionKey
from odte_nautilus.data.underlyings import UnderlyingSpec
from odte_nautilus.risk.model import OptionRight
from odte_nautilus.risk.session import NEW_YORK, TradingCalendar

QUOTE_COLUMNS = ("root", "expiry", "right", "strike", "ts", "bid", "ask", "bid_size", "ask_size", "row", "file")
"""A quote-rows table: ``expiry`` a ``datetime.date``, ``right`` "C"/"P", ``ts`` UTC ns (int64), ``row`` the
1-based row (or record) in ``files[file]``. Optional: ``open_interest``, ``multiplier``."""


class ImportConflictError(ValueError):
    """The target catalog already holds a session this job would write."""


@dataclass(slots=True)
class ImportReport:
    sessions: list[date] = field(default_factory=list)
    options: int = 0
    quotes: int = 0
    skipped_roots: dict[str, int] = field(default_factory=dict)  # rows of roots not imported
    skipped_non_0dte: int = 0  # rows of options not expiring in their quote's session (--skip-non-0dte)


def ny_days(ts: np.ndarray) -> np.ndarray:
    """The New York trading date of each UTC ns timestamp (as datetime64[D])."""
    local = pd.to_datetime(pd.Series(ts, dtype="int64"), utc=True).dt.tz_convert(NEW_YORK)
    return local.dt.tz_localize(None).to_numpy().astype("datetime64[D]")


def bars_by_day(frame: pd.DataFrame, spec: UnderlyingSpec, file: str) -> dict[date, BarSeries]:
    """Split an underlying bar table (ts, open, high, low, close, volume, row) into one series per session."""
    frame = frame.sort_values("ts", kind="mergesort")
    days = ny_days(frame["ts"].to_numpy())
    result = {}
    for day in np.unique(days):
        part = frame[days == day]
        result[day.astype(object)] = BarSeries(
            bar_type=spec.bar_type,
            ts=part["ts"].to_numpy().astype(np.uint64),
            open=part["open"].to_numpy(dtype=np.float64),
            high=part["high"].to_numpy(dtype=np.float64),
            low=part["low"].to_numpy(dtype=np.float64),
            close=part["close"].to_numpy(dtype=np.float64),
            volume=part["volume"].to_numpy(dtype=np.float64),
            origin=Origin(file, part["row"].to_numpy()),
        )
    return result


def assemble_sessions(
    spec: UnderlyingSpec,
    rows: pd.DataFrame,
    files: tuple[str, ...],
    bars: dict[date, BarSeries],
    instruments_file: str,
    roots: tuple[str, ...] | None = None,
    skip_non_0dte: bool = False,
) -> tuple[list[SessionData], ImportReport]:
    """Group quote rows into sessions of ``spec``'s 0DTE chain (unchecked)."""
    missing = [c for c in QUOTE_COLUMNS if c not in rows.columns]
    if missing:
        raise ValueError(f"an importer produced quote rows without {missing} (see importing.QUOTE_COLUMNS)")
    report = ImportReport()
    roots = roots or (spec.option_root,)
    keep = rows["root"].isin(roots)
    for root, count in rows.loc[~keep, "root"].value_counts().sort_index().items():
        report.skipped_roots[str(root)] = int(count)
    rows = rows[keep]
    if rows.empty:
        return [], report
    days = ny_days(rows["ts"].to_numpy())
    if skip_non_0dte:
        same_day = pd.to_datetime(rows["expiry"]).to_numpy().astype("datetime64[D]") == days
        report.skipped_non_0dte = int((~same_day).sum())
        rows, days = rows[same_day], days[same_day]

    sessions = []
    calendar = TradingCalendar()
    for day in np.unique(days):
        part = rows[days == day].sort_values(["root", "expiry", "right", "strike", "ts"], kind="mergesort")
        session = calendar.session_window(day.astype(object))
        if session is None:
            first = part.iloc[0]
            raise OutsideSessionError(
                files[int(first["file"])], f"row {int(first['row'])}", f"quote on {day}, when the exchange is closed"
            )
        options, quotes, open_interest = [], {}, {}
        for (root, expiry, right, strike), group in part.groupby(["root", "expiry", "right", "strike"], sort=True):
            key = OptionKey(str(root), expiry, OptionRight(right), float(strike))
            multiplier = int(group["multiplier"].iloc[0]) if "multiplier" in group else None
            option = option_contract(spec, key, spec.expiration_ns(key.root, key.expiry), session.open_ns, multiplier)
            iid = option.id.value
            options.append(option)
            quotes[iid] = QuoteSeries(
                instrument_id=iid,
                ts=group["ts"].to_numpy().astype(np.uint64),
                bid=group["bid"].to_numpy(dtype=np.float64),
                ask=group["ask"].to_numpy(dtype=np.float64),
                bid_size=group["bid_size"].to_numpy(dtype=np.float64),
                ask_size=group["ask_size"].to_numpy(dtype=np.float64),
                origin=Origin(files[0], group["row"].to_numpy(), files=files, file_index=group["file"].to_numpy()),
            )
            if "open_interest" in group and group["open_interest"].notna().any():
                open_interest[iid] = int(group["open_interest"].dropna().iloc[0])
        sessions.append(
            SessionData(
                session=session,
                spec=spec,
                underlying=underlying_instrument(spec, session.open_ns),
                bars=bars.get(session.trading_date),
                options=options,
                quotes=quotes,
                instruments_origin=Origin(instruments_file),
                open_interest=open_interest,
            )
        )
        report.sessions.append(session.trading_date)
        report.options += len(options)
        report.quotes += sum(len(q) for q in quotes.values())
    return sessions, report


def write_checked_sessions(
    path: str | Path, sessions: list[SessionData], on_quotes: Callable[[int], object] | None = None
) -> None:
    """Check every session, refuse sessions the catalog already holds, then write them all."""
    for data in sessions:
        check_session(data)
    held = (
        {(part.spec.name, part.session.trading_date) for part in catalog_io.catalog_sessions(path)}
        if Path(path).exists()
        else set()
    )
    clash = [
        f"{d.spec.name} {d.session.trading_date}" for d in sessions if (d.spec.name, d.session.trading_date) in held
    ]
    if clash:
        raise ImportConflictError(f"{path} already holds {', '.join(clash)}: import into a fresh --path")
    for data in sessions:
        catalog_io.write_session(path, data, on_quotes)
        record_passed(path, data)


def parse_times(values: pd.Series) -> np.ndarray:
    """UTC ns from integers (ns since the epoch) or text (ISO 8601; New York local when it has no offset)."""
    if pd.api.types.is_integer_dtype(values):
        return values.to_numpy(dtype=np.int64)
    stamps = pd.to_datetime(values.astype(str), format="ISO8601", utc=False)
    if stamps.dt.tz is None:
        stamps = stamps.dt.tz_localize(NEW_YORK)
    return stamps.dt.tz_convert("UTC").dt.as_unit("ns").astype("int64").to_numpy()


def read_underlying_file(path: str | Path, spec: UnderlyingSpec) -> dict[date, BarSeries]:
    """The underlying's own 1-minute bars: a CSV ``ts,open,high,low,close[,volume]`` (ts = bar close) or a
    Databento ``ohlcv-1m`` DBN file (e.g. DBIX.CORE for SPX). An index must have no volume (checked)."""
    path = Path(path)
    if path.name.endswith((".dbn", ".dbn.zst")):
        from nautilus_trader.adapters.databento.loaders import DatabentoDataLoader

        bars = DatabentoDataLoader().from_dbn_file(path, price_precision=spec.underlying_price_precision)
        frame = pd.DataFrame(
            {
                "ts": [b.ts_event for b in bars],
                "open": [b.open.as_double() for b in bars],
                "high": [b.high.as_double() for b in bars],
                "low": [b.low.as_double() for b in bars],
                "close": [b.close.as_double() for b in bars],
                "volume": [b.volume.as_double() for b in bars],
                "row": np.arange(1, len(bars) + 1),
            }
        )
        return bars_by_day(frame, spec, str(path))
    frame = pd.read_csv(path)
    missing = [c for c in ("ts", "open", "high", "low", "close") if c not in frame.columns]
    if missing:
        raise ValueError(
            f"{path}: the underlying file needs columns ts,open,high,low,close[,volume]; missing {missing}"
        )
    frame["ts"] = parse_times(frame["ts"])
    if "volume" not in frame.columns:
        frame["volume"] = 0.0
    frame["row"] = np.arange(1, len(frame) + 1)
    return bars_by_day(frame, spec, str(path))
