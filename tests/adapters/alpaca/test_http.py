"""The REST policy: under 200 requests in any minute, a 429 slows everyone down, a network error is retried
with the same request, and what the broker did not answer is never mistaken for an answer."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest
import requests
from alpaca.common.exceptions import APIError

from odte_nautilus.adapters.alpaca.http import AlpacaRest, BrokerUnavailable, TokenBucket, error_code


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def api_error(status: int, body: str = '{"code": 40410000, "message": "order not found"}') -> APIError:
    response = requests.Response()
    response.status_code = status
    return APIError(body, requests.HTTPError(response=response))


def test_the_bucket_never_allows_more_than_the_budget_in_any_minute():
    clock = FakeClock()
    bucket = TokenBucket(200, clock=clock)
    taken: list[float] = []
    while clock.now < 1000.0 + 180.0:  # three minutes of a caller that always wants more
        wait = bucket.delay()
        if wait == 0.0:
            taken.append(clock.now)
        else:
            clock.now += wait
    worst = max(sum(1 for t in taken if start <= t < start + 60.0) for start in taken)
    assert 190 <= worst <= 200


def test_a_429_pauses_the_bucket_for_everyone():
    clock = FakeClock()
    bucket = TokenBucket(200, clock=clock)
    bucket.slow_down(2.0)
    assert bucket.delay() == pytest.approx(2.0)
    clock.now += 2.0
    assert bucket.delay() > 0.0  # the burst was spent: it refills at the budget's pace


def rest(fn_results, max_retries=3):
    calls = []

    def fn(*args):
        calls.append(args)
        result = fn_results.pop(0)
        if isinstance(result, Exception):
            raise result
        return result

    messages: list[str] = []
    client = AlpacaRest(
        cast(Any, None),
        TokenBucket(200),
        max_retries=max_retries,
        retry_delay_secs=0.001,
        on_retry=messages.append,
    )
    return client, fn, calls, messages


def test_a_network_error_is_retried_with_the_same_request_then_reported_as_unavailable():
    client, fn, calls, messages = rest([requests.ConnectionError("reset")] * 2 + [{"id": "x"}])
    assert asyncio.run(client.call(fn, "same-request")) == {"id": "x"}
    assert calls == [("same-request",)] * 3 and len(messages) == 2
    client, fn, calls, _ = rest([requests.Timeout("slow")] * 4)
    with pytest.raises(BrokerUnavailable):
        asyncio.run(client.call(fn, "same-request"))
    assert len(calls) == 4  # one attempt and three retries


def test_a_429_storm_slows_down_and_resumes():
    client, fn, _, messages = rest([api_error(429, "rate limit exceeded")] * 3 + ["ok"])
    assert asyncio.run(client.call(fn)) == "ok"
    assert client.throttled == 3 and all("429" in m for m in messages)


def test_a_5xx_is_transient_and_a_404_is_an_answer():
    client, fn, _, _ = rest([api_error(503, "<html>unavailable</html>")] * 4)
    with pytest.raises(BrokerUnavailable):
        asyncio.run(client.call(fn))
    client, fn, calls, _ = rest([api_error(404)])
    with pytest.raises(APIError) as raised:
        asyncio.run(client.call(fn))
    assert raised.value.status_code == 404 and error_code(raised.value) == 40410000 and len(calls) == 1
    assert error_code(api_error(504, "<html>gateway</html>")) is None  # alpaca-py's .code would raise here
