"""A package fill's leg prices: inside each leg's quote, on its tick grid, summing exactly to the package price.

Nautilus fills a spread at one price and splits it into leg fills at mid with one plug leg (docs/decisions/0006).
Mids are off the tick grid, the plug can land outside its leg's quote, and after cent rounding the legs no
longer sum to the package price: the run's money stops reconciling. A broker reports legs that traded at prices
the market showed, so we allocate the same way.

The package price ``P = sum(ratio_i * price_i)`` lies between ``P_min`` (every leg at the side that makes the
package cheapest) and ``P_max`` (the other side). Its place there, ``lambda = (P - P_min) / (P_max - P_min)``,
gives each leg a target the same fraction of the way across its own quote: a package bought at its far touch
(``lambda = 1``) has every bought leg at its ask and every sold leg at its bid, as a broker would report it. Among
the grid prices inside each quote, the allocation closest to the targets whose sum is exactly ``P`` wins (an
exact search in integer cents; ties go to the earlier leg being nearer its target).

Pure: no Nautilus import. ``None`` when no allocation exists (a price outside the package's quotes, or a sum
the legs' grids cannot make); the caller then keeps the engine's prices and the fill check reports them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from odte_nautilus.data.ticks import TickScheme, on_tick_grid

_CENTS = 100


@dataclass(frozen=True, slots=True)
class LegQuote:
    """One leg of a package as it was quoted when the package filled; ``ratio`` is signed (a short leg < 0)."""

    ratio: int
    bid: float
    ask: float
    ticks: TickScheme


def _cents(price: float) -> int:
    return round(price * _CENTS)


def _grid_cents(leg: LegQuote) -> list[int]:
    """Every price on the leg's tick grid within its quote, in cents, ascending."""
    low, high = math.ceil(leg.bid * _CENTS - 1e-6), math.floor(leg.ask * _CENTS + 1e-6)
    cents = np.arange(low, high + 1)
    return cents[on_tick_grid(cents / _CENTS, leg.ticks)].tolist()  # one call for the quote, not one per cent


def package_range(legs: Sequence[LegQuote]) -> tuple[float, float]:
    """``(P_min, P_max)``: the package's price with every leg at its cheapest side, and at its dearest."""
    low = sum(leg.ratio * (leg.bid if leg.ratio > 0 else leg.ask) for leg in legs)
    high = sum(leg.ratio * (leg.ask if leg.ratio > 0 else leg.bid) for leg in legs)
    return low, high


def allocate_leg_prices(package_price: float, legs: Sequence[LegQuote]) -> tuple[float, ...] | None:
    """Leg prices (in ``legs`` order) inside their quotes, on their grids, with ``sum(ratio * price) == P``."""
    if not legs or any(leg.ratio == 0 or leg.bid > leg.ask for leg in legs):
        return None
    low, high = package_range(legs)
    fraction = 1.0 if high == low else (package_price - low) / (high - low)
    if not -1e-9 <= fraction <= 1 + 1e-9:
        return None
    targets = [
        leg.bid + (fraction if leg.ratio > 0 else 1 - fraction) * (leg.ask - leg.bid) for leg in legs
    ]  # in dollars; each leg the same fraction across its quote
    goal = _cents(package_price)
    # best[sum] = (cost, cents chosen so far): an exact search over the sums the grids can make.
    best: dict[int, tuple[float, tuple[int, ...]]] = {0: (0.0, ())}
    for leg, target in zip(legs, targets, strict=True):
        grid = _grid_cents(leg)
        step: dict[int, tuple[float, tuple[int, ...]]] = {}
        for total, (cost, chosen) in best.items():
            for cents in grid:
                key = total + leg.ratio * cents
                candidate = (cost + abs(cents / _CENTS - target), (*chosen, cents))
                if key not in step or candidate < step[key]:
                    step[key] = candidate
        best = step
    if goal not in best:
        return None
    return tuple(c / _CENTS for c in best[goal][1])
