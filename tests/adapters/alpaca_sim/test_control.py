"""The simulator's own control API (``/sim/v1``, not Alpaca's): its clock read and moved from another process,
which is how a node drives a simulator that outlives it (``odte_nautilus.live.remote_session``)."""

import httpx
import pytest

from odte_nautilus.live.remote_session import RemoteSession, RemoteSessionError
from odte_nautilus.risk.time_units import MINUTE_NS
from odte_nautilus.sim.alpaca import AlpacaSimulator
from tests.adapters.alpaca_sim.kit import KEY, SECRET, trading

HEADERS = {"APCA-API-KEY-ID": KEY, "APCA-API-SECRET-KEY": SECRET}


def test_the_clock_route_says_where_the_session_stands(sim):
    clock = httpx.get(f"{sim.rest_url}/sim/v1/clock", headers=HEADERS).json()
    assert clock["now_ns"] == clock["open_ns"] == sim.session_open_ns
    assert clock["close_ns"] == sim.session_close_ns
    assert clock["finished"] is False and clock["manual"] is True and clock["underlying"] == "SPY"


def test_advance_replays_the_minutes_and_answers_once_they_are_replayed(sim):
    to = sim.session_open_ns + 3 * MINUTE_NS
    answer = httpx.post(f"{sim.rest_url}/sim/v1/advance", json={"to_ns": to}, headers=HEADERS)
    assert answer.status_code == 200 and answer.json()["now_ns"] == to == sim.now_ns
    assert sim.market.last_bar is not None and sim.market.last_bar.ts == to
    back = httpx.post(f"{sim.rest_url}/sim/v1/advance", json={"to_ns": to - MINUTE_NS}, headers=HEADERS)
    assert back.json()["now_ns"] == to, "time never goes back: an advance asked again is harmless"
    end = httpx.post(f"{sim.rest_url}/sim/v1/advance", json={"to_ns": sim.session_close_ns * 2}, headers=HEADERS)
    assert end.json()["finished"] is True and end.json()["now_ns"] == sim.session_close_ns


@pytest.mark.parametrize("body", [{}, {"to_ns": "soon"}, {"to_ns": -1}, {"to_ns": True}, []])
def test_a_malformed_advance_is_refused_and_moves_nothing(sim, body):
    answer = httpx.post(f"{sim.rest_url}/sim/v1/advance", json=body, headers=HEADERS)
    assert answer.status_code == 400 and answer.json()["code"] == 40010001
    assert sim.now_ns == sim.session_open_ns


def test_the_control_api_takes_the_keys_and_no_alpaca_budget(sim):
    assert httpx.get(f"{sim.rest_url}/sim/v1/clock").status_code == 401
    answers = [httpx.get(f"{sim.rest_url}/sim/v1/clock", headers=HEADERS) for _ in range(5)]
    assert all("X-RateLimit-Remaining" not in answer.headers for answer in answers)
    assert "X-RateLimit-Remaining" in httpx.get(f"{sim.rest_url}/v2/clock", headers=HEADERS).headers
    assert trading(sim).get_clock() is not None  # Alpaca's own clock is still served, apart


def test_a_compressed_clock_cannot_be_advanced_from_outside(catalog):
    with AlpacaSimulator(catalog, speed=60.0, key=KEY, secret=SECRET).start(run_clock=False) as sim:
        answer = httpx.post(f"{sim.rest_url}/sim/v1/advance", json={"to_ns": sim.now_ns}, headers=HEADERS)
        assert answer.status_code == 422
        with pytest.raises(RemoteSessionError, match="compressed"):
            RemoteSession(sim.rest_url, KEY, SECRET)


def test_a_remote_session_drives_the_simulator_as_the_driver_does(sim):
    remote = RemoteSession(sim.rest_url, KEY, SECRET)
    assert remote.now_ns == sim.now_ns and not remote.finished and remote.state.catalog == sim.market.catalog.resolve()
    remote.advance_to(remote.now_ns + MINUTE_NS)
    assert sim.now_ns == remote.now_ns == sim.session_open_ns + MINUTE_NS
    assert remote.urls.rest == sim.rest_url and remote.urls.trade_stream == sim.trade_stream_url
    assert remote.urls.option_stream == sim.option_stream_url and remote.urls.stock_stream == sim.stock_stream_url


@pytest.mark.parametrize("url", ["http://10.0.0.7:8000", "https://127.0.0.1:8000", "http://127.0.0.1", "api.alpaca"])
def test_a_remote_session_drives_only_a_simulator_on_loopback(url):
    with pytest.raises(RemoteSessionError, match="loopback"):
        RemoteSession(url, KEY, SECRET)


def test_a_simulator_that_does_not_answer_is_named():
    with pytest.raises(RemoteSessionError, match="does not answer"):
        RemoteSession("http://127.0.0.1:9", KEY, SECRET)
