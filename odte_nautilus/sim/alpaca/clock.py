"""``GET /v2/clock``: the shared simulated clock (``sim.clock``) as Alpaca's wire shows it.

Alpaca's four fields, plus the session the simulator replays (its open, close and speed) under
``simulator``: the node may follow that session only when it runs against the simulator.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import cache

from odte_nautilus.risk.session import NEW_YORK, SessionWindow, TradingCalendar
from odte_nautilus.risk.time_units import NS_PER_SECOND
from odte_nautilus.sim.clock import SimClock


def clock_wire(clock: SimClock) -> dict:
    session, now = clock.session, clock.now_ns
    following = _next_session(session.trading_date)
    is_open = session.open_ns <= now < session.close_ns
    next_open = session.open_ns if now < session.open_ns else following.open_ns
    next_close = session.close_ns if now < session.close_ns else following.close_ns
    return {
        "timestamp": _ny(now),
        "is_open": is_open,
        "next_open": _ny(next_open),
        "next_close": _ny(next_close),
        "simulator": {
            "session_open": _ny(session.open_ns),
            "session_close": _ny(session.close_ns),
            "early_close": session.early_close,
            "speed": clock.speed,
        },
    }


@cache
def _next_session(day: date) -> SessionWindow:
    return TradingCalendar().sessions_from(day + timedelta(days=1), 1)[0]


def _ny(ts_ns: int) -> str:
    """New York time with its offset, as Alpaca's clock writes it."""
    return datetime.fromtimestamp(ts_ns / NS_PER_SECOND, tz=NEW_YORK).isoformat(timespec="microseconds")
