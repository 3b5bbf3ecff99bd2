"""Daily losses: seed 000's drawdown ladder and loss streak, seed 003's dollar limits.

A loss *reaching* a limit fires it ("daily loss < max daily loss" is the seed's pre-entry check). The
comparison fails closed: a NaN P&L (a missing mark) refuses rather than blinding every loss rule. Losses go
through ``ladder.loss_reached``, shared with the risk book, which locks on the same comparison.
``HARD_STOP`` is seed 000's ladder (% of NAV); ``GLOBAL_DAILY_LOSS`` is seed 003's dollar limit.
"""

from __future__ import annotations

from odte_nautilus.risk.decision import Decision
from odte_nautilus.risk.decision import ReasonCode as Code
from odte_nautilus.risk.ladder import (
    LadderStage,
    StreakStage,
    ladder_losses,
    ladder_stage,
    streak_stage,
    whole_contracts,
)
from odte_nautilus.risk.rules.context import (
    CheckContext,
    applies_when,
    has_global_limits,
    has_ladder,
    has_loss_streak,
    has_strategies,
    loss_refusal,
    usd,
)


@applies_when(has_ladder)
def ladder_hard_stop(c: CheckContext) -> Decision | None:
    """Seed 000's drawdown ladder: a loss of hard_stop_pct of NAV locks the day."""
    ladder = c.policy.drawdown_ladder
    if ladder is None or ladder_stage(c.facts.day_pnl, c.state.nav, ladder) is not LadderStage.HARD_STOP:
        return None
    _, hard = ladder_losses(c.state.nav, ladder)
    return Decision.refuse(
        Code.HARD_STOP,
        f"day P&L {usd(c.facts.day_pnl)} reached the hard stop of -{usd(hard)}"
        f" ({ladder.hard_stop_pct:g}% of NAV {usd(c.state.nav)}): the day is locked",
    )


@applies_when(has_global_limits)
def global_daily_loss(c: CheckContext) -> Decision | None:
    """Seed 003's hard stop: disable all new entries once the day's loss reaches the global limit."""
    limits = c.policy.global_limits
    if limits is None:
        return None
    sentence = "day P&L {pnl} reached the global max daily loss of -{limit}: no new entries today"
    return loss_refusal(Code.GLOBAL_DAILY_LOSS, c.facts.day_pnl, limits.max_daily_loss, sentence)


@applies_when(has_strategies)
def strategy_daily_loss(c: CheckContext) -> Decision | None:
    """Seed 003's per-strategy max daily loss."""
    if c.limits is None:
        return None
    sentence = "{key} day P&L {pnl} reached its max daily loss of -{limit}"
    return loss_refusal(
        Code.STRATEGY_DAILY_LOSS, c.facts.strategy_pnl, c.limits.max_daily_loss, sentence, key=c.strategy_key
    )


@applies_when(has_loss_streak)
def loss_streak_stop(c: CheckContext) -> Decision | None:
    """Seed 000: three consecutive losses stop the day."""
    streak = c.policy.loss_streak
    if streak is not None and streak_stage(c.state.loss_streak, streak) is StreakStage.STOP:
        return Decision.refuse(
            Code.LOSS_STREAK_STOP,
            f"{c.state.loss_streak} consecutive losses reached the streak stop of {streak.stop_after}: the day is over",
        )
    return None


def _cut(c: CheckContext, code: Code, factor: float, why: str) -> Decision:
    """A size cut, or its refusal when it floors to zero: never pass full size when a cut cannot apply."""
    qty = c.quantity
    new = whole_contracts(qty, factor)
    if new < 1:
        return Decision.refuse(code, f"{why}: size {qty} x {factor:g} floors to 0 contracts")
    return Decision.allow(new, code, f"{why}: size {qty} cut to {new} (x {factor:g})")


@applies_when(has_loss_streak)
def loss_streak_size_cut(c: CheckContext) -> Decision | None:
    """Seed 000: two consecutive losses halve size."""
    streak = c.policy.loss_streak
    if streak is None or streak_stage(c.state.loss_streak, streak) is StreakStage.NORMAL:
        return None
    return _cut(c, Code.LOSS_STREAK_SIZE_CUT, streak.size_factor, f"{c.state.loss_streak} consecutive losses")


@applies_when(has_ladder)
def soft_stop_size_cut(c: CheckContext) -> Decision | None:
    """Seed 000's drawdown ladder: a loss of soft_stop_pct of NAV cuts size."""
    ladder = c.policy.drawdown_ladder
    if ladder is None or ladder_stage(c.facts.day_pnl, c.state.nav, ladder) is LadderStage.NORMAL:
        return None
    soft, _ = ladder_losses(c.state.nav, ladder)
    why = f"day P&L {usd(c.facts.day_pnl)} reached the soft stop of -{usd(soft)} ({ladder.soft_stop_pct:g}% of NAV)"
    return _cut(c, Code.SOFT_STOP_SIZE_CUT, ladder.soft_stop_size_factor, why)
