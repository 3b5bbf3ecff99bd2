"""Trading sessions from the XNYS exchange calendar: open, close, and early closes.

A 0DTE series expires at its session's close — 16:00 New York time, or 13:00 on an early-close day
(design §9; reference "Early-close (half) days") — so the generator, the importers and the
schema checks all take session times from here, never from a hard-coded 16:00.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from odte_nautilus.risk.time_units import NS_PER_SECOND

if TYPE_CHECKING:
    from exchange_calendars import ExchangeCalendar

NY = ZoneInfo("America/New_York")
CALENDAR = "XNYS"


@dataclass(frozen=True, slots=True)
class Session:
    day: date
    open_ns: int
    close_ns: int

    @property
    def seconds(self) -> int:
        return (self.close_ns - self.open_ns) // NS_PER_SECOND

    @property
    def early_close(self) -> bool:
        return self.seconds < 6.5 * 3600

    def contains(self, ts_ns: np.ndarray) -> np.ndarray:
        """True where a timestamp lies in [open, close] (a quote stamped at the close is in the session)."""
        return (ts_ns >= self.open_ns) & (ts_ns <= self.close_ns)

    def ny(self, ts_ns: int) -> str:
        return pd.Timestamp(ts_ns, tz="UTC").tz_convert(NY).strftime("%Y-%m-%d %H:%M:%S")


def _calendar() -> ExchangeCalendar:
    from odte_nautilus.risk.session import exchange_calendar  # one calendar per process, shared with the kernel

    return exchange_calendar(CALENDAR)


def _session(label: pd.Timestamp) -> Session:
    cal = _calendar()
    return Session(
        day=label.date(),
        open_ns=cal.session_open(label).value,
        close_ns=cal.session_close(label).value,
    )


def session_on(day: date) -> Session | None:
    """The session on ``day``, or None when the exchange is closed."""
    label = pd.Timestamp(day)
    return _session(label) if _calendar().is_session(label) else None


def trading_sessions(start: date, count: int) -> list[Session]:
    """``count`` consecutive sessions from the first session on or after ``start``."""
    if count < 1:
        raise ValueError(f"need at least one session, got {count}")
    cal = _calendar()
    first = cal.date_to_session(pd.Timestamp(start), direction="next")
    return [_session(label) for label in cal.sessions_window(first, count)]


def ny_ns(day: date, hour: int, minute: int = 0) -> int:
    """UTC nanoseconds of a New York wall-clock time on ``day``."""
    return pd.Timestamp(day.year, day.month, day.day, hour, minute, tz=NY).value
