"""Instrument ids: the Interactive Brokers convention, built and parsed in one place.

A backtest and a paper node must name the same contract the same way, so the catalog uses the ids the
live IB adapter produces with ``SymbologyMethod.IB_SIMPLIFIED``:

- index ``^SPX.CBOE``; stock/ETF ``SPY.SMART``;
- option ``SPXW  240315C05100000.CBOE``: the OCC symbol (root padded to 6 with spaces, YYMMDD, C/P, strike
  x 1000 on 8 digits) then the venue.

Nautilus cash-settles an expiring option against ``InstrumentId(f"{option.underlying}.{option.venue}")``,
so an option's ``underlying`` is the index *symbol* (``^SPX``, as IB sets it for options on an IND) and the
index lives at the option's venue. Both were verified on 1.231.0: an option with underlying ``^SPX``
cash-settled against ``^SPX.CBOE`` 1-minute LAST bars, and ids with spaces and ``^`` survive the
ParquetDataCatalog round trip.

Vendor symbols are mapped here too (``parse_occ`` reads OCC padded, unpadded and Massive's ``O:``
tickers). Pure: no Nautilus import, so the live adapter and the risk core can reuse it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from odte_nautilus.risk.model import OptionRight

OCC_ROOT_WIDTH = 6
_OCC = re.compile(r"^(?:O:)?(?P<root>[A-Z.]{1,6}) *(?P<expiry>\d{6})(?P<right>[CP])(?P<strike>\d{8})$")


class SymbologyError(ValueError):
    """A symbol that is not an OCC option symbol or not an id of this project's convention."""


@dataclass(frozen=True, slots=True)
class OptionKey:
    """What identifies an option contract, independent of any vendor's spelling."""

    root: str  # trading class: SPXW (PM-settled dailies), SPX (AM-settled monthlies), SPY
    expiry: date
    right: OptionRight
    strike: float
    venue: str = ""


def occ_symbol(root: str, expiry: date, right: OptionRight | str, strike: float) -> str:
    """The 21-character OCC symbol, e.g. ``SPXW  240315C05100000``."""
    if not 1 <= len(root) <= OCC_ROOT_WIDTH:
        raise SymbologyError(f"option root {root!r} must have 1 to {OCC_ROOT_WIDTH} characters")
    millis = round(float(strike) * 1000)
    if not 0 < millis < 100_000_000:
        raise SymbologyError(f"strike {strike} does not fit the OCC 8-digit strike field")
    return f"{root:<{OCC_ROOT_WIDTH}}{expiry:%y%m%d}{OptionRight(right).value}{millis:08d}"


def option_id(root: str, expiry: date, right: OptionRight | str, strike: float, venue: str) -> str:
    """The option's instrument id string, e.g. ``SPXW  240315C05100000.CBOE``."""
    return f"{occ_symbol(root, expiry, right, strike)}.{venue}"


def index_symbol(name: str) -> str:
    """IB's symbol of an index: ``SPX`` -> ``^SPX`` (also an option's ``underlying`` field)."""
    return name if name.startswith("^") else f"^{name}"


def underlying_bar_type(underlying_id: str) -> str:
    """The 1-minute LAST bar type the backtester settles against, e.g. ``^SPX.CBOE-1-MINUTE-LAST-EXTERNAL``."""
    return f"{underlying_id}-1-MINUTE-LAST-EXTERNAL"


def parse_occ(symbol: str) -> OptionKey:
    """Read an OCC option symbol: padded (``SPXW  240315C05100000``), unpadded, or Massive ``O:``-prefixed."""
    match = _OCC.match(symbol)
    if match is None:
        raise SymbologyError(f"{symbol!r} is not an OCC option symbol (ROOT YYMMDD C|P strike*1000 on 8 digits)")
    yymmdd = match["expiry"]
    expiry = date(2000 + int(yymmdd[:2]), int(yymmdd[2:4]), int(yymmdd[4:]))
    return OptionKey(match["root"], expiry, OptionRight(match["right"]), int(match["strike"]) / 1000)


def parse_option_id(instrument_id: str) -> OptionKey:
    """Split ``SPXW  240315C05100000.CBOE`` into its root, expiry, right, strike and venue."""
    symbol, sep, venue = instrument_id.rpartition(".")
    if not sep or not venue:
        raise SymbologyError(f"{instrument_id!r} has no '.VENUE' suffix")
    key = parse_occ(symbol)
    return OptionKey(key.root, key.expiry, key.right, key.strike, venue)
