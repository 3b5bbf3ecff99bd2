"""A package as Nautilus trades it: one ``OptionSpread`` under a generic spread id (design §5).

Glue: builds the spread instrument from the package's legs, reads the legs' quotes from the cache to
mark the package and to price its orders, and rounds those prices with the project's one tick rounder.

The spread instrument is built here rather than by ``request_instrument``: Nautilus copies the legs' tiered
tick scheme onto the spread, and its quote aggregator then crashes on a combo bid below the first tier
(a far strangle's 0.00 bid). A combo has no listed tier of its own, so it gets none, and our code rounds.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from nautilus_trader.model.identifiers import InstrumentId, Symbol, new_generic_spread_id
from nautilus_trader.model.instruments import OptionContract, OptionSpread
from nautilus_trader.model.objects import Price, Quantity

from odte_nautilus.data.ticks import SPXW_TICKS, Direction, TickScheme, round_to_tick
from odte_nautilus.risk.model import Leg

if TYPE_CHECKING:
    from nautilus_trader.cache.cache import Cache

# Marks are read on every package quote and stop check; parsing an id string each time would dominate.
leg_instrument_id = lru_cache(maxsize=65_536)(InstrumentId.from_str)

AGGREGATED_SPREAD_QUOTES = {
    "aggregate_spread_quotes": True,
    "update_interval_seconds": None,  # a spread quote per leg quote: no timer in the backtest
    # Its vega pricing uses the greeks calculator of model.greeks (whole-day T): wrong for 0DTE.
    "disable_vega_pricing": True,
}


def spread_id(legs: tuple[Leg, ...]) -> InstrumentId:
    return new_generic_spread_id([(InstrumentId.from_str(leg.contract.instrument_id), leg.ratio) for leg in legs])


def option_spread(legs: list[tuple[OptionContract, int]], structure: str) -> OptionSpread:
    """The ``OptionSpread`` of a package from its leg instruments and signed ratios (no tick scheme)."""
    sid = new_generic_spread_id([(option.id, ratio) for option, ratio in legs])
    first = legs[0][0]
    return OptionSpread(
        instrument_id=sid,
        raw_symbol=Symbol(sid.symbol.value),
        asset_class=first.asset_class,
        currency=first.quote_currency,
        price_precision=first.price_precision,
        price_increment=Price(first.price_increment.as_double(), first.price_precision),
        multiplier=Quantity.from_int(int(first.multiplier)),
        lot_size=Quantity.from_int(1),
        underlying=first.underlying,
        strategy_type=structure,
        activation_ns=first.activation_ns,
        expiration_ns=min(option.expiration_ns for option, _ in legs),
        ts_event=first.ts_event,
        ts_init=first.ts_init,
    )


def ensure_spread(legs: tuple[Leg, ...], cache: Cache, structure: str) -> OptionSpread:
    """The package's spread instrument, added to the cache on first use."""
    existing = cache.instrument(spread_id(legs))
    if existing is not None:
        return existing
    spread = option_spread(
        [(cache.instrument(leg_instrument_id(leg.contract.instrument_id)), leg.ratio) for leg in legs], structure
    )
    cache.add_instrument(spread)
    return spread


def leg_touches(legs: tuple[Leg, ...], cache: Cache) -> list[tuple[int, float, float]] | None:
    """(ratio, bid, ask) per leg from the cache, or None when any leg has no quote yet."""
    out = []
    for leg in legs:
        quote = cache.quote_tick(leg_instrument_id(leg.contract.instrument_id))
        if quote is None:
            return None
        out.append((leg.ratio, quote.bid_price.as_double(), quote.ask_price.as_double()))
    return out


def legs_quoted_since(legs: tuple[Leg, ...], cache: Cache, since_ns: int) -> bool:
    """Every leg has a quote stamped at or after ``since_ns``: the package's marks form one snapshot."""
    for leg in legs:
        quote = cache.quote_tick(leg_instrument_id(leg.contract.instrument_id))
        if quote is None or quote.ts_event < since_ns:
            return False
    return True


def package_mid(legs: tuple[Leg, ...], cache: Cache) -> float | None:
    """The package's mid value per package (signed: debit structures > 0, credit structures < 0)."""
    touches = leg_touches(legs, cache)
    if touches is None:
        return None
    return sum(r * (b + a) / 2 for r, b, a in touches)


def far_touch(legs: tuple[Leg, ...], cache: Cache, buy: bool) -> float | None:
    """What crossing the spread costs per package: buying takes every leg's far side (asks of the long legs,
    bids of the short ones); selling the opposite. Signed like every package price."""
    touches = leg_touches(legs, cache)
    if touches is None:
        return None
    if buy:
        return sum(r * (a if r > 0 else b) for r, b, a in touches)
    return sum(r * (b if r > 0 else a) for r, b, a in touches)


def marketable_limit(price: float, buy: bool, scheme: TickScheme = SPXW_TICKS) -> float:
    """A limit on the tick grid on the side that still crosses: a buyer rounds up, a seller down."""
    return round_to_tick(price, Direction.UP if buy else Direction.DOWN, scheme)


class CacheMids:
    """Leg mids read from the cache, shaped as the mapping the signals take (``mids.get(instrument_id)``)."""

    def __init__(self, cache: Cache) -> None:
        self._cache = cache

    def get(self, instrument_id: str, default: float | None = None) -> float | None:
        quote = self._cache.quote_tick(leg_instrument_id(instrument_id))
        if quote is None:
            return default
        bid, ask = quote.bid_price.as_double(), quote.ask_price.as_double()
        return (bid + ask) / 2 if ask > 0 else default
