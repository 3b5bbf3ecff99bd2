"""Seed 003's limits and seed 000's trade cap: sizes, open packages, open risk, entry rates, trades a day.

An open risk exactly *at* its limit is allowed ("open risk <= limit"); it is written ``not risk <= limit``
(over, or NaN), never ``risk > limit``, which a NaN passes.
"""

from __future__ import annotations

from odte_nautilus.risk.decision import Decision
from odte_nautilus.risk.decision import ReasonCode as Code
from odte_nautilus.risk.rate_limits import entries_within
from odte_nautilus.risk.rules.context import (
    CheckContext,
    applies_when,
    has_global_limits,
    has_rate_limits,
    has_strategies,
    usd,
)
from odte_nautilus.risk.time_units import HOUR_NS, MINUTE_NS


@applies_when(lambda policy: policy.max_trades_per_day is not None)
def max_trades_per_day(c: CheckContext) -> Decision | None:
    """Seed 000: max_trades_per_day capped low (2-5)."""
    cap = c.policy.max_trades_per_day
    if cap is not None and c.state.trades_today >= cap:
        return Decision.refuse(
            Code.MAX_TRADES_PER_DAY, f"{c.state.trades_today} trades today reached max_trades_per_day {cap}"
        )
    return None


@applies_when(has_strategies)
def size_range(c: CheckContext) -> Decision | None:
    """Seed 003's position size range (theta 1-3, gamma 1-2): below the minimum is refused, above is capped.

    Above the maximum is a cap (POSITION_SIZE_CAPPED), like the size breaker: the smaller order is the safe one.
    """
    qty, limits = c.quantity, c.limits
    if limits is None:
        return None
    if qty < limits.min_contracts:
        return Decision.refuse(
            Code.SIZE_OUT_OF_RANGE, f"size {qty} is below the minimum of {limits.min_contracts} for {c.strategy_key}"
        )
    if qty > limits.max_contracts:
        return Decision.allow(
            limits.max_contracts,
            Code.POSITION_SIZE_CAPPED,
            f"size {qty} > max {limits.max_contracts} contracts for {c.strategy_key}: capped to {limits.max_contracts}",
        )
    return None


@applies_when(has_strategies)
def max_open_packages_per_symbol(c: CheckContext) -> Decision | None:
    """Seed 003: max open packages per strategy and symbol (theta 3, gamma 2)."""
    if c.limits is None:
        return None
    held, cap = len(c.facts.book), c.limits.max_open_packages_per_symbol
    if held + 1 <= cap:
        return None
    whose = f" of {c.strategy_key} on {c.intent.symbol}"
    return _packages_over(held, cap, Code.MAX_OPEN_PACKAGES_PER_SYMBOL, whose, "per symbol")


@applies_when(has_global_limits)
def max_open_packages_total(c: CheckContext) -> Decision | None:
    """Seed 003: max open packages across all strategies and symbols."""
    if c.policy.global_limits is None:
        return None
    held, cap = len(c.facts.live), c.policy.global_limits.max_open_packages
    if held + 1 <= cap:
        return None
    return _packages_over(held, cap, Code.MAX_OPEN_PACKAGES_TOTAL, "", "in total")


def _packages_over(held: int, cap: int, code: Code, whose: str, scope: str) -> Decision:
    return Decision.refuse(code, f"{held} open packages{whose} + this one > {cap} {scope}")


@applies_when(has_strategies)
def max_open_risk_per_symbol(c: CheckContext) -> Decision | None:
    """Seed 003: max open risk (maximum loss) per strategy and symbol; exactly at the limit is allowed."""
    if c.limits is None:
        return None
    held, cap = c.facts.book_risk, c.limits.max_open_risk_per_symbol
    if held + c.open_risk <= cap:
        return None  # within, and not NaN
    scope = f"per symbol for {c.strategy_key} on {c.intent.symbol}"
    return _risk_over(c, held, cap, Code.MAX_OPEN_RISK_PER_SYMBOL, scope)


@applies_when(has_global_limits)
def max_open_risk_total(c: CheckContext) -> Decision | None:
    """Seed 003: max open risk across all strategies; exactly at the limit is allowed."""
    if c.policy.global_limits is None:
        return None
    held, cap = c.facts.live_risk, c.policy.global_limits.max_open_risk
    if held + c.open_risk <= cap:
        return None  # within, and not NaN
    return _risk_over(c, held, cap, Code.MAX_OPEN_RISK_TOTAL, "in total")


def _risk_over(c: CheckContext, held: float, cap: float, code: Code, scope: str) -> Decision:
    """Over the cap, or NaN (written as a pass of ``<=``, never as ``>``, which a NaN passes)."""
    total = held + c.open_risk
    return Decision.refuse(
        code, f"open risk {usd(total)} > {usd(cap)} {scope} ({usd(held)} held + {usd(c.open_risk)} for this package)"
    )


@applies_when(has_rate_limits)
def rate_limit_strategy(c: CheckContext) -> Decision | None:
    """Seed 003: no more than N new packages per minute per strategy."""
    if c.policy.rate_limits is None:
        return None
    sid = c.intent.strategy_id
    recent = entries_within(c.state.entry_times_ns.get(sid, ()), c.state.now_ns, MINUTE_NS)
    cap = c.policy.rate_limits.packages_per_minute_per_strategy
    if recent < cap:
        return None
    return _rate_over(recent, cap, Code.RATE_LIMIT_STRATEGY, f"of {sid} in the last 60 s", "a minute")


@applies_when(has_rate_limits)
def rate_limit_total(c: CheckContext) -> Decision | None:
    """Seed 003: no more than M new packages per hour in total."""
    if c.policy.rate_limits is None:
        return None
    recent = entries_within(c.index.entry_times, c.state.now_ns, HOUR_NS)
    cap = c.policy.rate_limits.packages_per_hour_total
    if recent < cap:
        return None
    return _rate_over(recent, cap, Code.RATE_LIMIT_TOTAL, "in the last hour", "an hour in total")


def _rate_over(recent: int, cap: int, code: Code, window: str, per: str) -> Decision:
    return Decision.refuse(code, f"{recent} entries {window} reached the limit of {cap} {per}")
