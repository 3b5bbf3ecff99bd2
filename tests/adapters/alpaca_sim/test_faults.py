# mypy: disable-error-code="union-attr, index"
# (alpaca-py types every answer as its model or a raw dict, for its raw_data switch: these clients return models)
"""Injected faults against alpaca-py's clients: dropped sockets, duplicated and late events, a broker restart."""

import json
from decimal import Decimal

import pytest
from alpaca.data.live.option import OptionDataStream
from alpaca.trading.enums import OrderStatus, QueryOrderStatus
from alpaca.trading.requests import GetOrdersRequest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from odte_nautilus.risk.time_units import MINUTE_NS
from tests.adapters.alpaca_sim.kit import (
    KEY,
    SECRET,
    Events,
    eventually,
    iron_fly,
    mleg,
    running,
    symbol,
    trade_stream,
    trading,
)

RECONNECT_SECONDS = 10.0  # alpaca-py waits about a second (with jitter) before its first reconnect


def test_dropped_websockets_are_reestablished_by_alpaca_py(sim):
    sim.step_minute()
    events, received = Events(), []

    async def on_quote(quote):
        received.append(quote)

    option_stream = OptionDataStream(KEY, SECRET, url_override=sim.option_stream_url)
    option_stream.subscribe_quotes(on_quote, symbol(sim, "C", 555))
    with running(trade_stream(sim, events), sim, "trade_updates"), running(option_stream, sim, "options"):
        sim.drop_streams()
        eventually(lambda: sim.stream_clients() == {"trade_updates": 0, "options": 0, "stocks": 0}, what="the drop")
        back = {"trade_updates": 1, "options": 1, "stocks": 0}
        eventually(lambda: sim.stream_clients() == back, RECONNECT_SECONDS, "both streams to reconnect")
        order = trading(sim).submit_order(mleg(iron_fly(sim), qty=1, limit=Decimal("-0.01")))
        sim.step_minute()
        eventually(lambda: events.named("fill") and received, what="a fill and a quote after the reconnect")
    assert events.named("fill")[-1]["order"]["id"] == str(order.id)
    assert received[-1].timestamp.timestamp() * 1e9 == sim.now_ns  # resubscribed by the client itself


def test_a_duplicated_event_arrives_twice_and_a_late_one_after_its_successor(sim):
    sim.step_minute()
    events = Events()
    with running(trade_stream(sim, events), sim, "trade_updates"):
        sim.faults.duplicate_next = 1  # the "new"
        trading(sim).submit_order(mleg(iron_fly(sim), qty=1, limit=Decimal("-0.01")))
        eventually(lambda: len(events.items) == 7, what="seven updates")
        first = [e["event"] for e in events.items]
        assert first == ["new", "new", "fill", "fill", "fill", "fill", "fill"]
        assert events.items[0] == events.items[1]

        events.items.clear()
        sim.faults.delay_next = 1  # the "new" again: it comes after the first leg's fill
        trading(sim).submit_order(mleg(iron_fly(sim, wing=10), qty=1, limit=Decimal("-0.01")))
        eventually(lambda: len(events.items) == 6, what="six updates")
    assert [e["event"] for e in events.items] == ["fill", "new", "fill", "fill", "fill", "fill"]
    assert events.items[0]["order"]["symbol"] != "" and events.items[1]["order"]["legs"]


def test_a_late_event_with_no_successor_comes_with_the_next_clock_step(sim):
    sim.step_minute()
    events = Events()
    with running(trade_stream(sim, events), sim, "trade_updates"):
        sim.faults.delay_next = 1
        trading(sim).submit_order(mleg(iron_fly(sim), qty=1, limit=Decimal("-50")))  # rests: "new" only
        sim.step_minute()
        eventually(lambda: events.named("new"), what="the held event")


def test_a_broker_restart_keeps_orders_positions_and_cash(sim):
    sim.step_minute()
    client = trading(sim)
    client.submit_order(mleg(iron_fly(sim), qty=2, limit=Decimal("-0.01")))
    resting = client.submit_order(mleg(iron_fly(sim, wing=10), qty=1, limit=Decimal("-50")))
    before = (sim.orders(), sim.positions(), client.get_account().cash, client.get_all_positions())
    events = Events()
    with running(trade_stream(sim, events), sim, "trade_updates"):
        sim.restart()
        assert (sim.orders(), sim.positions(), client.get_account().cash, client.get_all_positions()) == before
        all_orders = client.get_orders(GetOrdersRequest(status=QueryOrderStatus.ALL))
        assert {str(o.id) for o in all_orders} == {o["id"] for o in before[0]}
        eventually(lambda: sim.stream_clients()["trade_updates"] == 1, RECONNECT_SECONDS, "the stream to reconnect")
        client.cancel_order_by_id(resting.id)
        eventually(lambda: events.named("canceled"), what="the cancel after the restart")
    assert client.get_order_by_id(resting.id).status is OrderStatus.CANCELED


@pytest.mark.parametrize("fault", ["drop_streams_at", "restart_at"])
def test_scheduled_faults_fire_when_the_clock_passes_them(sim, fault):
    setattr(sim.faults, fault, (sim.now_ns + 2 * MINUTE_NS,))
    with connect(sim.trade_stream_url) as ws:
        ws.send(json.dumps({"action": "authenticate", "data": {"key_id": KEY, "secret_key": SECRET}}))
        ws.recv()
        ws.send(json.dumps({"action": "listen", "data": {"streams": ["trade_updates"]}}))
        ws.recv()
        sim.step_minute()
        with pytest.raises(TimeoutError):
            ws.recv(timeout=0.2)  # still connected
        sim.step_minute()
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=2)
    assert trading(sim).get_clock().timestamp.timestamp() * 1e9 == sim.now_ns  # serving again
