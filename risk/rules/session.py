"""The gates of time and switches: the session, the EOD window, the day lock, the kill switch, a
strategy's own off switch. None depends on the order's size; each refuses entries only."""

from __future__ import annotations

from odte_nautilus.risk.decision import Decision
from odte_nautilus.risk.decision import ReasonCode as Code
from odte_nautilus.risk.rules.context import CheckContext, named_refusal, ny_clock


def outside_session(c: CheckContext) -> Decision | None:
    """Entries only inside the exchange session of a trading day."""
    session, now = c.state.session, c.state.now_ns
    if session is None:
        return Decision.refuse(Code.OUTSIDE_SESSION, "no trading session today: not a trading day")
    if session.open_ns <= now < session.close_ns:
        return None
    hours = f"{ny_clock(session.open_ns)}-{ny_clock(session.close_ns)}"
    return Decision.refuse(
        Code.OUTSIDE_SESSION, f"{ny_clock(now)} New York is outside the {session.trading_date} session {hours}"
    )


def eod_flatten_window(c: CheckContext) -> Decision | None:
    """design §9: from the EOD flatten (close - 15 min) on, nothing new opens."""
    session, now = c.state.session, c.state.now_ns
    if session is not None and now >= session.flatten_ns:
        return Decision.refuse(
            Code.EOD_FLATTEN_WINDOW,
            f"{ny_clock(now)} New York is at or past the EOD flatten at {ny_clock(session.flatten_ns)}:"
            " no new entries until the next session",
        )
    return None


def day_locked(c: CheckContext) -> Decision | None:
    """Seed 000: a locked day (hard stop, streak stop, EOD flatten) cannot quietly reopen."""
    if c.state.day_locked:
        why = c.state.lock_reason or "no reason recorded"
        return Decision.refuse(
            Code.DAY_LOCKED, f"the trading day is locked ({why}): no new entries until the next session"
        )
    return None


def kill_switch(c: CheckContext) -> Decision | None:
    """Seed 003's emergency stop: immediately stops all new entries; exits stay allowed."""
    if c.state.kill_switch:
        return Decision.refuse(Code.KILL_SWITCH, "the kill switch is on: no new entries until a manual reset")
    return None


def strategy_disabled(c: CheckContext) -> Decision | None:
    """Seed 003's kill switch per strategy: 'turn strategy off'."""
    sentence = "strategy {strategy} is disabled: enable it to trade (authorized action)"
    return named_refusal(c, c.state.disabled_strategies, Code.STRATEGY_DISABLED, sentence)
