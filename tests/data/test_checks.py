"""Every bad-input case is refused with its named error, naming the file, the row or instrument, the reason.

Seed 000: "SPX bars must not have a volume column — which catches wrong-instrument joins at load time".
"""

import dataclasses
import re
import shutil

import numpy as np
import pytest

from odte_nautilus.data import catalog_io
from odte_nautilus.data.bundle import Origin
from odte_nautilus.data.catalog_check import validate_catalog
from odte_nautilus.data.checks import (
    CrossedQuoteError,
    DataCheckError,
    DuplicateTimestampError,
    ExpiryNotSessionError,
    IndexVolumeError,
    MissingDefinitionError,
    MissingUnderlyingError,
    MultiplierError,
    OffTickError,
    OutsideSessionError,
    StrikeGridHoleError,
    check_session,
)
from odte_nautilus.data.instruments import option_contract
from odte_nautilus.data.symbology import parse_option_id
from odte_nautilus.risk.time_units import MINUTE_NS
from tests.data.helpers import replace_quotes

ROWS = Origin("vendor.csv", rows=np.arange(2, 392))


def _first(data):
    return data.options[0].id.value


def _with_origin(data, iid):
    return replace_quotes(data, iid, origin=ROWS)


def test_the_sample_passes(session_data):
    check_session(session_data)


def test_index_with_volume_is_a_wrong_instrument_join(session_data):
    volume = session_data.bars.volume.copy()
    volume[100] = 1200
    bars = dataclasses.replace(session_data.bars, volume=volume, origin=Origin("spx.csv", rows=np.arange(2, 392)))
    with pytest.raises(IndexVolumeError) as err:
        check_session(dataclasses.replace(session_data, bars=bars))
    assert err.value.file == "spx.csv" and err.value.where.startswith("row 102")
    assert "volume 1200" in str(err.value)


def test_multiplier_must_be_100(session_data):
    key = parse_option_id(_first(session_data))
    wrong = option_contract(
        session_data.spec, key, session_data.session.close_ns, session_data.session.open_ns, multiplier=1
    )
    with pytest.raises(MultiplierError, match="multiplier 1 is not 100"):
        check_session(dataclasses.replace(session_data, options=[wrong, *session_data.options[1:]]))


def test_crossed_quote(session_data):
    iid = _first(session_data)
    bid = session_data.quotes[iid].bid.copy()
    bid[10] = session_data.quotes[iid].ask[10] + 0.5
    with pytest.raises(CrossedQuoteError) as err:
        check_session(_with_origin(replace_quotes(session_data, iid, bid=bid), iid))
    assert (err.value.file, err.value.where) == ("vendor.csv", f"row 12 ({iid})")


def test_price_off_the_tick_grid(session_data):
    iid = _first(session_data)
    ask = session_data.quotes[iid].ask.copy()
    ask[5] = 3.05  # above $3 the SPXW tick is $0.10
    bid = np.minimum(session_data.quotes[iid].bid, 3.0)
    with pytest.raises(OffTickError, match=re.escape("ask 3.05 is off the SPXW_OPTIONS grid")):
        check_session(replace_quotes(session_data, iid, ask=ask, bid=bid))


def test_negative_bid_is_off_the_grid(session_data):
    iid = _first(session_data)
    bid = session_data.quotes[iid].bid.copy()
    bid[0] = -0.05
    with pytest.raises(OffTickError, match=re.escape("bid -0.05")):
        check_session(replace_quotes(session_data, iid, bid=bid))


def test_quote_outside_the_session(session_data):
    iid = _first(session_data)
    ts = session_data.quotes[iid].ts.copy()
    ts[-1] = np.uint64(session_data.session.close_ns + MINUTE_NS)  # 16:01
    with pytest.raises(OutsideSessionError, match="16:01:00"):
        check_session(replace_quotes(session_data, iid, ts=ts))


