"""The fill rule of every broker simulator, the backtest's: a package fills at its far touch.

A package's far touch is what crossing the spread costs: each bought leg at its ask, each sold leg at its
bid, times its ratio, summed with buys positive (``packages.far_touch``). A limit order (signed net:
positive debit, negative credit) is marketable when that net is at or below its limit, and then fills at
the far-touch net, not at its limit: the backtest's orders cross the spread and are filled at what the book
shows. Each leg reports its own far side, so leg prices lie inside their quotes and sum exactly (``Decimal``)
to the package price. A single-leg order is a package of one leg. Displayed sizes do not limit a fill.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from odte_nautilus.sim.replay import Quote


@dataclass(frozen=True, slots=True)
class Touch:
    """A package's far touch: its signed net per package and each leg's price (in the legs' order)."""

    net: Decimal
    leg_prices: tuple[Decimal, ...]


def far_touch(legs: Sequence[tuple[str, int]], quotes: Mapping[str, Quote]) -> Touch | None:
    """``legs`` are (the replay's key, signed ratio: bought > 0, sold < 0); ``None`` while any leg has no quote."""
    prices = []
    for symbol, ratio in legs:
        quote = quotes.get(symbol)
        if quote is None:
            return None
        prices.append(quote.ask if ratio > 0 else quote.bid)
    net = sum((ratio * price for (_, ratio), price in zip(legs, prices, strict=True)), Decimal(0))
    return Touch(net, tuple(prices))


def marketable(touch: Touch, net_limit: Decimal | None) -> bool:
    """A market order (no limit) always is; a limit when the far-touch net is at or below it."""
    return net_limit is None or touch.net <= net_limit


def packages_to_fill(qty: int, filled: int, partial_fill: float | None) -> int:
    """How many packages a marketable order fills now: what is left, unless the partial-fill fault makes its
    first fill that fraction of the order (at least one package, never all of it)."""
    left = qty - filled
    if partial_fill is not None and filled == 0 and left > 1:
        return min(left - 1, max(1, math.floor(qty * partial_fill)))
    return left
