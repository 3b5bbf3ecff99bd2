"""Simulated time over one session: moved by hand (tests) or compressed against the wall clock.

Manual: time moves only when told (``advance_to``), so a test decides exactly which quotes the node has seen
when it acts. Compressed: ``speed`` replayed seconds per wall second (60 = a replayed minute per second), so
a whole day with its entries, stops, flatten and lock runs in minutes. Either way ``GET /v2/clock``
reports the simulated time, and declares the session it replays (its open, close and speed) under
``simulator``: the node may follow that session only when it runs against the simulator.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta

from odte_nautilus.risk.session import NEW_YORK, SessionWindow, TradingCalendar
from odte_nautilus.risk.time_units import NS_PER_SECOND


class SimClock:
    def __init__(self, session: SessionWindow, speed: float | None) -> None:
        if speed is not None and speed <= 0:
            raise ValueError(f"speed must be positive replayed seconds per wall second, got {speed}")
        self.session = session
        self.speed = speed
        self.now_ns = session.open_ns
        self._anchor: tuple[float, int] | None = None  # (wall monotonic seconds, simulated ns) when compressed
        self._next_session = TradingCalendar().sessions_from(session.trading_date + timedelta(days=1), 1)[0]

    def start(self) -> None:
        """Compressed mode: from now on, simulated time runs ``speed`` times the wall clock."""
        self._anchor = (time.monotonic(), self.now_ns)

    def target(self) -> int:
        """Where compressed time has got to by the wall clock (never past the close)."""
        if self._anchor is None or self.speed is None:
            return self.now_ns
        wall, simulated = self._anchor
        return min(simulated + int((time.monotonic() - wall) * self.speed * NS_PER_SECOND), self.session.close_ns)

    def wire(self) -> dict:
        """``GET /v2/clock``: Alpaca's four fields plus the simulator's declared session."""
        session, now = self.session, self.now_ns
        is_open = session.open_ns <= now < session.close_ns
        next_open = session.open_ns if now < session.open_ns else self._next_session.open_ns
        next_close = session.close_ns if now < session.close_ns else self._next_session.close_ns
        return {
            "timestamp": _ny(now),
            "is_open": is_open,
            "next_open": _ny(next_open),
            "next_close": _ny(next_close),
            "simulator": {
                "session_open": _ny(session.open_ns),
                "session_close": _ny(session.close_ns),
                "early_close": session.early_close,
                "speed": self.speed,
            },
        }


def _ny(ts_ns: int) -> str:
    """New York time with its offset, as Alpaca's clock writes it."""
    return datetime.fromtimestamp(ts_ns / NS_PER_SECOND, tz=NEW_YORK).isoformat(timespec="microseconds")
