"""Seed 000's drawdown ladder and loss-streak guard: the arithmetic, in one place.

"Daily drawdown ladder: soft stop at 1.5% of NAV (size cut), hard stop at 2% (day locked). Loss-streak
guards: two consecutive losses halve size, three stop the day." The kernel's rules use these functions to
cut or refuse an entry; the stateful risk book uses the same functions to lock the day, so the thresholds
can never disagree between the two.
"""

from __future__ import annotations

import math
from enum import StrEnum

from odte_nautilus.risk.policy import Breakers, DrawdownLadder, LossStreak, StrategyLimits

# A size factor like 0.29 times 100 contracts is 28.999999999999996 in floating point; flooring that
# would cut one contract too many. The nudge is far below one contract and far above float noise.
_FLOAT_NUDGE = 1e-9


class LadderStage(StrEnum):
    NORMAL = "normal"
    SOFT_STOP = "soft_stop"  # size cut
    HARD_STOP = "hard_stop"  # day locked


class StreakStage(StrEnum):
    NORMAL = "normal"
    SIZE_CUT = "size_cut"  # two consecutive losses halve size
    STOP = "stop"  # three stop the day


def ladder_losses(nav: float, ladder: DrawdownLadder) -> tuple[float, float]:
    """The soft and hard stop as dollar losses (positive numbers) from start-of-day NAV."""
    return nav * ladder.soft_stop_pct / 100.0, nav * ladder.hard_stop_pct / 100.0


def ladder_stage(day_pnl: float, nav: float, ladder: DrawdownLadder) -> LadderStage:
    """Where the day's P&L sits on the ladder; reaching a stop exactly counts as reaching it.

    Fails closed: a NaN P&L (a missing mark) is at the hard stop, never a silently normal day.
    """
    soft, hard = ladder_losses(nav, ladder)
    if not day_pnl > -hard:
        return LadderStage.HARD_STOP
    if not day_pnl > -soft:
        return LadderStage.SOFT_STOP
    return LadderStage.NORMAL


def streak_stage(loss_streak: int, streak: LossStreak) -> StreakStage:
    """Where a run of consecutive losing trades sits: normal, size cut, or stop for the day."""
    if loss_streak >= streak.stop_after:
        return StreakStage.STOP
    if loss_streak >= streak.half_size_after:
        return StreakStage.SIZE_CUT
    return StreakStage.NORMAL


def whole_contracts(quantity: int, factor: float) -> int:
    """``quantity x factor`` floored to whole contracts: a size cut, or a cap of a multiple of base size.

    A cut that floors to 0 cannot be applied; the kernel then refuses rather than pass the full size.
    """
    return math.floor(quantity * factor + _FLOAT_NUDGE)


def loss_reached(pnl: float, limit: float) -> bool:
    """The day's P&L has reached a loss limit (a positive dollar amount). Fails closed: a NaN P&L (a missing
    mark) counts as reached, so the kernel refuses and the risk book locks on the same comparison."""
    return not pnl > -limit


def strategy_breaker_loss(breakers: Breakers, limits: StrategyLimits) -> float:
    """Seed 003: a strategy's breaker trips at this share of its max daily loss."""
    return breakers.strategy_loss_fraction * limits.max_daily_loss
