# mypy: disable-error-code="union-attr, index"
# (alpaca-py types every answer as its model or a raw dict, for its raw_data switch: these clients return models)
"""The simulator's REST side through alpaca-py's own clients: account, clock, contracts, market data, auth, 429."""

import json

import pytest
import requests
from alpaca.common.exceptions import APIError
from alpaca.data.requests import OptionSnapshotRequest
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import ContractType
from alpaca.trading.requests import GetOptionContractsRequest

from odte_nautilus.data import catalog_io
from odte_nautilus.data.sample import SampleConfig, build_sample
from odte_nautilus.risk.time_units import MINUTE_NS
from odte_nautilus.sim.alpaca import AlpacaSimulator
from odte_nautilus.sim.alpaca.symbols import alpaca_symbol, instrument_id
from tests.adapters.alpaca_sim.kit import KEY, SECRET, dec, market_data, quotes, symbol, trading


def test_account_is_a_paper_account_with_options_level_3(sim):
    account = trading(sim).get_account()
    assert account.account_number == "PA0SIM0001"
    assert (account.status, account.options_trading_level, account.trading_blocked) == ("ACTIVE", 3, False)
    assert dec(account.cash) == dec(account.equity) == 100_000


def test_account_number_can_look_live_for_the_guard_tests(catalog):
    with AlpacaSimulator(catalog, key=KEY, secret=SECRET, account_number="912345678") as sim:
        assert trading(sim).get_account().account_number == "912345678"


def test_clock_is_the_simulated_time_and_declares_the_session(sim):
    client = trading(sim)
    clock = client.get_clock()
    assert clock.timestamp.timestamp() * 1e9 == sim.now_ns == sim.session_open_ns
    assert clock.is_open and clock.next_close.timestamp() * 1e9 == sim.session_close_ns
    sim.step_minute()
    assert client.get_clock().timestamp.timestamp() * 1e9 == sim.session_open_ns + MINUTE_NS
    raw = TradingClient(KEY, SECRET, raw_data=True, url_override=sim.rest_url).get_clock()
    assert raw["simulator"]["session_close"] == raw["next_close"] and raw["simulator"]["speed"] is None


def test_contracts_paginate_to_the_end(sim, catalog):
    client = trading(sim)
    expected = sorted(alpaca_symbol(iid) for iid in catalog_io.catalog_sessions(catalog)[0].instrument_ids)
    first = client.get_option_contracts(GetOptionContractsRequest(underlying_symbols=["SPY"]))
    assert len(first.option_contracts or []) == 100 and first.next_page_token is not None  # the default page

    seen, token, pages = [], None, 0
    while True:
        page = client.get_option_contracts(
            GetOptionContractsRequest(underlying_symbols=["SPY"], limit=25, page_token=token)
        )
        seen += [c.symbol for c in page.option_contracts or []]
        pages, token = pages + 1, page.next_page_token
        if token is None:
            break
    assert seen == expected and pages == 7  # 162 contracts, 25 a page
    contract = client.get_option_contract(expected[0])
    assert (contract.underlying_symbol, contract.size, contract.style) == ("SPY", "100", "american")
    assert instrument_id(contract.symbol, "SMART") in catalog_io.catalog_sessions(catalog)[0].instrument_ids


def test_contract_filters(sim):
    client = trading(sim)
    k = 555
    calls = client.get_option_contracts(
        GetOptionContractsRequest(
            underlying_symbols=["SPY"], type=ContractType.CALL, strike_price_gte=str(k), strike_price_lte=str(k + 2)
        )
    ).option_contracts
    assert [c.symbol for c in calls] == [symbol(sim, "C", s) for s in (k, k + 1, k + 2)]
    none = client.get_option_contracts(GetOptionContractsRequest(underlying_symbols=["QQQ"])).option_contracts
    assert none == []


