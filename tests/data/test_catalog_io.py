"""Our writer produces the catalog's own files, byte for byte, and Nautilus reads them back."""

import hashlib
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from nautilus_trader.model.data import Bar, BarType, QuoteTick
from nautilus_trader.model.instruments import OptionContract
from nautilus_trader.model.objects import Price, Quantity
from nautilus_trader.persistence.catalog import ParquetDataCatalog

from odte_nautilus.data import catalog_io, sidecar
from odte_nautilus.data.greeks import COLUMNS
from odte_nautilus.data.instruments import load_option_instruments


def _digests(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.md5(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*.parquet"))}


def test_files_are_byte_identical_to_catalog_write_data(tmp_path, session_data):
    ours = tmp_path / "ours"
    catalog_io.write_session(ours, session_data)
    theirs = ParquetDataCatalog(str(tmp_path / "theirs"))
    for option in session_data.options[:4]:
        q = session_data.quotes[option.id.value]
        ts_init = q.ts + np.uint64(catalog_io.QUOTE_INIT_DELAY_NS)
        theirs.write_data(
            QuoteTick.from_raw_arrays_to_list(option.id, 2, 0, q.bid, q.ask, q.bid_size, q.ask_size, q.ts, ts_init)
        )
        theirs.write_data([option])
    bars = session_data.bars
    bar_type = BarType.from_str(bars.bar_type)
    theirs.write_data(
        [
            Bar(bar_type, Price(o, 2), Price(h, 2), Price(lo, 2), Price(c, 2), Quantity(v, 0), t, t)
            for o, h, lo, c, v, t in zip(
                bars.open, bars.high, bars.low, bars.close, bars.volume, bars.ts.tolist(), strict=True
            )
        ]
    )
    theirs.write_data([session_data.underlying])
    reference = _digests(tmp_path / "theirs")
    assert len(reference) == 10
    assert {k: v for k, v in _digests(ours).items() if k in reference} == reference


def test_nautilus_reads_the_catalog_back(tiny_catalog, session_data):
    catalog = ParquetDataCatalog(str(tiny_catalog))
    iid = session_data.options[3].id.value  # an id with spaces
    ticks = catalog.quote_ticks(instrument_ids=[iid])
    q = session_data.quotes[iid]
    assert len(ticks) == len(q)
    assert [t.bid_price.as_double() for t in ticks[:50]] == pytest.approx(q.bid[:50].tolist())
    bars = catalog.bars(bar_types=[session_data.spec.bar_type])
    assert bars[-1].close.as_double() == pytest.approx(session_data.bars.close[-1])
    assert [i.id.value for i in catalog.instruments(instrument_ids=["^SPX.CBOE"])] == ["^SPX.CBOE"]


def test_decoded_columns_match_what_was_written(tiny_catalog, session_data):
    iid = session_data.options[0].id.value
    back = catalog_io.read_quotes(tiny_catalog, iid)
    q = session_data.quotes[iid]
    np.testing.assert_allclose(back.bid, q.bid)
    np.testing.assert_allclose(back.ask_size, q.ask_size)
    assert np.array_equal(back.ts, q.ts)


def test_tick_scheme_is_reattached_on_load(tiny_catalog):
    catalog = ParquetDataCatalog(str(tiny_catalog))
    assert {o.tick_scheme_name for o in catalog.instruments(instrument_type=OptionContract)} == {None}
    options = load_option_instruments(catalog)
    assert options and {o.tick_scheme_name for o in options} == {"SPXW_OPTIONS"}
    assert options[0].next_ask_price(3.01).as_double() == pytest.approx(3.10)


def test_existing_files_are_kept_not_overwritten(tmp_path, session_data):
    catalog_io.write_session(tmp_path, session_data)
    before = _digests(tmp_path)
    catalog_io.write_session(tmp_path, session_data)
    assert _digests(tmp_path) == before


def test_open_interest_and_greeks_side_files(tiny_catalog, session_data):
    day = session_data.session.trading_date
    assert sidecar.load_open_interest(tiny_catalog, day) == session_data.open_interest
    greeks = sidecar.load_greeks(tiny_catalog, day)
    assert tuple(greeks.columns) == COLUMNS
    assert len(greeks) == len(session_data.quotes) * 78  # every 5 minutes
    atm_call = greeks[(greeks["delta"] > 0.4) & (greeks["delta"] < 0.6)]
    assert not atm_call.empty
    assert (atm_call["iv"].between(0.05, 1.0)).all()
    assert (atm_call["theta"] < 0).all() and (atm_call["gamma"] > 0).all()
    assert sidecar.load_open_interest(tiny_catalog, day.replace(day=1)) == {}
    assert sidecar.load_greeks(tiny_catalog, day.replace(day=1)).empty


def test_quote_files_hold_the_catalog_schema(tiny_catalog, session_data):
    iid = session_data.options[0].id.value
    (file,) = (Path(tiny_catalog) / "data" / "quote_tick" / iid).glob("*.parquet")
    metadata = pq.read_schema(file).metadata
    assert metadata[b"instrument_id"].decode() == iid and metadata[b"price_precision"] == b"2"
