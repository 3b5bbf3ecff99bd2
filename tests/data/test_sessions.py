"""Sessions come from the XNYS calendar: early closes move the 0DTE expiry to 13:00 New York."""

from datetime import date

from odte_nautilus.data.underlyings import SPX
from odte_nautilus.risk.session import TradingCalendar, ny_ns

CALENDAR = TradingCalendar()


def test_early_close_session_ends_at_one():
    session = CALENDAR.session_window(date(2024, 7, 3))
    assert session is not None
    assert session.close_ns == ny_ns(date(2024, 7, 3), 13, 0)
    assert session.early_close and session.seconds == 3.5 * 3600


def test_holidays_are_skipped():
    days = [s.trading_date for s in CALENDAR.sessions_from(date(2024, 7, 3), 2)]
    assert days == [date(2024, 7, 3), date(2024, 7, 5)]
    assert CALENDAR.session_window(date(2024, 7, 4)) is None


def test_expiration_rule_per_root():
    """PM-settled SPXW expires at the session close; AM-settled SPX monthlies at the 09:30 opening print."""
    assert SPX.expiration_ns("SPXW", date(2024, 7, 3)) == ny_ns(date(2024, 7, 3), 13, 0)
    assert SPX.expiration_ns("SPXW", date(2024, 7, 22)) == ny_ns(date(2024, 7, 22), 16, 0)
    assert SPX.expiration_ns("SPX", date(2024, 7, 19)) == ny_ns(date(2024, 7, 19), 9, 30)
