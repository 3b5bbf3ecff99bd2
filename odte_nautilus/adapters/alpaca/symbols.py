"""Alpaca's symbols and ours, mapped both ways in one place.

Alpaca names an option by its *unpadded* OCC symbol (``SPY240315C00555000``); the project names it by the
padded 21-character OCC symbol at a venue (``SPY   240315C00555000.ALPACA``, data/symbology.py), so the same
contract has the same id in the catalog, the backtest and the live node. The underlying is ``SPY.ALPACA``:
Nautilus settles an option against ``<option.underlying>.<option venue>``, so both live at one venue.
"""

from __future__ import annotations

from nautilus_trader.model.identifiers import InstrumentId, Symbol, Venue

from odte_nautilus.data.symbology import SymbologyError, occ_symbol, parse_occ

ALPACA = "ALPACA"
ALPACA_VENUE = Venue(ALPACA)


def instrument_id(alpaca_symbol: str) -> InstrumentId:
    """Our id of an Alpaca option symbol: ``SPY240315C00555000`` -> ``SPY   240315C00555000.ALPACA``."""
    key = parse_occ(alpaca_symbol)
    return InstrumentId(Symbol(occ_symbol(key.root, key.expiry, key.right, key.strike)), ALPACA_VENUE)


def alpaca_symbol(option_id: InstrumentId) -> str:
    """Alpaca's symbol of one of our option ids: the OCC symbol with the root's padding removed."""
    return option_id.symbol.value.replace(" ", "")


def underlying_id(symbol: str) -> InstrumentId:
    """``SPY`` -> ``SPY.ALPACA`` (the equity the options settle into)."""
    return InstrumentId(Symbol(symbol), ALPACA_VENUE)


def is_option(iid: InstrumentId) -> bool:
    """An option id (an OCC symbol), as opposed to an underlying's or a spread's."""
    try:
        parse_occ(iid.symbol.value)
    except SymbologyError:
        return False
    return True
