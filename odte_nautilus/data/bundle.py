"""One trading session of one underlying, in memory, before it is checked and written.

The synthetic generator and every importer produce ``SessionData``; the schema checks read it; the
catalog writer writes it. Series are column arrays (not Nautilus objects) so checks and writes are
vectorised, and each series remembers where it came from (``Origin``) so a refusal can name the file and
the row (seed 000: schema-level data tests refuse wrong data at load time).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from odte_nautilus.data.underlyings import UnderlyingSpec
from odte_nautilus.risk.session import SessionWindow

if TYPE_CHECKING:  # the type only: this module does not import Nautilus
    from nautilus_trader.model.instruments import Instrument


@dataclass(frozen=True, slots=True)
class Origin:
    """The source of a series: a file (or one per record) and, per record, its row or record number."""

    file: str
    rows: np.ndarray | None = None  # 1-based data row (CSV) or record number (DBN) per record
    unit: str = "row"
    files: tuple[str, ...] = ()  # when records come from several files ...
    file_index: np.ndarray | None = None  # ... the index into ``files`` per record

    def locate(self, index: int) -> tuple[str, str]:
        """(file, "row N") of one record."""
        file = self.files[int(self.file_index[index])] if self.file_index is not None else self.file
        number = int(self.rows[index]) if self.rows is not None else index + 1
        return file, f"{self.unit} {number}"


@dataclass(frozen=True, slots=True)
class QuoteSeries:
    """Top-of-book quotes of one instrument, sorted by time."""

    instrument_id: str
    ts: np.ndarray  # uint64 ns, the catalog's ts_event and ts_init
    bid: np.ndarray
    ask: np.ndarray
    bid_size: np.ndarray
    ask_size: np.ndarray
    origin: Origin

    def __len__(self) -> int:
        return len(self.ts)


@dataclass(frozen=True, slots=True)
class BarSeries:
    """1-minute LAST bars of the underlying, stamped at the bar's close."""

    bar_type: str
    ts: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    origin: Origin

    def __len__(self) -> int:
        return len(self.ts)

    def close_at(self, ts_ns: int) -> float:
        """The last close stamped at or before ``ts_ns`` (the level the backtester would see)."""
        i = int(np.searchsorted(self.ts, np.uint64(ts_ns), side="right")) - 1
        if i < 0:
            raise ValueError(f"{self.bar_type}: no bar at or before {ts_ns}")
        return float(self.close[i])


@dataclass(slots=True)
class SessionData:
    """Everything the catalog holds for one session: the underlying, its bars, the 0DTE chain and quotes."""

    session: SessionWindow
    spec: UnderlyingSpec
    underlying: Instrument | None  # Nautilus IndexInstrument or Equity; None when the source lacks it
    bars: BarSeries | None  # None when the source lacks them
    options: list  # Nautilus OptionContract, one per instrument id
    quotes: dict[str, QuoteSeries]
    instruments_origin: Origin
    open_interest: dict[str, int] = field(default_factory=dict)

    @property
    def checked_underlying(self) -> Instrument:
        """``underlying`` of a session that passed ``checks.check_session``, which refuses one without it."""
        if self.underlying is None:
            raise ValueError(f"no {self.spec.underlying_id} instrument for the session of {self.session.trading_date}")
        return self.underlying

    @property
    def checked_bars(self) -> BarSeries:
        """``bars`` of a session that passed ``checks.check_session``, which refuses one without them."""
        if self.bars is None:
            raise ValueError(f"no {self.spec.underlying_id} bars for the session of {self.session.trading_date}")
        return self.bars

    @property
    def quote_count(self) -> int:
        return sum(len(q) for q in self.quotes.values())
