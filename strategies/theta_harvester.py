"""Theta Harvester: sell the at-the-money straddle, with long wings - never naked (design §6).

Thesis: 0DTE at-the-money premium decays fastest in the last hours, and the straddle is on average
priced above the move it pays for (a long ATM straddle held 10:00 -> 16:00 loses on about two days in
three). The harvester sells that straddle as an iron butterfly, sized 1-3 contracts from the IV
percentile (seed 003: rich premium, sell more), holds it to the EOD flatten unless its config gives it an
exit of its own (``risk/exits.py``: a take-profit on the credit, a stop in multiples of it or near a
breakeven, a time), and leaves everything else - the kernel, the exits, the EOD flatten - to the shared base.
"""

from __future__ import annotations

from typing import Any

import msgspec

from odte_nautilus.strategies.base import EntryPlan, OdteStrategy, OdteStrategyConfig
from odte_nautilus.strategies.signals import IvPercentile, atm_iv, years_to_expiry
from odte_nautilus.strategies.sizing import SizeLadder


class ThetaHarvesterConfig(OdteStrategyConfig, frozen=True):
    wing_points: float = 25.0
    iv_thresholds: tuple[float, ...] = (50.0, 80.0)  # IV percentile -> 1, 2, 3 contracts
    iv_sizes: tuple[int, ...] = (1, 2, 3)
    iv_window_days: int = 60
    iv_min_history: int = 5
    entry_start: str = "10:00"
    entry_end: str = "13:30"
    # Exits chosen by backtests/exit_selection.py (decision 0007): on the selection seeds, holding the fly to
    # the EOD flatten (its wings cap the loss) beat every take-profit and stop of its own that was tried.
    take_profit_partial_pct: float | None = None
    take_profit_full_pct: float | None = None
    exit: dict[str, Any] | None = msgspec.field(default_factory=lambda: {"kind": "hold"})


class ThetaHarvester(OdteStrategy):
    structure = "IRON_BUTTERFLY"

    def __init__(self, config: ThetaHarvesterConfig) -> None:
        super().__init__(config)
        self.sizing = SizeLadder(config.iv_thresholds, config.iv_sizes)
        self.iv_history = IvPercentile(window=config.iv_window_days, min_history=config.iv_min_history)

    def carry_over(self, earlier: OdteStrategy) -> None:
        if isinstance(earlier, ThetaHarvester):
            self.iv_history = earlier.iv_history  # the percentile reads the window of days before today

    def strike_reach_points(self) -> float:
        return self.config.wing_points  # the fly's shorts at the money, its wings this far out

    def entry_plan(self, now_ns: int) -> EntryPlan | None:
        spot, chain, day = self.spot, self.chain, self.day
        if spot is None or chain is None or day is None:  # the base plans only once all three are known
            return None
        legs = chain.iron_butterfly(spot, self.config.wing_points)
        if legs is None:
            return None
        iv = atm_iv(spot, chain, self.mids, years_to_expiry(now_ns, chain.expiry_ns))
        percentile = None if iv is None else self.iv_history.percentile(iv, day)
        if iv is not None:
            self.iv_history.observe(day, iv)  # it keeps the first reading of each day
        return EntryPlan(legs, self.sizing.size(percentile))
