"""The trading session and its calendar: the one model of the trading day (design §9).

Seed 000 forces the EOD flatten at 15:45; on early-close days (the day after Thanksgiving, Christmas Eve,
July 3rd) the close is 13:00 and a hard-coded 15:45 would flatten two hours and three quarters after the
market shut, leaving 0DTE positions to settle unmanaged. A 0DTE series also expires at its session's close
(13:00 on an early close), so the synthetic generator, the importers and the schema checks need the same
times. So the open and the close come from one exchange calendar (``exchange_calendars``, calendar "XNYS"),
the flatten time is always close - N minutes, and the kernel, the node and the data package all take their
sessions (``SessionWindow``) from ``TradingCalendar``.

The trading day is keyed by the *New York* date: at 23:30 New York it is already the next day in UTC, and
keying the durable state by the UTC date would hand a locked day's successor the lock (or worse, reopen it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import pandas as pd

from odte_nautilus.risk.time_units import MINUTE_NS, NS_PER_SECOND

if TYPE_CHECKING:
    import exchange_calendars

NEW_YORK = ZoneInfo("America/New_York")
EXCHANGE_CALENDAR = "XNYS"


@dataclass(frozen=True, slots=True)
class SessionWindow:
    """One trading day's times (UTC ns). ``flatten_ns`` = close - 15 min (design §9)."""

    trading_date: date
    open_ns: int
    close_ns: int
    flatten_ns: int
    early_close: bool = False

    @property
    def seconds(self) -> int:
        """The session's length in whole seconds (23,400 on a regular day, 12,600 on an early close)."""
        return (self.close_ns - self.open_ns) // NS_PER_SECOND


class SessionCalendarError(ValueError):
    """A date the exchange calendar cannot answer for; guessing would risk a wrong flatten time."""


FIRST_SESSION = "2010-01-04"  # SPXW dailies start years later; older dates are refused


@cache
def exchange_calendar(name: str = EXCHANGE_CALENDAR) -> exchange_calendars.ExchangeCalendar:
    """Build each exchange calendar once per process (a few tenths of a second); every ``TradingCalendar`` shares it.

    The library itself is imported here, on first use: importing it costs most of a second.
    """
    import exchange_calendars

    return exchange_calendars.get_calendar(name, start=FIRST_SESSION)


def trading_date(ts_ns: int) -> date:
    """The exchange date in New York of a UTC nanosecond timestamp: the trading day's key everywhere
    (durable state, catalog sessions, a contract's expiry day)."""
    return datetime.fromtimestamp(ts_ns // NS_PER_SECOND, tz=NEW_YORK).date()


def ny_ns(day: date, hour: int, minute: int = 0) -> int:
    """UTC nanoseconds of a New York wall-clock time on ``day``."""
    return pd.Timestamp(day.year, day.month, day.day, hour, minute, tz=NEW_YORK).value


class TradingCalendar:
    """Session windows of one exchange; cheap to construct, the underlying calendar is shared and lazy."""

    def __init__(self, name: str = EXCHANGE_CALENDAR) -> None:
        self.name = name
        self._windows: dict[tuple[date, int], SessionWindow | None] = {}

    @property
    def _calendar(self) -> exchange_calendars.ExchangeCalendar:
        return exchange_calendar(self.name)

    trading_date = staticmethod(trading_date)

    def session_window(self, d: date, flatten_minutes: int = 15) -> SessionWindow | None:
        """Open, close and flatten (close - ``flatten_minutes``) of ``d``; ``None`` when ``d`` is no session.

        Holidays and weekends give ``None``: the kernel reads that as "not a trading day" and refuses entries.
        """
        key = (d, flatten_minutes)
        if key not in self._windows:
            self._windows[key] = self._build_window(d, flatten_minutes)
        return self._windows[key]

    def sessions_from(self, start: date, count: int) -> list[SessionWindow]:
        """``count`` consecutive sessions from the first session on or after ``start``."""
        if count < 1:
            raise ValueError(f"need at least one session, got {count}")
        calendar = self._calendar
        first = calendar.date_to_session(pd.Timestamp(start), direction="next")
        windows = (self.session_window(label.date()) for label in calendar.sessions_window(first, count))
        return [w for w in windows if w is not None]  # every label of sessions_window is a session

    def _build_window(self, d: date, flatten_minutes: int) -> SessionWindow | None:
        session = self._session_label(d)
        if session is None:
            return None
        calendar = self._calendar
        open_ns = calendar.session_open(session).value
        close_ns = calendar.session_close(session).value
        flatten_ns = close_ns - flatten_minutes * MINUTE_NS
        if not (flatten_minutes > 0 and flatten_ns > open_ns):
            raise SessionCalendarError(
                f"flatten_minutes={flatten_minutes} does not fit in the {d} session"
                f" ({(close_ns - open_ns) // MINUTE_NS} minutes long): use eod.flatten_minutes_before_close"
                " between 1 and the session length"
            )
        return SessionWindow(
            trading_date=d,
            open_ns=open_ns,
            close_ns=close_ns,
            flatten_ns=flatten_ns,
            early_close=session in calendar.early_closes,
        )

    def _session_label(self, d: date) -> pd.Timestamp | None:
        calendar = self._calendar
        label = pd.Timestamp(d)
        if not calendar.first_session <= label <= calendar.last_session:
            raise SessionCalendarError(
                f"{d} is outside the {self.name} calendar's range ({calendar.first_session:%Y-%m-%d}"
                f" .. {calendar.last_session:%Y-%m-%d}): upgrade exchange_calendars for later dates"
                " rather than guess the session"
            )
        return label if calendar.is_session(label) else None
