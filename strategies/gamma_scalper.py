"""Gamma Scalper: buy an out-of-the-money strangle when dealers are short gamma.

Thesis: when dealer gamma exposure (GEX, from the chain's open interest and gamma) is negative enough,
dealers' hedging amplifies moves, and a cheap 0DTE strangle pays for a move the market is primed to
make. Size 1-2 contracts from the signal's strength (seed 003); exit by its exit policy (``risk/exits.py``:
a take-profit on the debit, a stop at a share of it lost, a time stop if the move does not come) or the
EOD flatten - all in the shared base.

The signal is read once a day, at the first entry check of the window, from the start-of-day open
interest: it says whether today is a short-gamma day. It is the *tilt* of dealer gamma (GEX over the gross,
``signals.gex_tilt``), not GEX in dollars. A dollar threshold (1 bn per 1 % move) read on every bar let
the scalper trade on every sample day: a 0DTE gamma grows through the day, so the dollar GEX of an
ordinary put-heavy chain crossed the threshold at some minute of nearly every session, and any minute's
crossing was enough.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import msgspec

from odte_nautilus.strategies.base import EntryPlan, OdteStrategy, OdteStrategyConfig
from odte_nautilus.strategies.signals import atm_iv, gex_strength, gex_tilt, years_to_expiry
from odte_nautilus.strategies.sizing import SizeLadder


class GammaScalperConfig(OdteStrategyConfig, frozen=True):
    call_offset_points: float = 15.0
    put_offset_points: float = 15.0
    gex_tilt_threshold: float = 0.10  # one "unit" of strength: net dealer gamma at -10 % of the gross
    min_gex_strength: float = 1.0  # trade the day only when its tilt <= -min_strength x threshold
    strength_thresholds: tuple[float, ...] = (2.0,)  # strength -> 1, 2 contracts
    strength_sizes: tuple[int, ...] = (1, 2)
    fallback_iv: float = 0.15  # vol for the gammas when the ATM IV cannot be read
    entry_start: str = "10:00"
    entry_end: str = "14:00"
    # Exits chosen by backtests/exit_selection.py (decision 0007): out at 1.5 x the debit or half of it lost.
    take_profit_full_pct: float | None = 50.0
    exit: dict[str, Any] | None = msgspec.field(
        default_factory=lambda: {"kind": "strangle", "loss_debit_fraction": 0.5, "time_stop_minutes": None}
    )


class GammaScalper(OdteStrategy):
    structure = "STRANGLE"

    def __init__(self, config: GammaScalperConfig) -> None:
        super().__init__(config)
        self.sizing = SizeLadder(config.strength_thresholds, config.strength_sizes)
        self.open_interest: dict[str, int] = {}
        self.strength: float | None = None  # today's signal, read at the first entry check

    def on_session_start(self, day: date) -> None:
        self.open_interest = self.runtime.open_interest(day)
        self.strength = None

    def strike_reach_points(self) -> float:
        return max(self.config.call_offset_points, self.config.put_offset_points)

    def entry_plan(self, now_ns: int) -> EntryPlan | None:
        spot, chain = self.spot, self.chain
        if spot is None or chain is None or not self.open_interest:  # the base plans only once both are known
            return None
        if self.strength is None:
            t = years_to_expiry(now_ns, chain.expiry_ns)
            vol = atm_iv(spot, chain, self.mids, t) or self.config.fallback_iv
            tilt = gex_tilt(spot, chain, self.open_interest, vol, t)
            self.strength = 0.0 if tilt is None else gex_strength(tilt, self.config.gex_tilt_threshold)
            self.log.info(f"GEX tilt {tilt}: strength {self.strength:.2f}")
        if self.strength < self.config.min_gex_strength:
            return None
        legs = chain.strangle(spot, self.config.call_offset_points, self.config.put_offset_points)
        return None if legs is None else EntryPlan(legs, self.sizing.size(self.strength))
