"""The only module that knows the ParquetDataCatalog's files: layout, quote encoding, reading back.

Why not ``catalog.write_data``? A 0DTE option lives one session, so a catalog holds one small file per
instrument per day (~160 a day at +-40 strikes), and ``write_data`` costs ~5 ms a file here (it sorts with
a Python key, re-lists the directory, serializes through Python objects): ~90k quotes/s, under the
200k/s the issue asks. So this module writes the very same files itself:

- quotes are encoded straight from numpy columns into Nautilus's Arrow schema (prices are 128-bit
  fixed-point, raw = value x 10^16, little-endian) — tests prove the files are byte-identical to
  ``catalog.write_data``'s and read back through ``catalog.quote_ticks``;
- bars and instruments go through Nautilus's own ``ArrowSerializer``;
- paths follow the catalog's layout ``<root>/data/<snake type>/<identifier>/<start>_<end>.parquet``, and
  like the catalog an existing file is skipped, never overwritten.

What the backtester does not read (open interest, greeks, the manifest) lives in ``sidecar``.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from nautilus_trader.core.datetime import unix_nanos_to_iso8601
from nautilus_trader.model.data import Bar, BarType, QuoteTick
from nautilus_trader.model.identifiers import InstrumentId
from nautilus_trader.model.instruments import Equity, IndexInstrument, Instrument, OptionContract
from nautilus_trader.model.objects import FIXED_PRECISION, HIGH_PRECISION, Price, Quantity
from nautilus_trader.persistence.funcs import class_to_filename, urisafe_identifier
from nautilus_trader.serialization.arrow.serializer import ArrowSerializer

from odte_nautilus.data import sidecar
from odte_nautilus.data.bundle import BarSeries, Origin, QuoteSeries, SessionData
from odte_nautilus.data.checks import OutsideSessionError
from odte_nautilus.data.greeks import greeks_table
from odte_nautilus.data.symbology import parse_option_id
from odte_nautilus.data.underlyings import UnderlyingSpec, underlying_spec
from odte_nautilus.risk.session import SessionWindow, TradingCalendar, trading_date

ROW_GROUP_SIZE = 5000  # ParquetDataCatalog's default max_rows_per_group: same value, same bytes
SIZE_PRECISION = 0  # options and index bars trade whole contracts/units
WRITER_THREADS = min(4, os.cpu_count() or 1)
QUOTE_INIT_DELAY_NS = 1
"""Option quotes are initialised 1 ns after their event, so an underlying bar stamped at the same instant
is replayed first. The backtester expires options after the *first* event at their expiration time: with
an option quote first it cash-settled at the 15:59 index level instead of the 16:00 close (found by
tests/data/test_settlement.py). Strategies see the underlying before the options of the same minute."""
_RAW_BYTES = 16
_TWO_64 = float(2**64)

if not HIGH_PRECISION or FIXED_PRECISION != 16:  # pragma: no cover - the pinned wheel is high-precision
    raise ImportError("odte_nautilus.data.catalog_io encodes 128-bit fixed-point prices (high-precision Nautilus)")


# -- layout ---------------------------------------------------------------------------------------------


def data_dir(root: str | Path, data_cls: type, identifier: str) -> Path:
    """``<root>/data/<snake type>/<identifier>``, as ``ParquetDataCatalog._make_path`` builds it."""
    return Path(root) / "data" / class_to_filename(data_cls) / urisafe_identifier(identifier)


def file_name(start_ns: int, end_ns: int) -> str:
    """``2024-03-15T13-31-00-000000000Z_2024-03-15T20-00-00-000000000Z.parquet``."""

    def stamp(ns: int) -> str:
        return unix_nanos_to_iso8601(int(ns)).replace(":", "-").replace(".", "-")

    return f"{stamp(start_ns)}_{stamp(end_ns)}.parquet"


def write_table(table: pa.Table, directory: Path, start_ns: int, end_ns: int) -> bool:
    """Write one catalog file; an existing file is kept (the catalog's "already exists, skipping")."""
    path = directory / file_name(start_ns, end_ns)
    if path.exists():
        return False
    directory.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, str(path), row_group_size=ROW_GROUP_SIZE)
    return True


# -- encoding -------------------------------------------------------------------------------------------


