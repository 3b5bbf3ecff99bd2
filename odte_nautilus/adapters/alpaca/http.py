"""Every Alpaca REST call of the adapter: rate limited, off the event loop, retried by us and only by us.

alpaca-py's REST calls block, and its own retry sleeps 3 s in the calling thread on a 429 (up to ~9 s): on
the node's loop that would freeze every strategy. So each call runs in a worker thread, alpaca-py's retry is
switched off, and this module owns the policy (brokers.md A6):

- one token bucket per account, shared by the data and execution clients, keeps requests under Alpaca's
  200 a minute in *any* 60 s window (the burst is taken out of the refill rate);
- a 429 pauses the bucket with a growing backoff, so every caller slows down, none blocks the loop;
- a network error, a timeout or a 5xx is retried ``max_retries`` times with backoff, then raised as
  ``BrokerUnavailable`` - never as "not found", which callers would read as authoritative;
- any other 4xx is the broker's answer and is raised at once as ``APIError``.
"""

from __future__ import annotations

import asyncio
import functools
import json
import time
from collections.abc import Callable
from typing import Any

import requests
from alpaca.common.exceptions import APIError
from alpaca.data.historical.option import OptionHistoricalDataClient
from alpaca.trading.client import TradingClient

BURST = 10
MAX_THROTTLED = 8  # consecutive 429s before a call gives up (the bucket stays slowed for everyone)
MAX_BACKOFF_SECS = 30.0


class BrokerUnavailable(RuntimeError):
    """The broker did not answer (network, timeout, 5xx, throttled): nothing is known about the request."""


class TokenBucket:
    """An async token bucket: at most ``per_minute`` acquisitions in any 60 s window, never blocking the loop."""

    def __init__(self, per_minute: int, burst: int = BURST, clock: Callable[[], float] = time.monotonic) -> None:
        self.burst = max(1, min(burst, per_minute // 10))
        self.rate = (per_minute - self.burst) / 60.0
        self._clock = clock
        self._tokens = float(self.burst)
        self._stamp = clock()
        self._paused_until = 0.0

    def delay(self) -> float:
        """Seconds until a token can be taken (0.0: now); takes it when it is 0.0."""
        now = self._clock()
        if now < self._paused_until:
            return self._paused_until - now
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now
        if self._tokens >= 1.0 - 1e-9:  # float noise must not leave a caller waiting 1e-16 s forever
            self._tokens = max(0.0, self._tokens - 1.0)
            return 0.0
        return (1.0 - self._tokens) / self.rate

    def headroom(self) -> bool:
        """At least half the burst is free: background reads go only then, so orders never wait behind them."""
        now = self._clock()
        return now >= self._paused_until and self._tokens + (now - self._stamp) * self.rate >= self.burst / 2

    async def acquire(self) -> None:
        """Wait for a token. ``delay`` takes one atomically (no await between looking and taking), so no lock
        is needed, and none binds the bucket to one event loop."""
        while (wait := self.delay()) > 0.0:
            await asyncio.sleep(wait)

    def slow_down(self, seconds: float) -> None:
        """A 429: nobody sends for ``seconds``, and the burst is spent."""
        self._paused_until = max(self._paused_until, self._clock() + seconds)
        self._tokens = 0.0
        self._stamp = self._paused_until  # nothing refills while paused


def backoff(attempt: int, base: float) -> float:
    return min(MAX_BACKOFF_SECS, base * 2 ** (attempt - 1))


def error_code(error: APIError) -> int | None:
    """Alpaca's error code (``40410000``...), or None: alpaca-py's ``.code`` raises on a non-JSON body."""
    try:
        return int(json.loads(str(error))["code"])
    except (ValueError, KeyError, TypeError):
        return None


def error_text(error: APIError) -> str:
    try:
        return str(json.loads(str(error))["message"])
    except (ValueError, KeyError, TypeError):
        return str(error)[:200]


def failure_reason(error: APIError | BrokerUnavailable) -> str:
    """What a refused or unanswered request says, for a rejection's reason: Alpaca's code and text, or why
    the broker did not answer."""
    return f"{error_code(error)}: {error_text(error)}" if isinstance(error, APIError) else str(error)


def is_transient(error: APIError) -> bool:
    status = error.status_code
    return status is None or status == 429 or status >= 500


def trading_client(api_key: str, api_secret: str, base_url: str | None, timeout_secs: float) -> TradingClient:
    """alpaca-py's TradingClient on the paper host (or ``base_url``), raw JSON, without its blocking retry
    and with a request timeout (requests has none by default: a silent server would hold a thread forever)."""
    return _for_the_loop(
        TradingClient(api_key, api_secret, paper=True, raw_data=True, url_override=base_url), timeout_secs
    )


def option_data_client(
    api_key: str, api_secret: str, base_url: str | None, timeout_secs: float
) -> OptionHistoricalDataClient:
    """alpaca-py's option market-data REST client (Alpaca's data host, or ``base_url``), set up as above."""
    client = OptionHistoricalDataClient(api_key, api_secret, raw_data=True, url_override=base_url)
    return _for_the_loop(client, timeout_secs)


def _for_the_loop[Client: (TradingClient, OptionHistoricalDataClient)](client: Client, timeout_secs: float) -> Client:
    client._retry = 0
    session = client._session
    session.request = functools.partial(session.request, timeout=timeout_secs)  # type: ignore[method-assign]
    return client


class AlpacaRest[Client: (TradingClient, OptionHistoricalDataClient)]:
    """Runs alpaca-py calls under the shared bucket and the retry policy above."""

    def __init__(
        self,
        client: Client,
        bucket: TokenBucket,
        max_retries: int = 3,
        retry_delay_secs: float = 0.5,
        on_retry: Callable[[str], None] | None = None,
    ) -> None:
        self.client: Client = client
        self.bucket = bucket
        self.max_retries = max_retries
        self.retry_delay_secs = retry_delay_secs
        self._on_retry = on_retry or (lambda _: None)
        self.requests = 0
        self.throttled = 0

    async def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``fn(*args)`` in a worker thread under the policy above; its raw JSON (the client has ``raw_data``)."""
        failures = throttled = 0
        while True:
            await self.bucket.acquire()
            self.requests += 1
            try:
                return await asyncio.to_thread(fn, *args, **kwargs)
            except APIError as exc:
                if exc.status_code == 429:
                    throttled += 1
                    self.throttled += 1
                    wait = backoff(throttled, self.retry_delay_secs)
                    self.bucket.slow_down(wait)
                    self._on_retry(f"throttled (429) on {fn.__name__}, slowing down {wait:.2f}s")
                    if throttled > MAX_THROTTLED:
                        raise BrokerUnavailable(f"{fn.__name__}: throttled {throttled} times") from exc
                    continue
                if not is_transient(exc):
                    raise
                failure: Exception = exc
            except (requests.ConnectionError, requests.Timeout) as exc:
                failure = exc
            failures += 1
            if failures > self.max_retries:
                raise BrokerUnavailable(f"{fn.__name__}: {failure}") from failure
            wait = backoff(failures, self.retry_delay_secs)
            self._on_retry(f"{fn.__name__} failed ({failure}), retry {failures}/{self.max_retries} in {wait:.2f}s")
            await asyncio.sleep(wait)
