"""Instrument ids follow IB's IB_SIMPLIFIED symbology (docs/market-facts.md, "Instruments")."""

from datetime import date

import pytest

from odte_nautilus.data.symbology import (
    OptionKey,
    SymbologyError,
    option_id,
    parse_occ,
    parse_option_id,
    underlying_bar_type,
)
from odte_nautilus.data.underlyings import SPX, SPY, underlying_spec
from odte_nautilus.risk.model import OptionRight


def test_ids_match_the_ib_simplified_table():
    assert option_id("SPXW", date(2024, 3, 15), "C", 5100, "CBOE") == "SPXW  240315C05100000.CBOE"
    assert SPX.underlying_id == "^SPX.CBOE"
    assert SPY.option_id(date(2024, 3, 15), OptionRight.PUT, 510) == "SPY   240315P00510000.SMART"


def test_options_settle_against_an_instrument_at_their_own_venue():
    """Nautilus settles against InstrumentId(f"{option.underlying}.{option.venue}")."""
    for spec in (SPX, SPY):
        venue = parse_option_id(spec.option_id(date(2024, 3, 15), "C", 500)).venue
        assert f"{spec.symbol}.{venue}" == spec.underlying_id


def test_bar_type_is_the_settlement_series():
    assert underlying_bar_type("^SPX.CBOE") == "^SPX.CBOE-1-MINUTE-LAST-EXTERNAL"


@pytest.mark.parametrize("symbol", ["SPXW  240315C05100000", "SPXW240315C05100000", "O:SPXW240315C05100000"])
def test_vendor_spellings_parse_to_one_key(symbol):
    assert parse_occ(symbol) == OptionKey("SPXW", date(2024, 3, 15), OptionRight.CALL, 5100.0)


def test_parse_option_id_round_trips():
    iid = option_id("SPXW", date(2024, 8, 5), "P", 5187.5, "CBOE")
    assert parse_option_id(iid) == OptionKey("SPXW", date(2024, 8, 5), OptionRight.PUT, 5187.5, "CBOE")


@pytest.mark.parametrize("bad", ["SPXW 240315X05100000", "SPXW  2403C05100000", "^SPX", ""])
def test_non_occ_symbols_are_refused(bad):
    with pytest.raises(SymbologyError):
        parse_occ(bad)


def test_unknown_underlying_is_refused():
    assert underlying_spec("spxw") is SPX
    with pytest.raises(ValueError, match="unknown underlying"):
        underlying_spec("NDX")
