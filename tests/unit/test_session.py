"""The trading day from the XNYS calendar: flatten at close - 15 min, early closes, holidays, DST."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from odte_nautilus.risk.session import NEW_YORK, SessionCalendarError, SessionWindow, TradingCalendar
from odte_nautilus.risk.time_units import NS_PER_SECOND
from tests.kit import ny_ns

CALENDAR = TradingCalendar()


def ny_time(ts_ns: int) -> tuple[int, int]:
    wall = datetime.fromtimestamp(ts_ns / NS_PER_SECOND, tz=NEW_YORK)
    return wall.hour, wall.minute


def utc_time(ts_ns: int) -> tuple[int, int]:
    wall = datetime.fromtimestamp(ts_ns / NS_PER_SECOND, tz=UTC)
    return wall.hour, wall.minute


def test_a_normal_day_opens_0930_closes_1600_and_flattens_1545():
    d = date(2024, 3, 15)
    window = CALENDAR.session_window(d)
    assert isinstance(window, SessionWindow)
    assert window.trading_date == d
    assert (window.open_ns, window.close_ns, window.flatten_ns) == (ny_ns(9, 30), ny_ns(16, 0), ny_ns(15, 45))
    assert window.early_close is False


@pytest.mark.parametrize(
    "d",
    [date(2024, 11, 29), date(2024, 7, 3), date(2024, 12, 24)],
    ids=["day-after-thanksgiving", "july-3rd", "christmas-eve"],
)
def test_early_close_days_flatten_at_1245(d):
    window = CALENDAR.session_window(d)
    assert window is not None
    assert ny_time(window.close_ns) == (13, 0)
    assert ny_time(window.flatten_ns) == (12, 45)
    assert window.early_close is True


@pytest.mark.parametrize(
    "d",
    [date(2024, 11, 28), date(2024, 12, 25), date(2024, 7, 4), date(2024, 3, 16), date(2024, 3, 17)],
    ids=["thanksgiving", "christmas", "independence-day", "saturday", "sunday"],
)
def test_holidays_and_weekends_have_no_session(d):
    assert CALENDAR.session_window(d) is None


@pytest.mark.parametrize(
    "before, after, utc_close_before, utc_close_after",
    [
        (date(2024, 3, 8), date(2024, 3, 11), (21, 0), (20, 0)),  # EST -> EDT on 2024-03-10
        (date(2024, 11, 1), date(2024, 11, 4), (20, 0), (21, 0)),  # EDT -> EST on 2024-11-03
    ],
    ids=["march", "november"],
)
def test_dst_moves_utc_times_but_not_the_new_york_flatten(before, after, utc_close_before, utc_close_after):
    first, second = CALENDAR.session_window(before), CALENDAR.session_window(after)
    assert first is not None and second is not None
    assert utc_time(first.close_ns) == utc_close_before
    assert utc_time(second.close_ns) == utc_close_after
    assert ny_time(first.flatten_ns) == ny_time(second.flatten_ns) == (15, 45)
    assert ny_time(first.open_ns) == ny_time(second.open_ns) == (9, 30)


def test_flatten_minutes_come_from_the_policy():
    window = CALENDAR.session_window(date(2024, 3, 15), flatten_minutes=30)
    default = CALENDAR.session_window(date(2024, 3, 15))
    assert window is not None and default is not None
    assert window.flatten_ns == ny_ns(15, 30)
    assert default.flatten_ns == ny_ns(15, 45)


@pytest.mark.parametrize("minutes", [0, -5, 391])
def test_a_flatten_outside_the_session_is_refused(minutes):
    with pytest.raises(SessionCalendarError, match="flatten_minutes"):
        CALENDAR.session_window(date(2024, 3, 15), flatten_minutes=minutes)


def test_trading_date_is_the_new_york_date_late_in_the_evening():
    late = ny_ns(23, 30, day=date(2024, 3, 15))
    assert datetime.fromtimestamp(late / NS_PER_SECOND, tz=UTC).date() == date(2024, 3, 16)
    assert CALENDAR.trading_date(late) == date(2024, 3, 15)


def test_trading_date_just_after_midnight_new_york_is_the_new_day():
    assert CALENDAR.trading_date(ny_ns(0, 0, day=date(2024, 11, 4))) == date(2024, 11, 4)
    assert CALENDAR.trading_date(ny_ns(0, 0, day=date(2024, 11, 4)) - 1) == date(2024, 11, 3)


def test_a_date_beyond_the_calendar_is_refused_not_guessed():
    with pytest.raises(SessionCalendarError, match="outside the XNYS calendar"):
        CALENDAR.session_window(date(2099, 1, 5))


def test_calendars_share_one_exchange_calendar_and_cache_windows():
    d = date(2024, 3, 15)
    other = TradingCalendar()
    assert other._calendar is CALENDAR._calendar
    assert other.session_window(d) is other.session_window(d)