def test_expiry_not_the_sessions(session_data):
    """A 16:00 expiry on a day whose session closes earlier, or any other day, is not this session's."""
    key = parse_option_id(_first(session_data))
    late = option_contract(
        session_data.spec, key, session_data.session.close_ns + 15 * MINUTE_NS, session_data.session.open_ns
    )
    with pytest.raises(ExpiryNotSessionError, match="expires 2024-07-22 16:15:00"):
        check_session(dataclasses.replace(session_data, options=[late, *session_data.options[1:]]))


def test_duplicate_timestamps(session_data):
    iid = _first(session_data)
    ts = session_data.quotes[iid].ts.copy()
    ts[20] = ts[19]
    with pytest.raises(DuplicateTimestampError) as err:
        check_session(_with_origin(replace_quotes(session_data, iid, ts=ts), iid))
    assert err.value.where == f"row 22 ({iid})"


def test_strike_grid_hole_at_the_money(session_data):
    atm = round(session_data.bars.open[0] / 5) * 5
    hole = next(o for o in session_data.options if o.strike_price.as_double() == atm + 5)
    quotes = {k: v for k, v in session_data.quotes.items() if k != hole.id.value}
    options = [o for o in session_data.options if o is not hole]
    with pytest.raises(StrikeGridHoleError, match=f"no quoted {hole.option_kind.name[0]}{atm + 5:g}"):
        check_session(dataclasses.replace(session_data, options=options, quotes=quotes))


@pytest.mark.parametrize("case", ["no bars", "no close bar"])
def test_missing_underlying_series(session_data, case):
    data = dataclasses.replace(session_data, bars=None)
    if case == "no close bar":  # nothing to cash-settle on at 16:00
        bars = session_data.bars
        data = dataclasses.replace(
            session_data,
            bars=dataclasses.replace(
                bars,
                ts=bars.ts[:-1],
                open=bars.open[:-1],
                high=bars.high[:-1],
                low=bars.low[:-1],
                close=bars.close[:-1],
                volume=bars.volume[:-1],
            ),
        )
    with pytest.raises(
        MissingUnderlyingError,
        match="no bar stamped at the close" if case == "no close bar" else r"no \^SPX\.CBOE bars",
    ):
        check_session(data)


def test_option_naming_another_underlying(session_data):
    """Databento says underlying "SPX"; the index is ^SPX.CBOE: such an option would never settle."""
    key = parse_option_id(_first(session_data))
    vendor_spec = dataclasses.replace(session_data.spec, symbol="SPX")
    wrong = option_contract(vendor_spec, key, session_data.session.close_ns, session_data.session.open_ns)
    with pytest.raises(MissingUnderlyingError, match=r"settles against SPX\.CBOE, not \^SPX\.CBOE"):
        check_session(dataclasses.replace(session_data, options=[wrong, *session_data.options[1:]]))


def test_quotes_without_definition(session_data):
    with pytest.raises(MissingDefinitionError, match=_first(session_data)):
        check_session(dataclasses.replace(session_data, options=session_data.options[1:]))


def test_every_error_names_its_fix(session_data):
    for cls in DataCheckError.__subclasses__():
        assert cls.fix and cls.code.value in str(cls("f.csv", "row 2", "why"))


def test_validate_catalog_rereads_a_changed_session_and_refuses_it(tmp_path, tiny_catalog, session_data):
    path = tmp_path / "catalog"
    shutil.copytree(tiny_catalog, path)
    first = validate_catalog(path)
    assert (first.sessions, first.quotes) == (1, session_data.quote_count)
    assert validate_catalog(path).reread == 0  # unchanged since it passed: not re-read
    iid = _first(session_data)
    bid = session_data.quotes[iid].bid.copy()
    bid[7] = session_data.quotes[iid].ask[7] + 1.0
    for f in (path / "data" / "quote_tick" / iid).glob("*.parquet"):
        f.unlink()
    catalog_io.write_table(*catalog_io.quotes_file(path, dataclasses.replace(session_data.quotes[iid], bid=bid), 2))
    with pytest.raises(CrossedQuoteError) as err:
        validate_catalog(path)
    assert err.value.where == f"row 8 ({iid})" and iid in err.value.file
