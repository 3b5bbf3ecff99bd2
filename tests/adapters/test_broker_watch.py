"""The paper node's broker watch against the Alpaca simulator, through the real alpaca-py client.

A position the node does not know is an alert, and an account that stops being a paper account stops every
new order at once (the kernel's ``paper_account`` rule refuses it), whatever the strategies think.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from nautilus_trader.model.identifiers import InstrumentId

from odte_nautilus.adapters.alpaca.http import AlpacaRest, TokenBucket, trading_client
from odte_nautilus.adapters.alpaca.symbols import alpaca_symbol
from odte_nautilus.live.broker_watch import BrokerWatch, BrokerWatchConfig
from odte_nautilus.risk.book import RiskBook
from odte_nautilus.risk.decision import ReasonCode
from odte_nautilus.risk.policy import load_policy
from odte_nautilus.sim.alpaca import AlpacaSimulator
from tests.adapters.alpaca_sim.conftest import SPY_DAY
from tests.adapters.alpaca_sim.kit import KEY, SECRET, far_touch, iron_fly, mleg, trading
from tests.engine_kit import engine
from tests.kit import fly_entry


@pytest.fixture(scope="module")
def catalog(tmp_path_factory) -> Path:
    from odte_nautilus.data.sample import build_sample

    path = tmp_path_factory.mktemp("watch") / "spy"
    build_sample(path, SPY_DAY)
    return path


def _watch(tmp_path: Path, sim: AlpacaSimulator) -> tuple[BrokerWatch, RiskBook]:
    book = RiskBook(load_policy("multi_strategy_paper"), tmp_path / "state.sqlite", tmp_path / "d.jsonl", nav=1e5)
    node = engine()
    rest = AlpacaRest(trading_client(KEY, SECRET, sim.rest_url, 10.0), TokenBucket(200))
    watch = BrokerWatch(BrokerWatchConfig(base_url=sim.rest_url, simulator=True), book, rest)
    node.add_actor(watch)
    return watch, book


def _alerts(book: RiskBook) -> list[dict]:
    book.journal.close()
    return [j for j in map(json.loads, book.journal.path.read_text().splitlines()) if j["kind"] == "alert"]


def test_a_position_the_node_does_not_know_is_an_alert(catalog, tmp_path):
    with AlpacaSimulator(catalog, key=KEY, secret=SECRET) as sim:
        sim.step_minute()
        legs = iron_fly(sim)
        trading(sim).submit_order(mleg(legs, 1, far_touch(sim, legs)))  # behind the node's back
        watch, book = _watch(tmp_path, sim)
        asyncio.run(watch.check(sim.now_ns))
        held = sim.positions()
    assert watch.passes == 1 and watch.last_check_ns == sim.now_ns and len(held) == 4
    seen = {alpaca_symbol(InstrumentId.from_str(m["instrument"])): (m["broker"], m["node"]) for m in watch.mismatches}
    assert seen == {symbol: (qty, 0) for symbol, qty in held.items()}
    assert [a["about"] for a in _alerts(book)] == ["position_mismatch"] * 4


def test_an_account_that_is_no_longer_paper_stops_every_new_order(catalog, tmp_path):
    with AlpacaSimulator(catalog, key=KEY, secret=SECRET, account_number="987654321") as sim:
        watch, book = _watch(tmp_path, sim)
        before = book.check(fly_entry())
        asyncio.run(watch.check(sim.now_ns))
    after = book.check(fly_entry())
    assert before.code is not ReasonCode.ACCOUNT_NOT_PAPER
    assert after.code is ReasonCode.ACCOUNT_NOT_PAPER and not after.allowed
    assert [a["about"] for a in _alerts(book)] == ["paper_guard"]


def test_a_watch_pass_waits_while_the_rest_budget_is_short_so_orders_go_first(catalog, tmp_path):
    with AlpacaSimulator(catalog, key=KEY, secret=SECRET) as sim:
        watch, _ = _watch(tmp_path, sim)
        bucket = watch._rest.bucket
        while bucket.headroom():  # orders (or anything) took the budget
            bucket.delay()
        watch._on_timer(SimpleNamespace(ts_event=sim.now_ns))
    assert (watch.skipped, watch.passes) == (1, 0)
