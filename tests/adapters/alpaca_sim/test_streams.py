# mypy: disable-error-code="union-attr, index"
# (alpaca-py types every answer as its model or a raw dict, for its raw_data switch: these clients return models)
"""The websockets through alpaca-py's own streams: trade updates, option quotes, the underlying's bars and quotes."""

import json
from decimal import Decimal

import msgpack  # type: ignore[import-untyped]  # ships no type information
import pytest
from alpaca.data.live.option import OptionDataStream
from alpaca.data.live.stock import StockDataStream
from alpaca.trading.requests import ReplaceOrderRequest
from alpaca.trading.stream import TradingStream
from websockets.sync.client import connect

from odte_nautilus.risk.time_units import MINUTE_NS
from tests.adapters.alpaca_sim.kit import (
    KEY,
    SECRET,
    Events,
    eventually,
    far_touch,
    iron_fly,
    mleg,
    quotes,
    running,
    symbol,
    trade_stream,
    trading,
)


def test_an_mleg_fill_is_reported_per_leg_execution_then_for_the_parent(sim):
    sim.step_minute()
    events = Events()
    with running(trade_stream(sim, events), sim, "trade_updates"):
        legs = iron_fly(sim)
        net = far_touch(sim, legs)
        order = trading(sim).submit_order(mleg(legs, qty=2, limit=Decimal("-0.01")))
        eventually(lambda: len(events.items) == 6, what="new, four leg fills and the parent's fill")
    new, *leg_fills, parent = events.items
    assert new["event"] == "new" and new["order"]["id"] == str(order.id) and len(new["order"]["legs"]) == 4
    assert [e["event"] for e in leg_fills] == ["fill"] * 4
    touch = quotes(sim, [s for s, _, _ in legs])
    for event, (sym, side, _) in zip(leg_fills, legs, strict=True):
        assert event["order"]["symbol"] == sym and event["order"]["order_class"] == "mleg"
        bid, ask = touch[sym]
        assert Decimal(event["price"]) == (ask if side.value == "buy" else bid)
        assert event["qty"] == "2" and event["position_qty"] == ("2" if side.value == "buy" else "-2")
    leg_ids = {leg["id"] for leg in parent["order"]["legs"]}
    assert {e["order"]["id"] for e in leg_fills} == leg_ids
    assert parent["event"] == "fill" and parent["order"]["status"] == "filled"
    assert Decimal(parent["price"]) == net and parent["qty"] == "2"
    assert len({e["execution_id"] for e in [*leg_fills, parent]}) == 5


def test_a_partial_fill_reports_each_execution_and_cumulative_totals(sim):
    sim.step_minute()
    events = Events()
    sim.faults.partial_fill = 0.25
    legs = iron_fly(sim)
    with running(trade_stream(sim, events), sim, "trade_updates"):
        trading(sim).submit_order(mleg(legs, qty=4, limit=Decimal("-0.01")))
        sim.step_minute()
        eventually(lambda: len(events.items) == 11, what="new and two executions of five updates")
    parents = [e for e in events.items if e["order"]["legs"]]
    assert [e["event"] for e in parents] == ["new", "partial_fill", "fill"]
    assert [(e["qty"], e["order"]["filled_qty"]) for e in parents[1:]] == [("1", "1"), ("3", "4")]
    first_leg = [e for e in events.items if e["order"]["symbol"] == legs[0][0]]
    assert [(e["event"], e["qty"], e["position_qty"]) for e in first_leg] == [
        ("partial_fill", "1", "-1"),
        ("fill", "3", "-4"),
    ]


def test_replace_cancel_and_a_venue_rejection_are_reported_as_alpaca_reports_them(sim):
    sim.step_minute()
    events = Events()
    client = trading(sim)
    with running(trade_stream(sim, events), sim, "trade_updates"):
        old = client.submit_order(mleg(iron_fly(sim), qty=1, limit=Decimal("-50")))
        new = client.replace_order_by_id(old.id, ReplaceOrderRequest(limit_price=-49.0))
        client.cancel_order_by_id(new.id)
        sim.faults.reject_next, sim.faults.reject_on_stream = 1, True
        rejected = client.submit_order(mleg(iron_fly(sim), qty=1, limit=Decimal("-0.01")))
        eventually(lambda: len(events.items) == 5, what="five updates")
    seen = [(e["event"], e["order"]["id"], e["order"]["status"]) for e in events.items]
    assert seen == [
        ("new", str(old.id), "new"),
        ("replaced", str(old.id), "replaced"),
        ("new", str(new.id), "new"),
        ("canceled", str(new.id), "canceled"),
        ("rejected", str(rejected.id), "rejected"),
    ]
    assert events.items[1]["order"]["replaced_by"] == str(new.id)


