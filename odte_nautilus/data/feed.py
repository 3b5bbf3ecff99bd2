"""One session's Nautilus objects for the backtest engine, read straight from the catalog's files.

Why not ``ParquetDataCatalog.quote_ticks``, ``.bars`` and ``.instruments``: every query globs the catalog's
whole data tree (fsspec walks every instrument folder of every day), and bars take its pyarrow path. Over
a 252-session catalog that cost about 3.5 s of reads a day and 35 s of option definitions at set-up
(docs/decisions/0010). Here a session costs its own files: its options' definitions and quotes and the
day's index bars, found by name and read in parallel by ``catalog_io``.

A day's option definitions come from the one file ``validate_catalog`` keeps of them when its digest
matches (``sidecar.write_definitions``: 1 file instead of 162, about 100 ms a day less), else from the
session's own files. The objects are the catalog's: the same rows (``ts_init`` in [start, end], as the
catalog filters), prices decoded from the same 128-bit fixed-point columns at the file's own precisions.
``tests/data/test_feed.py`` compares them with the catalog's own, field by field.

Strikes no strategy can trade are not read. Given the strategies' reach (``strike_reach_points``: a leg is
snapped to the listed strike nearest to spot +/- at most that), only the quotes of the listed strikes from
the last one at or below the day's index low minus the reach to the first one at or above its high plus
the reach are read: every strike a strategy can pick, and the nearest either side of any spot the day saw
(the at-the-money IV). About 60 % of a +-40-strike day's quotes are never read or replayed; every option's
definition still is (the chain and the GEX signal list them all), and ``quoted`` names the options whose quotes
were read (the backtest gives only those a matching engine). ``reach=None`` reads every strike.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
from nautilus_trader.model.data import Bar, QuoteTick
from nautilus_trader.model.identifiers import InstrumentId
from nautilus_trader.model.instruments import OptionContract
from nautilus_trader.serialization.arrow.serializer import ArrowSerializer

from odte_nautilus.data import sidecar
from odte_nautilus.data.catalog_io import CatalogSession, decode_fixed, read_instrument_table, read_tables
from odte_nautilus.data.instruments import decode_options
from odte_nautilus.data.symbology import parse_option_id


@dataclass(frozen=True)
class SessionFeed:
    options: list[OptionContract]  # with their tick scheme named (instruments.decode_options)
    quotes: list[QuoteTick]  # instrument by instrument, each in time order
    bars: list[Bar]
    quoted: frozenset[str]  # the ids of the options whose quotes were read (all of them without a reach)


def session_feed(
    root: str | Path,
    part: CatalogSession,
    start_ns: int,
    end_ns: int,
    reach: float | None = None,
    definitions: str | None = None,
) -> SessionFeed:
    """The session's options, the index bars with ``ts_init`` in [start, end], and the quotes of the strikes
    within ``reach`` points of the bars' range (all of them when ``reach`` is ``None``).

    ``definitions`` is the digest ``validate_catalog`` recorded for the session's definitions file: read
    from that one file when its bytes match, else from the session's files.
    """
    ids = list(part.instrument_ids)
    table = _definitions(root, part, definitions)
    options = [] if table is None else decode_options(table)
    bars = [b for table in read_tables(root, Bar, [part.spec.bar_type], start_ns, end_ns) for b in _bars(table)]
    if reach is not None and bars:
        ids = within_reach(ids, min(b.low.as_double() for b in bars), max(b.high.as_double() for b in bars), reach)
    quotes = [q for table in read_tables(root, QuoteTick, ids, start_ns, end_ns) for q in _quotes(table)]
    return SessionFeed(options, quotes, bars, frozenset(ids))


def _definitions(root: str | Path, part: CatalogSession, digest: str | None) -> pa.Table | None:
    ids = list(part.instrument_ids)
    day = part.session.trading_date
    indexed = None if digest is None else sidecar.read_definitions(root, part.spec.name, day, digest)
    if indexed is not None and indexed.column("id").to_pylist() == ids:
        return indexed
    return read_instrument_table(root, OptionContract, ids)


def within_reach(ids: list[str], low: float, high: float, reach: float) -> list[str]:
    """The options whose strike lies between the last listed strike <= low - reach and the first >= high + reach
    (or the chain's end): any strike nearest to a target in [low - reach, high + reach] is among them."""
    strikes = {iid: parse_option_id(iid).strike for iid in ids}
    listed = sorted(set(strikes.values()))
    below = listed[max(bisect.bisect_right(listed, low - reach) - 1, 0)]
    above = listed[min(bisect.bisect_left(listed, high + reach), len(listed) - 1)]
    return [iid for iid in ids if below <= strikes[iid] <= above]


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
