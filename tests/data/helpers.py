"""Builders for the data tests: a tiny sample session, vendor fixtures written from it, catalog shapes.

Fixtures are generated at test time (nothing downloaded, nothing committed): DBN files with
``databento_dbn`` (offline), CSV files with pandas, both from the same synthetic session so an import can
be compared quote for quote with the sample.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import databento_dbn as dbn
import numpy as np
import pandas as pd

from odte_nautilus.data import catalog_io
from odte_nautilus.data.bundle import SessionData
from odte_nautilus.data.sample import SampleConfig, sample_sessions
from odte_nautilus.data.symbology import occ_symbol, parse_option_id
from odte_nautilus.risk.session import NEW_YORK
from odte_nautilus.risk.time_units import HOUR_NS, MINUTE_NS

TINY = SampleConfig(days=1, strikes_each_side=7)  # the smallest chain that clears the ATM-band check
DAY = TINY.start
EARLY_CLOSE_DAY = date(2024, 7, 3)


def tiny_session(config: SampleConfig = TINY) -> SessionData:
    return next(sample_sessions(config))


def replace_quotes(data: SessionData, iid: str, **columns) -> SessionData:
    """A copy of the session with some columns of one instrument's quotes replaced."""
    quotes = dict(data.quotes)
    quotes[iid] = dataclasses.replace(quotes[iid], **columns)
    return dataclasses.replace(data, quotes=quotes)


def catalog_shape(path: Path) -> dict:
    """What a backtest relies on, independent of prices: types, ids, venues, multipliers, expiries, grid."""
    parts = catalog_io.catalog_sessions(path)
    shape: dict = {"sessions": [], "data_types": sorted(p.name for p in (Path(path) / "data").iterdir())}
    for part in parts:
        data = catalog_io.read_session(path, part)
        shape["sessions"].append(
            {
                "day": part.session.trading_date.isoformat(),
                "underlying": data.checked_underlying.id.value,
                "underlying_type": type(data.underlying).__name__,
                "bar_type": data.checked_bars.bar_type,
                "bars_end_at_close": int(data.checked_bars.ts[-1]) == part.session.close_ns,
                "options": sorted(o.id.value for o in data.options),
                "multipliers": sorted({int(o.multiplier) for o in data.options}),
                "venues": sorted({o.id.venue.value for o in data.options}),
                "expire_at_close": all(o.expiration_ns == part.session.close_ns for o in data.options),
                "option_underlyings": sorted({o.underlying for o in data.options}),
                "asset_classes": sorted({o.asset_class.name for o in data.options}),
                "quote_count": data.quote_count,
            }
        )
    return shape


# -- CSV fixtures -----------------------------------------------------------------------------------------


