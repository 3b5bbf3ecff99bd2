"""``odte catalog import databento``: OPRA DBN through Nautilus's loader, its traps fixed, bad data refused.

Fixtures are DBN files written at test time with ``databento_dbn`` from a sample session, so the import
can be compared quote for quote with the sample.
"""

import dataclasses
import re
from datetime import date, timedelta

import databento_dbn as dbn
import numpy as np
import pytest
from nautilus_trader.adapters.databento.loaders import DatabentoDataLoader

from odte_nautilus.data import catalog_io, sidecar
from odte_nautilus.data.checks import ExpiryNotSessionError, IndexVolumeError, MissingDefinitionError, MultiplierError
from odte_nautilus.data.import_databento import import_databento
from odte_nautilus.data.importing import ImportConflictError
from odte_nautilus.data.sample import SampleConfig, sample_sessions
from odte_nautilus.data.symbology import occ_symbol, parse_option_id
from odte_nautilus.risk.session import ny_ns
from tests.data.helpers import (
    EARLY_CLOSE_DAY,
    _write_dbn,
    catalog_shape,
    definition_record,
    with_root,
    write_dbn_fixture,
    write_index_csv,
    write_index_dbn,
)


def _import(tmp_path, data, index_volume=0, **kwargs):
    folder = tmp_path / "in"
    folder.mkdir(parents=True, exist_ok=True)
    files = write_dbn_fixture(data, folder)
    index = write_index_dbn(data, folder / "spx-ohlcv-1m.dbn.zst", volume=index_volume)
    return import_databento(list(files), index, tmp_path / "catalog", **kwargs)


def test_import_gives_the_sample_catalog_shape_and_quotes(tmp_path, tiny_catalog, session_data):
    report = _import(tmp_path, session_data)
    assert report.sessions == [session_data.session.trading_date] and report.quotes == session_data.quote_count
    assert catalog_shape(tmp_path / "catalog") == catalog_shape(tiny_catalog)
    iid = session_data.options[4].id.value
    back = catalog_io.read_quotes(tmp_path / "catalog", iid)
    np.testing.assert_allclose(back.bid, session_data.quotes[iid].bid)
    assert sidecar.load_greeks(tmp_path / "catalog", session_data.session.trading_date)["iv"].notna().any()


def test_loader_traps_are_fixed(tmp_path, session_data):
    """Nautilus loads OPRA definitions with multiplier 1, a non-index asset class (EQUITY on real files),
    padded ids at the publisher's venue and underlying "SPX"; the catalog holds 100, INDEX, IB ids, ^SPX."""
    folder = tmp_path / "raw"
    folder.mkdir()
    definitions, _ = write_dbn_fixture(session_data, folder)
    raw = DatabentoDataLoader().from_dbn_file(definitions)[0]
    assert int(raw.multiplier) == 1 and raw.asset_class.name != "INDEX" and raw.id.venue.value == "XCBO"
    assert raw.underlying == "SPX"
    _import(tmp_path, session_data)
    shape = catalog_shape(tmp_path / "catalog")["sessions"][0]
    assert shape["multipliers"] == [100] and shape["asset_classes"] == ["INDEX"]
    assert shape["venues"] == ["CBOE"] and shape["option_underlyings"] == ["^SPX"]


def test_early_close_expiry_is_moved_to_one_pm(tmp_path):
    data = next(sample_sessions(SampleConfig(days=1, start=EARLY_CLOSE_DAY, strikes_each_side=6)))
    folder = tmp_path / "raw"
    folder.mkdir()
    definitions, _ = write_dbn_fixture(data, folder)
    assert DatabentoDataLoader().from_dbn_file(definitions)[0].expiration_ns == ny_ns(EARLY_CLOSE_DAY, 16, 0)
    _import(tmp_path, data)
    assert catalog_shape(tmp_path / "catalog")["sessions"][0]["expire_at_close"]


