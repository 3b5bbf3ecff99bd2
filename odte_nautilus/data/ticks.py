"""Option tick grids and the one place that rounds a price to them.

SPX/SPXW options quote in $0.05 below $3.00 and $0.10 from $3.00 up; SPY options in $0.01. Nautilus does
not enforce a tick scheme (its RiskEngine checks precision only, the simulated exchange accepted a limit at
4.93 on a 0.05 grid) and IB rejects an off-tick limit, so our code rounds every price itself — the
synthetic market's quotes, the importers' checks and the strategies' limit prices all go through
``round_to_tick``/``on_tick_grid`` here (one place that rounds to the tick: docs/style.md).

Pure: no Nautilus import. ``instruments.ensure_tick_scheme`` builds the Nautilus ``TieredTickScheme``
from the same tiers.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import overload

import numpy as np

# Float noise (2.95 + 0.05 = 3.0000000000000004) is absorbed by this price tolerance: far below any tick,
# far above the noise.
_TOL = 1e-9


class Direction(StrEnum):
    """Which way an off-grid price moves: DOWN for a bid or a sell limit, UP for an ask or a buy limit."""

    DOWN = "down"
    UP = "up"
    NEAREST = "nearest"


@dataclass(frozen=True, slots=True)
class TickScheme:
    """A tiered price grid: ``tiers`` are ``(start, stop, increment)``, ``start`` inclusive, ascending."""

    name: str
    tiers: tuple[tuple[float, float, float], ...]
    price_precision: int = 2

    @property
    def min_increment(self) -> float:
        return min(inc for _, _, inc in self.tiers)

    def _increments(self, magnitude: np.ndarray) -> np.ndarray:
        inc = np.full(magnitude.shape, self.tiers[0][2], dtype=np.float64)
        for start, _, step in self.tiers[1:]:
            inc = np.where(magnitude >= start, step, inc)
        return inc


SPXW_TICKS = TickScheme("SPXW_OPTIONS", ((0.05, 3.00, 0.05), (3.00, 10_000.0, 0.10)))
"""Cboe SPX/SPXW/XSP: $0.05 below $3.00, $0.10 at and above (docs/market-facts.md, "Contract specifications")."""

PENNY_TICKS = TickScheme("PENNY_OPTIONS", ((0.01, 10_000.0, 0.01),))
"""SPY/QQQ options (penny interval program): $0.01 everywhere."""


def _round_magnitude(magnitude: np.ndarray, scheme: TickScheme, up: np.ndarray | bool) -> np.ndarray:
    """Round non-negative prices down or up onto the grid.

    The tier is the one on the side we round towards: 3.01 rounds down on the $0.10 tier to 3.00 and up
    to 3.10; 2.98 rounds up on the $0.05 tier to 3.00.
    """
    below = np.maximum(magnitude - _TOL, 0.0)
    above = magnitude + _TOL
    inc_down = scheme._increments(above)
    inc_up = scheme._increments(below)
    down = np.floor(above / inc_down) * inc_down
    upped = np.ceil(below / inc_up) * inc_up
    return np.round(np.where(up, upped, down), scheme.price_precision)


@overload
def round_to_tick(price: float, direction: Direction | str, scheme: TickScheme = ...) -> float: ...
@overload
def round_to_tick(price: np.ndarray, direction: Direction | str, scheme: TickScheme = ...) -> np.ndarray: ...
def round_to_tick(
    price: float | np.ndarray, direction: Direction | str, scheme: TickScheme = SPXW_TICKS
) -> float | np.ndarray:
    """Round a price (a float or a numpy array) onto the scheme's grid.

    Signed prices are allowed (a credit package has a negative price, design §5): the tier is
    that of the absolute value and ``UP``/``DOWN`` mean towards +inf/-inf, so ``UP`` always means "pay
    more / receive less" — the safe side for a buyer, ``DOWN`` the safe side for a seller.
    """
    direction = Direction(direction)
    values = np.asarray(price, dtype=np.float64)
    negative = values < 0
    magnitude = np.abs(values)
    if direction is Direction.NEAREST:
        lo = _round_magnitude(magnitude, scheme, up=False)
        hi = _round_magnitude(magnitude, scheme, up=True)
        result = np.where(hi - magnitude < magnitude - lo - _TOL, hi, lo)
    else:
        # For a negative price, "up" (towards +inf) shrinks the magnitude.
        towards_larger_magnitude = (direction is Direction.UP) != negative
        result = _round_magnitude(magnitude, scheme, up=towards_larger_magnitude)
    result = np.where(negative, -result, result) + 0.0  # + 0.0 turns -0.0 into 0.0
    return float(result) if np.ndim(result) == 0 else result


def on_tick_grid(price: float | np.ndarray, scheme: TickScheme = SPXW_TICKS) -> np.ndarray:
    """True where a (non-negative, finite) price lies on the grid; NaN and negatives are off the grid."""
    values = np.asarray(price, dtype=np.float64)
    finite = np.isfinite(values) & (values >= 0)
    safe = np.where(finite, values, 0.0)
    inc = scheme._increments(safe + _TOL)
    ticks = safe / inc
    return finite & (np.abs(ticks - np.round(ticks)) < 1e-6)


@overload
def tick_above(price: float, scheme: TickScheme = ...) -> float: ...
@overload
def tick_above(price: np.ndarray, scheme: TickScheme = ...) -> np.ndarray: ...
def tick_above(price: float | np.ndarray, scheme: TickScheme = SPXW_TICKS) -> float | np.ndarray:
    """The next grid price strictly above an on-grid price (the narrowest ask over a bid)."""
    return round_to_tick(np.asarray(price, dtype=np.float64) + scheme.min_increment / 10, Direction.UP, scheme)
