"""Simulated time over one session, for every broker simulator: moved by hand (tests) or compressed.

Manual: time moves only when told (``advance_to``), so a test decides exactly which quotes the node has seen
when it acts. Compressed: ``speed`` replayed seconds per wall second (60 = a replayed minute per second), so
a whole day with its entries, stops, flatten and lock runs in minutes. Each simulator reports this time on
its own wire (Alpaca's ``GET /v2/clock``, TWS's ``currentTime``).
"""

from __future__ import annotations

import time

from odte_nautilus.risk.session import SessionWindow
from odte_nautilus.risk.time_units import NS_PER_SECOND


class SimClock:
    def __init__(self, session: SessionWindow, speed: float | None) -> None:
        if speed is not None and speed <= 0:
            raise ValueError(f"speed must be positive replayed seconds per wall second, got {speed}")
        self.session = session
        self.speed = speed
        self.now_ns = session.open_ns
        self._anchor: tuple[float, int] | None = None  # (wall monotonic seconds, simulated ns) when compressed

    def start(self) -> None:
        """Compressed mode: from now on, simulated time runs ``speed`` times the wall clock."""
        self._anchor = (time.monotonic(), self.now_ns)

    def target(self) -> int:
        """Where compressed time has got to by the wall clock (never past the close)."""
        if self._anchor is None or self.speed is None:
            return self.now_ns
        wall, simulated = self._anchor
        return min(simulated + int((time.monotonic() - wall) * self.speed * NS_PER_SECOND), self.session.close_ns)
