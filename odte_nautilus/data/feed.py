"""One session's Nautilus objects for the backtest engine, read straight from the catalog's files.

Why not ``ParquetDataCatalog.quote_ticks``, ``.bars`` and ``.instruments``: every query globs the catalog's
whole data tree (fsspec walks every instrument folder of every day), and bars take its pyarrow path. Over
a 252-session catalog that cost about 3.5 s of reads a day and 35 s of option definitions at set-up
(docs/decisions/0010). Here a session costs its own files: its options' definitions and quotes and the
day's index bars, found by name and read in parallel by ``catalog_io``.

The objects are the catalog's: the same rows (``ts_init`` in [start, end], as the catalog filters), prices
decoded from the same 128-bit fixed-point columns at the file's own precisions. ``tests/data/test_feed.py``
compares them with the catalog's own, field by field.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
from nautilus_trader.model.data import Bar, QuoteTick
from nautilus_trader.model.identifiers import InstrumentId
from nautilus_trader.model.instruments import OptionContract
from nautilus_trader.serialization.arrow.serializer import ArrowSerializer

from odte_nautilus.data.catalog_io import CatalogSession, decode_fixed, read_instruments, read_tables
from odte_nautilus.data.instruments import with_tick_scheme


@dataclass(frozen=True)
class SessionFeed:
    options: list[OptionContract]  # with their tick scheme re-attached (instruments.with_tick_scheme)
    quotes: list[QuoteTick]  # instrument by instrument, each in time order
    bars: list[Bar]


def session_feed(root: str | Path, part: CatalogSession, start_ns: int, end_ns: int) -> SessionFeed:
    """The session's options, their quotes and the index bars with ``ts_init`` in [start, end]."""
    ids = list(part.instrument_ids)
    options = [with_tick_scheme(o) for o in read_instruments(root, OptionContract, ids)]
    quotes = [q for table in read_tables(root, QuoteTick, ids, start_ns, end_ns) for q in _quotes(table)]
    bars = [b for table in read_tables(root, Bar, [part.spec.bar_type], start_ns, end_ns) for b in _bars(table)]
    return SessionFeed(options, quotes, bars)


def _quotes(table: pa.Table) -> list[QuoteTick]:
    """One instrument's quote file(s) as ``QuoteTick``s, built in Nautilus's own Cython loop."""
    meta = table.schema.metadata
    return QuoteTick.from_raw_arrays_to_list(
        InstrumentId.from_str(meta[b"instrument_id"].decode()),
        int(meta[b"price_precision"]),
        int(meta[b"size_precision"]),
        decode_fixed(table.column("bid_price")),
        decode_fixed(table.column("ask_price")),
        decode_fixed(table.column("bid_size")),
        decode_fixed(table.column("ask_size")),
        table.column("ts_event").to_numpy().astype(np.uint64),
        table.column("ts_init").to_numpy().astype(np.uint64),
    )


def _bars(table: pa.Table) -> list[Bar]:
    """One bar type's rows through Nautilus's own Arrow decoder (the catalog's, minus its file search)."""
    return Bar.from_pyo3_list(ArrowSerializer.deserialize(Bar, table))
