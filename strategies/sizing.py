"""How many contracts a signal asks for: the "portfolio construction" model of the LEAN split (docs/style.md).

Seed 003 sizes each strategy from its own signal: the Theta Harvester 1-3 contracts "based on IV
percentile" (richer premium, sell more), the Gamma Scalper 1-2 "based on GEX strength" (more negative
dealer gamma, buy more). Both are the same shape — a step ladder from a signal to a size — so there is
one ``SizeLadder`` and two seed defaults.

Sizing proposes, the kernel disposes: the ladder does not know the profile's contract range, the
position-size breaker (3x base), the drawdown ladder's half size or the loss streak. The kernel applies
all of those to whatever is proposed here (``Decision.size``), so none of them is repeated in this file.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from dataclasses import dataclass
from itertools import pairwise


@dataclass(frozen=True, slots=True)
class SizeLadder:
    """``sizes[i]`` contracts once the signal reaches ``thresholds[i-1]`` (a threshold is inclusive).

    With thresholds (50, 80) and sizes (1, 2, 3): below 50 -> 1, 50 up to 80 -> 2, 80 and above -> 3.
    No signal (``None``, or NaN) -> ``base``: the strategy still trades its base size without a reading.
    """

    thresholds: tuple[float, ...]
    sizes: tuple[int, ...]
    base: int = 1

    def __post_init__(self) -> None:
        # A config file brings lists; the ladder keeps tuples so it stays hashable and immutable.
        object.__setattr__(self, "thresholds", tuple(float(t) for t in self.thresholds))
        object.__setattr__(self, "sizes", tuple(int(n) for n in self.sizes))
        if len(self.sizes) != len(self.thresholds) + 1:
            raise ValueError(
                f"a size ladder needs one more size than thresholds: thresholds {self.thresholds}, sizes {self.sizes}"
            )
        if not all(math.isfinite(t) for t in self.thresholds) or any(a >= b for a, b in pairwise(self.thresholds)):
            raise ValueError(f"size ladder thresholds must be finite and strictly ascending, got {self.thresholds}")
        if min(self.sizes) < 1 or self.base < 1:
            raise ValueError(
                f"size ladder sizes and base must be at least 1 contract, got sizes {self.sizes}, base {self.base}"
            )

    def size(self, signal: float | None) -> int:
        if signal is None or math.isnan(signal):
            return self.base
        return self.sizes[bisect_right(self.thresholds, signal)]


THETA_HARVESTER_SIZING = SizeLadder(thresholds=(50.0, 80.0), sizes=(1, 2, 3))
"""Seed 003: 1-3 contracts from the IV percentile (0-100)."""

GAMMA_SCALPER_SIZING = SizeLadder(thresholds=(2.0,), sizes=(1, 2))
"""Seed 003: 1-2 contracts from the GEX strength (thresholds below zero, ``signals.gex_strength``)."""
