"""Time units: the one place that says how many nanoseconds a second, a minute and an hour hold.

Every timestamp in the project is an integer count of UTC nanoseconds (Nautilus's ``ts_event``/``ts_init``,
the risk state's ``now_ns``, a session's open and close), so durations are integers too. The pure core, the
data package, the strategies and the tests take their conversions from here rather than spelling out
``1_000_000_000`` or ``60_000_000_000`` again.
"""

from __future__ import annotations

NS_PER_MILLISECOND = 1_000_000
NS_PER_SECOND = 1_000_000_000
MINUTE_NS = 60 * NS_PER_SECOND
HOUR_NS = 60 * MINUTE_NS

SECONDS_PER_YEAR = 365.25 * 86_400
"""A Julian year of calendar seconds: time to expiry in years (seconds left / this) for the greeks the strategies
and the synthetic market price with (design §11)."""
