"""The replayed market of every broker simulator: one catalog session of one underlying, stepped forward.

A simulator must show the node exactly what the backtest shows it, so the market is read from the same
ParquetDataCatalog (``odte catalog sample``) through ``catalog_io``: the session's option quotes, the
underlying's one-minute bars, start-of-day open interest and the sidecar's IV and greeks. Replay is a list
of ``Step``s, one per distinct timestamp; a step carries the underlying's bar closing at that instant and the
option quotes stamped then. As in the backtest, the bar of a minute comes before the option quotes of the
same minute (``catalog_io.QUOTE_INIT_DELAY_NS``).

Contracts, quotes and greeks are keyed by the catalog's instrument ids (``SPXW  240722C05500000.CBOE``)
unless a simulator passes ``key``, its broker's own name for a catalog id (Alpaca's unpadded OCC symbol):
the one place a broker's spelling enters the shared replay.

Prices are ``Decimal`` on the contract's tick precision, so a package's legs sum to its net price exactly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

import numpy as np

from odte_nautilus.data import catalog_io, sidecar
from odte_nautilus.data.bundle import BarSeries, QuoteSeries
from odte_nautilus.data.symbology import parse_option_id
from odte_nautilus.risk.model import OptionRight

Key = Callable[[str], str]
"""A broker's name for a catalog instrument id."""


def catalog_id(instrument_id: str) -> str:
    """The default key: the catalog's own id."""
    return instrument_id


@dataclass(frozen=True, slots=True)
class Quote:
    ts: int
    bid: Decimal
    ask: Decimal
    bid_size: int
    ask_size: int


@dataclass(frozen=True, slots=True)
class Bar:
    """A one-minute bar stamped at its close (the catalog's convention; Alpaca stamps the open)."""

    ts: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: int


@dataclass(frozen=True, slots=True)
class Contract:
    symbol: str  # the key: the simulator's name for it
    instrument_id: str  # the catalog's id
    root: str
    expiry: date
    right: OptionRight
    strike: Decimal
    open_interest: int | None


@dataclass(frozen=True, slots=True)
class Step:
    ts: int
    bar: Bar | None
    quotes: dict[str, Quote]  # key -> quote


@dataclass(frozen=True, slots=True)
class Greeks:
    iv: float
    delta: float
    gamma: float
    theta: float
    vega: float


class Market:
    """A session's contracts, replay steps and latest quotes; ``advance`` moves it forward."""

    def __init__(self, catalog: str | Path, underlying: str, session: date | None, key: Key = catalog_id) -> None:
        parts = [p for p in catalog_io.catalog_sessions(catalog) if p.spec.name == underlying.upper()]
        wanted = [p for p in parts if session is None or p.session.trading_date == session]
        if not wanted:
            found = ", ".join(p.session.trading_date.isoformat() for p in parts) or "none"
            raise ValueError(f"{catalog} has no {underlying} session {session or ''} (sessions: {found})")
        part = wanted[0]
        self.catalog = Path(catalog)
        self.session = part.session
        self.underlying = part.spec.symbol
        self.contracts, self._steps, self._greeks = _replay(
            str(catalog), part, catalog_io.fingerprint(catalog, part), key
        )
        self._next = 0
        self.latest: dict[str, Quote] = {}
        self.last_bar: Bar | None = None

    def advance(self, ts_ns: int) -> list[Step]:
        """The steps stamped at or before ``ts_ns`` not replayed yet; the latest quotes and bar follow them."""
        start = self._next
        while self._next < len(self._steps) and self._steps[self._next].ts <= ts_ns:
            step = self._steps[self._next]
            self.latest.update(step.quotes)
            self.last_bar = step.bar or self.last_bar
            self._next += 1
        return self._steps[start : self._next]

    def replayed_bars(self) -> list[Bar]:
        """The underlying's bars replayed so far, oldest first (a history request's answer)."""
        return [step.bar for step in self._steps[: self._next] if step.bar is not None]

    @property
    def last_bar_ts(self) -> int | None:
        """When the session's last bar closes (``None`` without bars)."""
        return next((step.ts for step in reversed(self._steps) if step.bar is not None), None)

    @property
    def next_ts(self) -> int | None:
        """When the next step happens (``None`` once the session is replayed)."""
        return self._steps[self._next].ts if self._next < len(self._steps) else None

    def greeks(self, symbol: str, ts_ns: int) -> Greeks | None:
        """The sidecar's latest IV and greeks at or before ``ts_ns`` (every 5 minutes); ``None`` if none."""
        table = self._greeks.get(symbol)
        if table is None:
            return None
        ts, rows = table
        i = int(np.searchsorted(ts, ts_ns, side="right")) - 1
        if i < 0 or not np.isfinite(rows[i]).all():
            return None
        return Greeks(*(float(v) for v in rows[i]))