def test_index_with_volume_is_refused_and_nothing_written(tmp_path, session_data):
    with pytest.raises(IndexVolumeError, match=re.escape("spx-ohlcv-1m.dbn.zst")):
        _import(tmp_path, session_data, index_volume=900)
    assert not (tmp_path / "catalog").exists()


def test_a_real_multiplier_other_than_100_is_refused(tmp_path, session_data):
    folder = tmp_path / "in"
    folder.mkdir()
    definitions, quotes = write_dbn_fixture(session_data, folder)
    # Rewrite the definitions with unit_of_measure_qty 10 (an adjusted contract): the loader reads 10.
    symbols, records = {}, []
    for n, option in enumerate(session_data.options, start=1):
        key = parse_option_id(option.id.value)
        symbols[n] = occ_symbol(key.root, key.expiry, key.right, key.strike)
        records.append(
            definition_record(
                n,
                symbols[n],
                key.expiry,
                key.strike,
                session_data.session.open_ns - 10**12,
                unit_of_measure_qty=10 if n == 1 else None,
            )
        )
    _write_dbn(definitions, dbn.Schema.DEFINITION, records, symbols, session_data.session.open_ns - 10**12)
    index = write_index_dbn(session_data, folder / "spx.dbn.zst")
    with pytest.raises(MultiplierError, match="multiplier 10 is not 100"):
        import_databento([definitions, quotes], index, tmp_path / "catalog")
    assert not (tmp_path / "catalog").exists()


def test_quotes_without_a_definition_are_refused(tmp_path, session_data):
    folder = tmp_path / "in"
    folder.mkdir()
    _, quotes = write_dbn_fixture(session_data, folder)
    first = session_data.options[0].id.value
    partial = dataclasses.replace(
        session_data,
        options=session_data.options[1:],
        quotes={k: v for k, v in session_data.quotes.items() if k != first},
    )
    (tmp_path / "partial").mkdir()
    partial_definitions, _ = write_dbn_fixture(partial, tmp_path / "partial")
    with pytest.raises(MissingDefinitionError, match=re.escape("cbbo-1m.dbn.zst")):
        import_databento(
            [partial_definitions, quotes], write_index_dbn(session_data, folder / "spx.dbn.zst"), tmp_path / "catalog"
        )


def test_am_settled_monthlies_are_not_0dte(tmp_path, session_data):
    """Root SPX (AM-settled, expiring on the opening print) is skipped by default and refused if asked for."""
    iid = session_data.options[0].id.value
    data = with_root(session_data, iid, "SPX")
    report = _import(tmp_path, data)
    assert report.skipped_roots == {"SPX": len(session_data.quotes[iid])}
    with pytest.raises(ExpiryNotSessionError, match="expires 2024-07-22 09:30:00"):
        _import(tmp_path / "again", data, roots=("SPXW", "SPX"))


def test_tomorrows_expiry_is_refused_or_skipped(tmp_path, session_data):
    iid = session_data.options[0].id.value
    data = with_root(session_data, iid, "SPXW", expiry=session_data.session.trading_date + timedelta(days=1))
    with pytest.raises(ExpiryNotSessionError, match="expires 2024-07-23 16:00:00"):
        _import(tmp_path, data)
    report = _import(tmp_path / "skip", data, skip_non_0dte=True)
    assert report.skipped_non_0dte == len(session_data.quotes[iid])


def test_a_session_already_in_the_catalog_is_refused(tmp_path, session_data):
    _import(tmp_path, session_data)
    with pytest.raises(ImportConflictError, match="2024-07-22"):
        _import(tmp_path, session_data)


def test_index_may_come_as_csv(tmp_path, session_data):
    folder = tmp_path / "in"
    folder.mkdir()
    files = write_dbn_fixture(session_data, folder)
    import_databento(list(files), write_index_csv(session_data, folder / "spx.csv"), tmp_path / "catalog")
    assert catalog_shape(tmp_path / "catalog")["sessions"][0]["bars_end_at_close"]
    assert date(2024, 7, 22) in {p.session.trading_date for p in catalog_io.catalog_sessions(tmp_path / "catalog")}
