"""Alpaca's option symbols <-> the catalog's instrument ids: the one mapping pair of the simulator.

Alpaca names a contract by its OCC symbol *without* the root's padding (``SPY240315C00555000``); the
catalog uses IB's padded symbol plus a venue (``SPY   240315C00555000.SMART``). Both directions go
through ``symbology``'s parser and formatter, so the two spellings cannot drift apart.
"""

from __future__ import annotations

import uuid

from odte_nautilus.data.symbology import occ_symbol, option_id, parse_occ, parse_option_id

_NAMESPACE = uuid.UUID("4f0d7e55-0de7-4c1e-9a51-6c0d2a1e5a11")  # stable asset ids across runs and restarts


def asset_id(symbol: str) -> str:
    """A stable UUID per symbol: Alpaca gives every asset and contract one."""
    return str(uuid.uuid5(_NAMESPACE, symbol))


def alpaca_symbol(instrument_id: str) -> str:
    """``SPY   240315C00555000.SMART`` -> ``SPY240315C00555000``."""
    key = parse_option_id(instrument_id)
    return occ_symbol(key.root, key.expiry, key.right, key.strike).replace(" ", "")


def instrument_id(symbol: str, venue: str) -> str:
    """``SPY240315C00555000`` (or padded) -> ``SPY   240315C00555000.<venue>``."""
    key = parse_occ(symbol)
    return option_id(key.root, key.expiry, key.right, key.strike, venue)