def encode_fixed(values: np.ndarray, precision: int) -> pa.Array:
    """Nautilus's 128-bit fixed-point column for non-negative values rounded to ``precision`` decimals.

    raw = round(value * 10^p) * 10^(16-p) = (units * 5^k) << k with k = 16 - p, computed in two uint64
    limbs so no value ever overflows (units * 5^k stays below 2^64 for any price under ~10^7).
    """
    units = np.rint(np.asarray(values, dtype=np.float64) * 10.0**precision)
    if len(units) and (units.min() < 0 or not np.isfinite(units).all()):
        raise ValueError("encode_fixed takes finite non-negative values (the schema checks run first)")
    k = FIXED_PRECISION - precision
    m = units.astype(np.uint64) * np.uint64(5**k)
    limbs = np.empty((len(m), 2), dtype=np.uint64)
    limbs[:, 0] = m << np.uint64(k)
    limbs[:, 1] = m >> np.uint64(64 - k)
    return pa.FixedSizeBinaryArray.from_buffers(pa.binary(_RAW_BYTES), len(m), [None, pa.py_buffer(limbs.tobytes())])


def decode_fixed(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """Float values of a Nautilus 128-bit fixed-point column (non-negative values)."""
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    raw = np.frombuffer(array.buffers()[1], dtype=np.uint64, count=2 * len(array), offset=array.offset * _RAW_BYTES)
    limbs = raw.reshape(-1, 2)
    return (limbs[:, 1].astype(np.float64) * _TWO_64 + limbs[:, 0].astype(np.float64)) / 10.0**FIXED_PRECISION


@cache
def _quote_fields() -> list[pa.Field]:
    """The QuoteTick schema's fields, taken from Nautilus's own serializer (one throwaway tick)."""
    one = QuoteTick(InstrumentId.from_str("X.Y"), Price(1, 2), Price(1, 2), Quantity(1, 0), Quantity(1, 0), 0, 0)
    return list(ArrowSerializer.serialize_batch([one], QuoteTick).schema)


def quotes_table(series: QuoteSeries, price_precision: int) -> pa.Table:
    """The Arrow table ``catalog.write_data`` would write for these quotes."""
    metadata = {
        "instrument_id": series.instrument_id,
        "price_precision": str(price_precision),
        "size_precision": str(SIZE_PRECISION),
    }
    ts_event = np.asarray(series.ts, dtype=np.uint64)
    columns = [
        encode_fixed(series.bid, price_precision),
        encode_fixed(series.ask, price_precision),
        encode_fixed(series.bid_size, SIZE_PRECISION),
        encode_fixed(series.ask_size, SIZE_PRECISION),
        pa.array(ts_event, type=pa.uint64()),
        pa.array(ts_event + np.uint64(QUOTE_INIT_DELAY_NS), type=pa.uint64()),
    ]
    return pa.Table.from_arrays(columns, schema=pa.schema(_quote_fields(), metadata=metadata))


def bars_table(series: BarSeries, price_precision: int) -> pa.Table:
    bar_type = BarType.from_str(series.bar_type)
    bars = [
        Bar(
            bar_type,
            Price(o, price_precision),
            Price(h, price_precision),
            Price(lo, price_precision),
            Price(c, price_precision),
            Quantity(v, SIZE_PRECISION),
            t,
            t,
        )
        for o, h, lo, c, v, t in zip(
            series.open.tolist(),
            series.high.tolist(),
            series.low.tolist(),
            series.close.tolist(),
            series.volume.tolist(),
            series.ts.tolist(),
            strict=True,
        )
    ]
    return ArrowSerializer.serialize_batch(bars, Bar)


# -- writing a session ----------------------------------------------------------------------------------


CatalogFile = tuple[pa.Table, Path, int, int]  # table, directory, first ts_init, last ts_init


def instrument_file(root: str | Path, instrument: Instrument) -> CatalogFile:
    table = ArrowSerializer.serialize_batch([instrument], type(instrument))
    return table, data_dir(root, type(instrument), instrument.id.value), instrument.ts_init, instrument.ts_init


def quotes_file(root: str | Path, series: QuoteSeries, price_precision: int) -> CatalogFile:
    directory = data_dir(root, QuoteTick, series.instrument_id)
    first, last = int(series.ts[0]) + QUOTE_INIT_DELAY_NS, int(series.ts[-1]) + QUOTE_INIT_DELAY_NS
    return quotes_table(series, price_precision), directory, first, last


def write_files(files: list[CatalogFile], on_rows: Callable[[int], object] | None = None) -> None:
    """Write catalog files with a small thread pool: per-file overhead dominates and pyarrow releases the
    GIL. A file's bytes do not depend on the order. ``on_rows(n)`` is called as each file lands."""

    def write(file: CatalogFile) -> int:
        write_table(*file)
        return file[0].num_rows

    with ThreadPoolExecutor(max_workers=WRITER_THREADS) as pool:
        for rows in pool.map(write, files):
            if on_rows is not None:
                on_rows(rows)


def write_session(root: str | Path, data: SessionData, on_quotes: Callable[[int], object] | None = None) -> int:
    """Write one checked session: underlying, bars, options, quotes, open interest, greeks, the definitions file.

    Call only after ``checks.check_session`` passed for every session of the job (nothing partial).
    ``on_quotes(n)`` is called as each quote file lands. Returns the number of quotes.
    """
    bars, underlying = data.checked_bars, data.checked_underlying
    files = [
        (
            bars_table(bars, data.spec.underlying_price_precision),
            data_dir(root, Bar, bars.bar_type),
            int(bars.ts[0]),
            int(bars.ts[-1]),
        )
    ]
    if not _files(data_dir(root, type(underlying), underlying.id.value)):
        files.append(instrument_file(root, underlying))  # one definition for the whole catalog, not per day
    options = [instrument_file(root, option) for option in sorted(data.options, key=lambda o: o.id.value)]
    write_files(files + options)
    # the day's definitions in one file, in the catalog's order (by folder name): see sidecar, feed
    sidecar.write_definitions(root, data.spec.name, data.session.trading_date, pa.concat_tables(t for t, *_ in options))
    series = [data.quotes[option.id.value] for option in data.options]
    write_files([quotes_file(root, s, data.spec.ticks.price_precision) for s in series], on_quotes)
    if data.open_interest:
        sidecar.write_open_interest(root, data.session.trading_date, data.open_interest)
    sidecar.write_greeks(root, data.session.trading_date, greeks_table(data))
    return sum(len(s) for s in series)


# -- reading --------------------------------------------------------------------------------------------


def _files(directory: Path) -> list[Path]:
    try:
        return sorted(Path(e.path) for e in os.scandir(directory) if e.name.endswith(".parquet"))
    except FileNotFoundError:
        return []


def _read(path: Path) -> pa.Table:
    return pq.ParquetFile(str(path)).read()  # ~4x lighter than pq.read_table for small files


def _read_many(paths: list[Path]) -> list[pa.Table]:
    with ThreadPoolExecutor(max_workers=WRITER_THREADS) as pool:
        return list(pool.map(_read, paths))


def _row_numbers(tables: list[pa.Table]) -> np.ndarray:
    return np.concatenate([np.arange(1, t.num_rows + 1) for t in tables])


def identifiers(root: str | Path, data_cls: type) -> list[str]:
    """Identifiers (instrument ids, bar types) that have files of ``data_cls`` in the catalog."""
    base = Path(root) / "data" / class_to_filename(data_cls)
    return sorted(e.name for e in os.scandir(base) if e.is_dir()) if base.is_dir() else []  # no stat per folder


def read_quotes(root: str | Path, instrument_id: str) -> QuoteSeries:
    """All quotes of one instrument as columns (decoded directly: ~10x faster than ``catalog.quote_ticks``)."""
    files = _files(data_dir(root, QuoteTick, instrument_id))
    if not files:
        raise FileNotFoundError(f"no quotes for {instrument_id} under {root}")
    return _quote_series(instrument_id, files, [_read(f) for f in files])


def read_many_quotes(root: str | Path, instrument_ids: list[str]) -> dict[str, QuoteSeries]:
    """``read_quotes`` for many instruments, files read in parallel."""
    files = {iid: _files(data_dir(root, QuoteTick, iid)) for iid in instrument_ids}
    tables = iter(_read_many([f for iid in instrument_ids for f in files[iid]]))
    return {iid: _quote_series(iid, files[iid], [next(tables) for _ in files[iid]]) for iid in instrument_ids}


def _quote_series(instrument_id: str, files: list[Path], tables: list[pa.Table]) -> QuoteSeries:
    table = pa.concat_tables(tables)
    return QuoteSeries(
        instrument_id=instrument_id,
        ts=table.column("ts_event").to_numpy().astype(np.uint64),
        bid=decode_fixed(table.column("bid_price")),
        ask=decode_fixed(table.column("ask_price")),
        bid_size=decode_fixed(table.column("bid_size")),
        ask_size=decode_fixed(table.column("ask_size")),
        origin=Origin(str(files[0].parent), _row_numbers(tables)),
    )


def read_bars(root: str | Path, bar_type: str, start_ns: int | None = None, end_ns: int | None = None) -> BarSeries:
    """Bars of one bar type (optionally only files overlapping [start, end], judged by file name)."""
    directory = data_dir(root, Bar, bar_type)
    files = [f for f in _files(directory) if _overlaps(f, start_ns, end_ns)]
    if not files:
        raise FileNotFoundError(f"no bars {bar_type} under {root}")
    tables = [_read(f) for f in files]
    table = pa.concat_tables(tables)
    return BarSeries(
        bar_type=bar_type,
        ts=table.column("ts_event").to_numpy().astype(np.uint64),
        open=decode_fixed(table.column("open")),
        high=decode_fixed(table.column("high")),
        low=decode_fixed(table.column("low")),
        close=decode_fixed(table.column("close")),
        volume=decode_fixed(table.column("volume")),
        origin=Origin(str(directory), _row_numbers(tables)),
    )


def _file_span(file: Path) -> tuple[int, int]:
    """(first, last) ts_init of a catalog file, from its name."""
    return _name_span(file.stem)


@cache
def _name_span(stem: str) -> tuple[int, int]:
    """Parsed once per name: every session's fingerprint judges the same year of index-bar file names."""
    start, _, end = stem.partition("_")
    return pd.Timestamp(_iso_from_stamp(start)).value, pd.Timestamp(_iso_from_stamp(end)).value


def _iso_from_stamp(stamp: str) -> str:
    # 2024-03-15T13-31-00-000000000Z -> 2024-03-15T13:31:00.000000000Z
    day, _, clock = stamp.partition("T")
    hh, mm, ss, frac = clock.rstrip("Z").split("-")
    return f"{day}T{hh}:{mm}:{ss}.{frac}Z"


def _overlaps(file: Path, start_ns: int | None, end_ns: int | None) -> bool:
    first, last = _file_span(file)
    return (end_ns is None or first <= end_ns) and (start_ns is None or last >= start_ns)


def read_tables(root: str | Path, data_cls: type, ids: list[str], start_ns: int, end_ns: int) -> list[pa.Table]:
    """Each identifier's rows with ``ts_init`` in [start, end], one table per identifier in ``ids`` order.

    Only the files whose names overlap the span are opened, in parallel: a session costs its own files.
    """
    files = {iid: [f for f in _files(data_dir(root, data_cls, iid)) if _overlaps(f, start_ns, end_ns)] for iid in ids}
    tables = iter(_read_many([f for iid in ids for f in files[iid]]))
    found = []
    for iid in ids:
        if not files[iid]:
            continue
        table = pa.concat_tables([next(tables) for _ in files[iid]])
        ts_init = table.column("ts_init").to_numpy()
        found.append(table.filter((ts_init >= start_ns) & (ts_init <= end_ns)))
    return found


def read_instruments(root: str | Path, data_cls: type, ids: list[str] | None = None) -> list:
    """Instruments of one class, decoded in one batch (``catalog.instruments`` queries file by file)."""
    table = read_instrument_table(root, data_cls, ids)
    return [] if table is None else ArrowSerializer.deserialize(data_cls, table)


def read_instrument_table(root: str | Path, data_cls: type, ids: list[str] | None = None) -> pa.Table | None:
    """The definitions of one class as one Arrow table (``None`` when there are none)."""
    wanted = ids if ids is not None else identifiers(root, data_cls)
    files = [f for iid in wanted for f in _files(data_dir(root, data_cls, iid))]
    return pa.concat_tables(_read_many(files)) if files else None


def read_underlyings(root: str | Path) -> dict[str, object]:
    """Index and equity instruments by id."""
    found = {}
    for cls in (IndexInstrument, Equity):
        for instrument in read_instruments(root, cls):
            found[instrument.id.value] = instrument
    return found


def has_market_data(root: str | Path) -> bool:
    return bool(identifiers(root, QuoteTick))


def quote_count(root: str | Path) -> int:
    """Quotes in the catalog, from parquet footers only."""
    base = Path(root) / "data" / class_to_filename(QuoteTick)
    return sum(pq.read_metadata(f).num_rows for f in base.glob("*/*.parquet")) if base.is_dir() else 0


def _span_days(file: Path) -> set[date]:
    """New York dates of a catalog file's first and last record, from its name (no read)."""
    return {trading_date(ns) for ns in _file_span(file)}


@dataclass(frozen=True, slots=True)
class CatalogSession:
    spec: UnderlyingSpec
    session: SessionWindow
    instrument_ids: tuple[str, ...]  # options with quotes in the session


def catalog_sessions(root: str | Path, start: date | None = None, end: date | None = None) -> list[CatalogSession]:
    """The (underlying, session) pairs that have option quotes, from file names only; sorted by day.

    ``start`` and ``end`` keep the sessions between them and look only at the options expiring between
    them: in a 0DTE catalog an option is quoted only in the session it expires in (``checks`` refuses
    anything else), so a backtest of a month lists a month of folders, not the catalog's year.
    Option quotes on a day the exchange is closed are refused here (``OutsideSessionError``).
    """
    found: dict[tuple[date, str], list[str]] = {}
    for iid in identifiers(root, QuoteTick):
        key = parse_option_id(iid)
        if not _between(key.expiry, start, end):
            continue
        spec = underlying_spec(key.root)
        for day in {d for f in _files(data_dir(root, QuoteTick, iid)) for d in _span_days(f)}:
            if _between(day, start, end):
                found.setdefault((day, spec.name), []).append(iid)
    result = []
    calendar = TradingCalendar()
    for (day, name), ids in sorted(found.items()):
        session = calendar.session_window(day)
        if session is None:
            raise OutsideSessionError(
                str(Path(root)), f"{name} {day} ({ids[0]})", f"option quotes on {day}, when {calendar.name} is closed"
            )
        result.append(CatalogSession(underlying_spec(name), session, tuple(ids)))
    return result


def _between(day: date, start: date | None, end: date | None) -> bool:
    return (start is None or day >= start) and (end is None or day <= end)


def read_session(root: str | Path, part: CatalogSession) -> SessionData:
    """Read one session of one underlying back into a ``SessionData``."""
    spec, session, ids = part.spec, part.session, list(part.instrument_ids)
    try:
        bars = read_bars(root, spec.bar_type, session.open_ns, session.close_ns)
    except FileNotFoundError:
        bars = None
    return SessionData(
        session=session,
        spec=spec,
        underlying=read_underlyings(root).get(spec.underlying_id),
        bars=bars,
        options=read_instruments(root, OptionContract, ids),
        quotes=read_many_quotes(root, ids),
        instruments_origin=Origin(str(Path(root) / "data" / class_to_filename(OptionContract))),
        open_interest=sidecar.load_open_interest(root, session.trading_date),
    )


# -- fingerprints: a session whose files have not changed since they passed need not be re-read --------


def session_files(root: str | Path, part: CatalogSession) -> list[Path]:
    """Every file a session's checks read: its options' quotes and definitions, the bars, the underlying."""
    spec, session = part.spec, part.session
    files = [
        f
        for iid in part.instrument_ids
        for cls in (QuoteTick, OptionContract)
        for f in _files(data_dir(root, cls, iid))
    ]
    files += [f for f in _files(data_dir(root, Bar, spec.bar_type)) if _overlaps(f, session.open_ns, session.close_ns)]
    files += [f for cls in (IndexInstrument, Equity) for f in _files(data_dir(root, cls, spec.underlying_id))]
    return files


def fingerprint(root: str | Path, part: CatalogSession) -> str:
    """Names, sizes and modification times of a session's files: any rewrite of a file changes it."""
    digest = hashlib.sha256()
    base = str(Path(root))
    cut = 0 if base == "." else len(base) + 1  # every file is Path(root) / ...: its name past the root's
    for f in session_files(root, part):
        stat = os.stat(f)
        digest.update(f"{str(f)[cut:]}|{stat.st_size}|{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def written_part(data: SessionData) -> CatalogSession:
    """The catalog view of a session just written."""
    return CatalogSession(data.spec, data.session, tuple(sorted(data.quotes)))
