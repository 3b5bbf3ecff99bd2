"""Alpaca's per-minute request budget on the trading API, with its headers and its 429.

Alpaca allows 200 trading requests a minute per account, paper as live, and says where a client stands in
``X-Ratelimit-Limit``, ``X-Ratelimit-Remaining`` and ``X-Ratelimit-Reset`` (epoch seconds). The budget is
counted in wall-clock minutes, whatever the replay speed: a client's requests take real time.
"""

from __future__ import annotations

import math
import time

WINDOW_SECONDS = 60.0


class RateLimiter:
    def __init__(self, per_minute: int) -> None:
        if per_minute < 1:
            raise ValueError(f"the rate limit must allow at least one request a minute, got {per_minute}")
        self.per_minute = per_minute
        self._window_start = time.time()
        self._used = 0

    def take(self) -> tuple[bool, dict[str, str]]:
        """Spend one request if the budget allows: (allowed, the X-Ratelimit-* headers)."""
        now = time.time()
        if now - self._window_start >= WINDOW_SECONDS:
            self._window_start, self._used = now, 0
        allowed = self._used < self.per_minute
        self._used += allowed
        return allowed, self.headers()

    def headers(self) -> dict[str, str]:
        return {
            "X-Ratelimit-Limit": str(self.per_minute),
            "X-Ratelimit-Remaining": str(self.per_minute - self._used),
            "X-Ratelimit-Reset": str(math.ceil(self._window_start + WINDOW_SECONDS)),
        }
