"""Gamma Scalper: buy an out-of-the-money strangle when dealers are short gamma.

Thesis: when dealer gamma exposure (GEX, from the chain's open interest and gamma) is negative enough,
dealers' hedging amplifies moves, and a cheap 0DTE strangle pays for a move the market is primed to
make. Size 1-2 contracts from the signal's strength (seed 003); exit by the profit target, the
four-dimensional stop (no progress and IV crush matter most for a long-premium package) or the EOD
flatten - all in the shared base.
"""

from __future__ import annotations

from datetime import date

from odte_nautilus.strategies.base import EntryPlan, OdteStrategy, OdteStrategyConfig
from odte_nautilus.strategies.signals import atm_iv, gamma_exposure, gex_strength, years_to_expiry
from odte_nautilus.strategies.sizing import SizeLadder


class GammaScalperConfig(OdteStrategyConfig, frozen=True):
    call_offset_points: float = 15.0
    put_offset_points: float = 15.0
    gex_threshold: float = 1.0e9  # dollars of dealer gamma per 1 % move: one "unit" of strength
    min_gex_strength: float = 1.0  # enter only when GEX <= -min_strength x threshold
    strength_thresholds: tuple[float, ...] = (2.0,)  # strength -> 1, 2 contracts
    strength_sizes: tuple[int, ...] = (1, 2)
    fallback_iv: float = 0.15  # vol for the gammas when the ATM IV cannot be read
    entry_start: str = "10:00"
    entry_end: str = "14:00"
    take_profit_full_pct: float | None = 60.0


class GammaScalper(OdteStrategy):
    structure = "STRANGLE"

    def __init__(self, config: GammaScalperConfig) -> None:
        super().__init__(config)
        self.sizing = SizeLadder(config.strength_thresholds, config.strength_sizes)
        self.open_interest: dict[str, int] = {}

    def on_session_start(self, day: date) -> None:
        self.open_interest = self.runtime.open_interest(day)

    def entry_plan(self, now_ns: int) -> EntryPlan | None:
        spot, chain = self.spot, self.chain
        if spot is None or chain is None or not self.open_interest:  # the base plans only once both are known
            return None
        t = years_to_expiry(now_ns, chain.expiry_ns)
        vol = atm_iv(spot, chain, self.mids, t) or self.config.fallback_iv
        gex = gamma_exposure(spot, chain, self.open_interest, vol, t)
        strength = gex_strength(gex, self.config.gex_threshold)
        if strength < self.config.min_gex_strength:
            return None
        legs = chain.strangle(spot, self.config.call_offset_points, self.config.put_offset_points)
        return None if legs is None else EntryPlan(legs, self.sizing.size(strength))