def _contracts(quotes: dict[str, QuoteSeries], open_interest: dict[str, int], key: Key) -> list[Contract]:
    contracts = []
    for iid in quotes:
        option = parse_option_id(iid)
        contracts.append(
            Contract(
                symbol=key(iid),
                instrument_id=iid,
                root=option.root,
                expiry=option.expiry,
                right=option.right,
                strike=Decimal(str(option.strike)).normalize(),
                open_interest=open_interest.get(iid),
            )
        )
    return contracts


def _prices(values: np.ndarray, precision: int) -> list[Decimal]:
    return [Decimal(f"{v:.{precision}f}") for v in values.tolist()]


GreeksTable = dict[str, tuple[np.ndarray, np.ndarray]]  # key -> (times, rows of iv, delta, gamma, theta, vega)


@lru_cache(maxsize=4)
def _replay(
    catalog: str, part: catalog_io.CatalogSession, fingerprint: str, key: Key
) -> tuple[dict[str, Contract], list[Step], GreeksTable]:
    """A session's contracts, steps and greeks, read once per process while its files stay the same
    (``fingerprint``): every simulator of a test run replays the same session, and never changes it."""
    ids = list(part.instrument_ids)
    quotes = catalog_io.read_many_quotes(catalog, ids)
    try:
        bars = catalog_io.read_bars(catalog, part.spec.bar_type, part.session.open_ns, part.session.close_ns)
    except FileNotFoundError:
        bars = None
    open_interest = sidecar.load_open_interest(catalog, part.session.trading_date)
    contracts = sorted(_contracts(quotes, open_interest, key), key=lambda c: c.symbol)
    steps = _steps(quotes, bars, part.spec.ticks.price_precision, part.spec.underlying_price_precision, key)
    return {c.symbol: c for c in contracts}, steps, _greeks_by_symbol(catalog, part.session.trading_date, key)


def _steps(
    quotes: dict[str, QuoteSeries], bars: BarSeries | None, precision: int, bar_precision: int, key: Key
) -> list[Step]:
    by_ts: dict[int, dict[str, Quote]] = {}
    for iid, series in quotes.items():
        symbol = key(iid)
        bids, asks = _prices(series.bid, precision), _prices(series.ask, precision)
        sizes = zip(series.bid_size.tolist(), series.ask_size.tolist(), strict=True)
        for ts, bid, ask, (bs, az) in zip(series.ts.tolist(), bids, asks, sizes, strict=True):
            by_ts.setdefault(int(ts), {})[symbol] = Quote(int(ts), bid, ask, int(bs), int(az))
    by_bar: dict[int, Bar] = {}
    if bars is not None:
        o, h, lo, c = (_prices(column, bar_precision) for column in (bars.open, bars.high, bars.low, bars.close))
        for i, ts in enumerate(bars.ts.tolist()):
            by_bar[int(ts)] = Bar(int(ts), o[i], h[i], lo[i], c[i], int(bars.volume[i]))
    return [Step(ts, by_bar.get(ts), by_ts.get(ts, {})) for ts in sorted(set(by_ts) | set(by_bar))]


def _greeks_by_symbol(catalog: str | Path, day: date, key: Key) -> GreeksTable:
    frame = sidecar.load_greeks(catalog, day)
    result = {}
    for iid, rows in frame.groupby("instrument_id"):
        rows = rows.sort_values("ts")
        values = rows[["iv", "delta", "gamma", "theta", "vega"]].to_numpy(dtype=np.float64)
        result[key(str(iid))] = (rows["ts"].to_numpy(dtype=np.uint64).astype(np.int64), values)
    return result