def quote_frame(data: SessionData) -> pd.DataFrame:
    """All quotes of a session as one tidy table (ts in UTC ns)."""
    frames = []
    for iid, q in data.quotes.items():
        key = parse_option_id(iid)
        frames.append(
            pd.DataFrame(
                {
                    "root": key.root,
                    "expiry": key.expiry,
                    "right": key.right.value,
                    "strike": key.strike,
                    "ts": q.ts.astype(np.int64),
                    "bid": q.bid,
                    "ask": q.ask,
                    "bid_size": q.bid_size,
                    "ask_size": q.ask_size,
                    "open_interest": data.open_interest.get(iid, 0),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def _ny_text(ts: pd.Series) -> pd.Series:
    return pd.to_datetime(ts, utc=True).dt.tz_convert(NEW_YORK).dt.strftime("%Y-%m-%d %H:%M:%S")


def write_cboe_csv(data: SessionData, path: Path) -> Path:
    q = quote_frame(data)
    pd.DataFrame(
        {
            "underlying_symbol": "^SPX",
            "quote_datetime": _ny_text(q["ts"]),
            "root": q["root"],
            "expiration": q["expiry"].astype(str),
            "strike": q["strike"],
            "option_type": q["right"],
            "bid_size": q["bid_size"].astype(int),
            "bid": q["bid"],
            "ask_size": q["ask_size"].astype(int),
            "ask": q["ask"],
            "open_interest": q["open_interest"],
        }
    ).to_csv(path, index=False)
    return path


def write_thetadata_csv(data: SessionData, path: Path) -> Path:
    q = quote_frame(data)
    local = pd.to_datetime(q["ts"], utc=True).dt.tz_convert(NEW_YORK)
    midnight = local.dt.normalize()
    pd.DataFrame(
        {
            "root": q["root"],
            "expiration": q["expiry"].map(lambda d: d.strftime("%Y%m%d")),
            "strike": (q["strike"] * 1000).round().astype(int),
            "right": q["right"],
            "ms_of_day": ((local - midnight).dt.total_seconds() * 1000).round().astype(int),
            "bid_size": q["bid_size"].astype(int),
            "bid_exchange": 5,
            "bid": q["bid"],
            "bid_condition": 50,
            "ask_size": q["ask_size"].astype(int),
            "ask_exchange": 5,
            "ask": q["ask"],
            "ask_condition": 50,
            "date": local.dt.strftime("%Y%m%d"),
        }
    ).to_csv(path, index=False)
    return path


def write_massive_csv(data: SessionData, path: Path) -> Path:
    q = quote_frame(data)
    tickers = [
        f"O:{occ_symbol(r, e, k, s).replace(' ', '')}"
        for r, e, k, s in zip(q["root"], q["expiry"], q["right"], q["strike"], strict=True)
    ]
    pd.DataFrame(
        {
            "ticker": tickers,
            "ask_exchange": 302,
            "ask_price": q["ask"],
            "ask_size": q["ask_size"].astype(int),
            "bid_exchange": 302,
            "bid_price": q["bid"],
            "bid_size": q["bid_size"].astype(int),
            "sequence_number": np.arange(len(q)),
            "sip_timestamp": q["ts"],
        }
    ).to_csv(path, index=False)
    return path


def write_index_csv(data: SessionData, path: Path, volume: np.ndarray | None = None) -> Path:
    bars = data.checked_bars
    frame = pd.DataFrame(
        {
            "ts": _ny_text(pd.Series(bars.ts.astype(np.int64))),
            "open": bars.open,
            "high": bars.high,
            "low": bars.low,
            "close": bars.close,
        }
    )
    if volume is not None:
        frame["volume"] = volume
    frame.to_csv(path, index=False)
    return path


# -- DBN fixtures -----------------------------------------------------------------------------------------

_PX = 1_000_000_000  # DBN fixed-point prices
_OPRA_CBOE = 22  # publisher id of "OPRA - Cboe Options"


@dataclasses.dataclass
class _Interval:  # databento_dbn's MappingInterval protocol
    start_date: date
    end_date: date
    symbol: str


@dataclasses.dataclass
class _Mapping:  # databento_dbn's SymbolMapping protocol
    raw_symbol: str
    intervals: list


def _write_dbn(
    path: Path, schema, records, symbols: dict[int, str], start_ns: int, dataset: str = "OPRA.PILLAR"
) -> Path:
    day = pd.Timestamp(start_ns, tz="UTC").tz_convert(NEW_YORK).date()
    metadata = dbn.Metadata(
        dataset=dataset,
        start=start_ns,
        stype_in=dbn.SType.RAW_SYMBOL,
        stype_out=dbn.SType.INSTRUMENT_ID,
        schema=schema,
        symbols=list(symbols.values()),
        end=start_ns + 24 * HOUR_NS,
        mappings=[
            _Mapping(s, [_Interval(day, day + pd.Timedelta(days=1).to_pytimedelta(), str(i))])
            for i, s in symbols.items()
        ],
    )
    raw = bytes(metadata) + b"".join(bytes(r) for r in records)
    with open(path, "wb") as f:
        transcoder = dbn.Transcoder(f, dbn.Encoding.DBN, dbn.Compression.ZSTD)
        transcoder.write(raw)
        transcoder.flush()
    return path


def definition_record(
    instrument_id: int, symbol: str, expiry: date, strike: float, ts_ns: int, unit_of_measure_qty: float | None = None
):
    key_right = symbol[12]
    midnight = pd.Timestamp(expiry, tz="UTC").value
    extra = {} if unit_of_measure_qty is None else {"unit_of_measure_qty": int(unit_of_measure_qty * _PX)}
    return dbn.InstrumentDefMsg(
        publisher_id=_OPRA_CBOE,
        instrument_id=instrument_id,
        ts_event=ts_ns,
        ts_recv=ts_ns,
        min_price_increment=int(0.05 * _PX),
        display_factor=_PX,
        raw_symbol=symbol,
        asset=symbol[:6].strip(),
        security_type="OOF",
        instrument_class=dbn.InstrumentClass.CALL if key_right == "C" else dbn.InstrumentClass.PUT,
        security_update_action=dbn.SecurityUpdateAction.ADD,
        expiration=midnight,
        activation=midnight - 30 * 24 * HOUR_NS,
        strike_price=round(strike * _PX),
        currency="USD",
        exchange="XCBO",
        underlying="SPX",
        strike_price_currency="USD",
        **extra,
    )


def write_dbn_fixture(
    data: SessionData, folder: Path, extra_definitions: Sequence[tuple[str, date, float]] = (), quote_filter=None
) -> tuple[Path, Path]:
    """A definition file and a cbbo-1m file holding the session's options and quotes (as real OPRA: the
    definitions carry no usable multiplier, so Nautilus loads 1)."""
    symbols = {}
    defs = []
    ts0 = data.session.open_ns - HOUR_NS
    for n, option in enumerate(data.options, start=1):
        key = parse_option_id(option.id.value)
        symbol = occ_symbol(key.root, key.expiry, key.right, key.strike)
        symbols[n] = symbol
        defs.append(definition_record(n, symbol, key.expiry, key.strike, ts0))
    for extra, (symbol, expiry, strike) in enumerate(extra_definitions, start=len(symbols) + 1):
        symbols[extra] = symbol
        defs.append(definition_record(extra, symbol, expiry, strike, ts0))
    by_symbol = {v: k for k, v in symbols.items()}
    records = []
    for option in data.options:
        key = parse_option_id(option.id.value)
        n = by_symbol[occ_symbol(key.root, key.expiry, key.right, key.strike)]
        q = data.quotes[option.id.value]
        for i in range(len(q)):
            if quote_filter is not None and not quote_filter(option.id.value, i):
                continue
            t = int(q.ts[i])
            records.append(
                (
                    t,
                    n,
                    dbn.CBBOMsg(
                        rtype=dbn.RType.CBBO_1M,
                        publisher_id=_OPRA_CBOE,
                        instrument_id=n,
                        ts_event=t,
                        price=round(q.bid[i] * _PX),
                        size=1,
                        side=dbn.Side.NONE,
                        ts_recv=t,
                        levels=dbn.ConsolidatedBidAskPair(
                            bid_px=round(q.bid[i] * _PX),
                            ask_px=round(q.ask[i] * _PX),
                            bid_sz=int(q.bid_size[i]),
                            ask_sz=int(q.ask_size[i]),
                            bid_pb=_OPRA_CBOE,
                            ask_pb=_OPRA_CBOE,
                        ),
                    ),
                )
            )
    records.sort(key=lambda r: (r[0], r[1]))
    definitions = _write_dbn(folder / "definition.dbn.zst", dbn.Schema.DEFINITION, defs, symbols, ts0)
    quotes = _write_dbn(folder / "cbbo-1m.dbn.zst", dbn.Schema.CBBO_1M, [r for _, _, r in records], symbols, ts0)
    return definitions, quotes


def write_index_dbn(data: SessionData, path: Path, volume: int = 0) -> Path:
    """The index as a DBIX.CORE-style ohlcv-1m file (bar records stamped at their open)."""
    bars = data.checked_bars
    records = [
        dbn.OHLCVMsg(
            rtype=dbn.RType.OHLCV_1M,
            publisher_id=1,
            instrument_id=1,
            ts_event=int(t) - MINUTE_NS,
            open=round(o * _PX),
            high=round(h * _PX),
            low=round(lo * _PX),
            close=round(c * _PX),
            volume=volume,
        )
        for t, o, h, lo, c in zip(bars.ts, bars.open, bars.high, bars.low, bars.close, strict=True)
    ]
    return _write_dbn(path, dbn.Schema.OHLCV_1M, records, {1: "SPX"}, int(bars.ts[0]) - MINUTE_NS, dataset="DBIX.CORE")


def with_root(data: SessionData, iid: str, root: str, expiry: date | None = None) -> SessionData:
    """The session with one option re-listed under another root (and/or expiry), its quotes unchanged."""
    from odte_nautilus.data.instruments import option_contract

    key = parse_option_id(iid)
    new_key = dataclasses.replace(key, root=root, expiry=expiry or key.expiry, venue="")
    option = option_contract(data.spec, new_key, data.session.close_ns, data.session.open_ns)
    quotes = {k: v for k, v in data.quotes.items() if k != iid}
    quotes[option.id.value] = dataclasses.replace(data.quotes[iid], instrument_id=option.id.value)
    options = [o for o in data.options if o.id.value != iid] + [option]
    return dataclasses.replace(data, options=options, quotes=quotes)