def test_latest_quotes_and_snapshots_are_the_catalogs_at_the_simulated_time(sim, catalog):
    sim.advance_to(sim.session_open_ns + 10 * MINUTE_NS)
    strike = 555
    iid = f"SPY   {sim.market.session.trading_date:%y%m%d}C{strike * 1000:08d}.SMART"
    series = catalog_io.read_quotes(catalog, iid)
    i = list(series.ts).index(sim.now_ns)
    sym = symbol(sim, "C", strike)
    bid, ask = quotes(sim, [sym])[sym]
    assert (float(bid), float(ask)) == (round(series.bid[i], 2), round(series.ask[i], 2))

    snapshot = market_data(sim).get_option_snapshot(OptionSnapshotRequest(symbol_or_symbols=[sym]))[sym]
    assert snapshot.latest_quote.bid_price == float(bid)
    assert snapshot.implied_volatility is not None and 0 < snapshot.greeks.delta < 1


def test_auth_failure_is_401_with_alpacas_code(sim):
    wrong = TradingClient(KEY, "not-the-secret", url_override=sim.rest_url)
    with pytest.raises(APIError) as refused:
        wrong.get_account()
    assert refused.value.status_code == 401
    assert (refused.value.code, refused.value.message) == (40110000, "request is not authorized")
    response = requests.get(f"{sim.rest_url}/v1beta1/options/quotes/latest?symbols=X", timeout=5)
    assert response.status_code == 401 and response.json()["code"] == 40110000


def test_requests_over_the_budget_get_429_and_headers_say_so(catalog):
    with AlpacaSimulator(catalog, key=KEY, secret=SECRET, rate_limit=3) as sim:
        client = trading(sim)
        client._retry_wait = 0
        headers = {"APCA-API-KEY-ID": KEY, "APCA-API-SECRET-KEY": SECRET}
        first = requests.get(f"{sim.rest_url}/v2/clock", headers=headers, timeout=5)
        assert first.headers["X-Ratelimit-Limit"] == "3" and first.headers["X-Ratelimit-Remaining"] == "2"
        client.get_clock()
        client.get_clock()
        with pytest.raises(APIError) as throttled:
            client.get_clock()  # four tries, every one over the budget
        assert throttled.value.status_code == 429 and throttled.value.code == 42910000


def test_a_429_storm_is_ridden_out_by_alpaca_pys_retries_and_one_too_long_fails(sim):
    client = trading(sim)
    client._retry_wait = 0
    sim.faults.throttle_next = 3  # alpaca-py retries a 429 three times
    assert client.get_account().account_number == "PA0SIM0001"
    sim.faults.throttle_next = 4
    with pytest.raises(APIError) as throttled:
        client.get_account()
    assert throttled.value.status_code == 429
    assert sim.faults.throttle_next == 0


def test_error_bodies_are_alpacas(sim):
    headers = {"APCA-API-KEY-ID": KEY, "APCA-API-SECRET-KEY": SECRET}
    missing = requests.get(f"{sim.rest_url}/v2/orders/00000000-0000-0000-0000-000000000000", headers=headers, timeout=5)
    assert (missing.status_code, missing.json()["code"]) == (404, 40410000)
    unserved = requests.get(f"{sim.rest_url}/v2/watchlists", headers=headers, timeout=5)
    assert unserved.status_code == 404 and unserved.json() == {"code": 40410000, "message": "not found"}
    malformed = requests.post(f"{sim.rest_url}/v2/orders", data=b"{", headers=headers, timeout=5)
    assert (malformed.status_code, malformed.json()["code"]) == (400, 40010001)
    body = {"symbol": symbol(sim, "C", 555), "qty": 1, "side": "buy", "type": "stop", "time_in_force": "day"}
    unsupported = requests.post(f"{sim.rest_url}/v2/orders", data=json.dumps(body), headers=headers, timeout=5)
    assert (unsupported.status_code, unsupported.json()["code"]) == (422, 42210000)


def test_a_qqq_session_is_served_and_a_missing_one_named(tmp_path, catalog):
    build_sample(tmp_path, SampleConfig(days=1, underlying="QQQ", strikes_each_side=7))
    with AlpacaSimulator(tmp_path, underlying="QQQ", key=KEY, secret=SECRET) as sim:
        contracts = trading(sim).get_option_contracts(GetOptionContractsRequest(underlying_symbols=["QQQ"]))
        assert {c.underlying_symbol for c in contracts.option_contracts or []} == {"QQQ"}
        assert len(contracts.option_contracts or []) == 30 and contracts.next_page_token is None
    with pytest.raises(ValueError, match=r"no QQQ session .*\(sessions: none\)"):
        AlpacaSimulator(catalog, underlying="QQQ")
