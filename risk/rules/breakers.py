"""Seed 003's circuit breakers: global RISK-OFF, a strategy's breaker for the day, the position size cap."""

from __future__ import annotations

from odte_nautilus.risk.decision import Decision
from odte_nautilus.risk.decision import ReasonCode as Code
from odte_nautilus.risk.ladder import strategy_breaker_loss, whole_contracts
from odte_nautilus.risk.rules.context import CheckContext, applies_when, loss_refusal, named_refusal


def global_breaker(c: CheckContext) -> Decision | None:
    """Seed 003's daily loss circuit breaker: RISK-OFF, manual reset only."""
    if c.state.global_breaker:
        return Decision.refuse(
            Code.GLOBAL_BREAKER, "RISK-OFF: the global circuit breaker has tripped; manual reset required"
        )
    breakers = c.policy.breakers
    if breakers is None:
        return None
    sentence = "RISK-OFF: day P&L {pnl} reached the global loss breaker of -{limit}; manual reset required"
    return loss_refusal(Code.GLOBAL_BREAKER, c.facts.day_pnl, breakers.global_daily_loss, sentence)


def strategy_breaker(c: CheckContext) -> Decision | None:
    """Seed 003's per-strategy breaker: a loss of half the strategy's max daily loss stops it for the day."""
    sentence = "the circuit breaker of {strategy} has tripped for the day (auto-reset next day)"
    if c.state.strategy_breakers:  # (no call at all on the usual day without a tripped breaker)
        tripped = named_refusal(c, c.state.strategy_breakers, Code.STRATEGY_BREAKER, sentence)
        if tripped is not None:
            return tripped
    breakers, limits = c.policy.breakers, c.limits
    if breakers is None or limits is None:
        return None
    sentence = "{key} day P&L {pnl} reached its breaker of -{limit} ({fraction:.0%} of its max daily loss {most:,.0f})"
    return loss_refusal(
        Code.STRATEGY_BREAKER,
        c.facts.strategy_pnl,
        strategy_breaker_loss(breakers, limits),
        sentence,
        key=c.strategy_key,
        fraction=breakers.strategy_loss_fraction,
        most=limits.max_daily_loss,
    )


@applies_when(lambda policy: policy.breakers is not None and bool(policy.strategies))
def position_size_breaker(c: CheckContext) -> Decision | None:
    """Seed 003's position size breaker: a size above multiple x base is capped (and the cap logged)."""
    breakers, limits = c.policy.breakers, c.limits
    if breakers is None or limits is None:
        return None
    qty = c.quantity
    if qty <= limits.base_contracts:  # never above the cap: the multiple is > 1 (policy validation)
        return None
    cap = whole_contracts(limits.base_contracts, breakers.position_size_multiple)
    if qty <= cap:
        return None
    return Decision.allow(
        cap,
        Code.POSITION_SIZE_CAPPED,
        f"size {qty} > {breakers.position_size_multiple:g} x base {limits.base_contracts} contracts:"
        f" capped to {cap} (position size breaker)",
    )