def test_trade_updates_parse_as_alpaca_pys_models(sim):
    sim.step_minute()
    updates = []

    async def handler(update):
        updates.append(update)

    stream = TradingStream(KEY, SECRET, paper=True, url_override=sim.trade_stream_url)
    stream.subscribe_trade_updates(handler)
    with running(stream, sim, "trade_updates"):
        trading(sim).submit_order(mleg(iron_fly(sim), qty=1, limit=Decimal("-0.01")))
        eventually(lambda: len(updates) == 6, what="six parsed updates")
    parent = updates[-1]
    assert parent.event == "fill" and parent.order.order_class.value == "mleg" and len(parent.order.legs) == 4
    assert parent.order.symbol is None and parent.execution_id is not None and parent.price < 0


def test_option_quotes_stream_as_msgpack_with_timestamps(sim):
    sim.step_minute()
    sym = symbol(sim, "C", 555)
    received = []

    async def on_quote(quote):
        received.append(quote)

    stream = OptionDataStream(KEY, SECRET, url_override=sim.option_stream_url)
    stream.subscribe_quotes(on_quote, sym)
    with running(stream, sim, "options"):
        sim.step_minute()
        eventually(lambda: received, what="a quote")
    [quote] = received
    bid, ask = quotes(sim, [sym])[sym]
    assert quote.symbol == sym and quote.timestamp.timestamp() * 1e9 == sim.now_ns
    assert (Decimal(str(quote.bid_price)), Decimal(str(quote.ask_price))) == (bid, ask)


def test_the_underlying_streams_one_minute_bars_and_quotes(sim):
    bars, stock_quotes = [], []

    async def on_bar(bar):
        bars.append(bar)

    async def on_quote(quote):
        stock_quotes.append(quote)

    stream = StockDataStream(KEY, SECRET, url_override=sim.stock_stream_url)
    stream.subscribe_bars(on_bar, "SPY")
    stream.subscribe_quotes(on_quote, "SPY")
    with running(stream, sim, "stocks"):
        sim.step_minute()
        sim.step_minute()
        eventually(lambda: len(bars) == 2 and len(stock_quotes) == 2, what="two bars and two quotes")
    assert bars[1].timestamp.timestamp() * 1e9 == sim.now_ns - MINUTE_NS  # Alpaca stamps a bar at its open
    assert Decimal(str(bars[1].close)) == sim.market.last_bar.close
    assert stock_quotes[1].bid_price < bars[1].close < stock_quotes[1].ask_price


def test_wrong_keys_are_refused_on_every_stream(sim):
    with connect(sim.trade_stream_url) as ws:
        ws.send(json.dumps({"action": "authenticate", "data": {"key_id": KEY, "secret_key": "wrong"}}))
        assert json.loads(ws.recv())["data"]["status"] == "unauthorized"
    with connect(sim.option_stream_url) as ws:
        assert msgpack.unpackb(ws.recv()) == [{"T": "success", "msg": "connected"}]
        ws.send(msgpack.packb({"action": "auth", "key": KEY, "secret": "wrong"}))
        assert msgpack.unpackb(ws.recv()) == [{"T": "error", "code": 402, "msg": "auth failed"}]


@pytest.mark.parametrize("feed", ["indicative", "opra"])
def test_both_option_feeds_answer(sim, feed):
    with connect(sim.option_stream_url.replace("indicative", feed)) as ws:
        assert msgpack.unpackb(ws.recv()) == [{"T": "success", "msg": "connected"}]
        ws.send(msgpack.packb({"action": "auth", "key": KEY, "secret": SECRET}))
        assert msgpack.unpackb(ws.recv()) == [{"T": "success", "msg": "authenticated"}]
        ws.send(msgpack.packb({"action": "subscribe", "quotes": ["X"]}))
        assert msgpack.unpackb(ws.recv()) == [{"T": "subscription", "trades": [], "quotes": ["X"]}]
