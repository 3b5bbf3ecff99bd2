# mypy: disable-error-code="union-attr, index"
# (alpaca-py types every answer as its model or a raw dict, for its raw_data switch: these clients return models)
"""Orders through alpaca-py's TradingClient: the fill rule, resting orders, partials, rejections, replace/cancel."""

import json
from decimal import Decimal

import numpy as np
import pytest
import requests
from alpaca.common.exceptions import APIError
from alpaca.trading.enums import OrderSide, OrderStatus, QueryOrderStatus
from alpaca.trading.requests import GetOrdersRequest, ReplaceOrderRequest

from odte_nautilus.data import catalog_io
from odte_nautilus.risk.time_units import MINUTE_NS
from odte_nautilus.sim.alpaca.symbols import instrument_id
from tests.adapters.alpaca_sim.kit import KEY, SECRET, dec, far_touch, iron_fly, mleg, quotes, symbol, trading

NOT_MARKETABLE = Decimal("-50")  # a credit no iron fly here ever pays


def test_an_iron_butterfly_fills_at_its_far_touch_with_legs_inside_their_quotes(sim):
    sim.step_minute()
    client = trading(sim)
    legs = iron_fly(sim)
    touch = quotes(sim, [s for s, _, _ in legs])
    net = far_touch(sim, legs)
    assert net < 0  # a credit

    order = client.submit_order(mleg(legs, qty=2, limit=net + Decimal("0.50")))  # asks for less credit than the touch
    filled = client.get_order_by_id(order.id)
    assert filled.status is OrderStatus.FILLED and filled.filled_qty == "2"
    assert dec(filled.filled_avg_price) == net  # the far touch, not the limit
    total = Decimal(0)
    for leg, (sym, side, _) in zip(filled.legs or [], legs, strict=True):
        bid, ask = touch[sym]
        price = dec(leg.filled_avg_price)
        assert bid <= price <= ask and price == (ask if side is OrderSide.BUY else bid)
        assert (leg.symbol, leg.side, leg.qty, leg.filled_qty, leg.status) == (sym, side, "2", "2", OrderStatus.FILLED)
        total += price if side is OrderSide.BUY else -price
    assert total == net
    assert sim.positions() == {legs[0][0]: -2, legs[1][0]: -2, legs[2][0]: 2, legs[3][0]: 2}
    held = {p.symbol: p for p in client.get_all_positions()}
    assert held[legs[0][0]].qty == "-2" and held[legs[0][0]].side == "short"
    assert dec(held[legs[0][0]].avg_entry_price) == touch[legs[0][0]][0]
    assert dec(client.get_account().cash) == Decimal(100_000) - net * 2 * 100


def test_a_resting_order_fills_on_the_first_quote_that_makes_it_marketable(sim, catalog):
    sim.step_minute()
    client = trading(sim)
    sym = symbol(sim, "C", 560)
    legs = [(sym, OrderSide.BUY, 1), (symbol(sim, "C", 565), OrderSide.SELL, 1)]
    series = {s: catalog_io.read_quotes(catalog, instrument_id(s, "SMART")) for s, _, _ in legs}
    nets = series[legs[0][0]].ask - series[legs[1][0]].bid  # the debit spread's far touch, minute by minute
    now = int(np.searchsorted(series[sym].ts, sim.now_ns))
    ahead = nets[now + 1 : now + 61]
    target = int(np.argmin(ahead))
    limit = Decimal(f"{ahead[target]:.2f}")
    assert limit < far_touch(sim, legs)  # not marketable now

    order = client.submit_order(mleg(legs, qty=1, limit=limit))
    sim.advance_to(sim.now_ns + target * MINUTE_NS)
    assert client.get_order_by_id(order.id).status is OrderStatus.NEW
    sim.step_minute()
    filled = client.get_order_by_id(order.id)
    assert filled.status is OrderStatus.FILLED and dec(filled.filled_avg_price) == limit


def test_a_partial_fill_fills_the_rest_on_a_later_quote(sim):
    sim.step_minute()
    client = trading(sim)
    legs = iron_fly(sim)
    sim.faults.partial_fill = 0.5
    order = client.submit_order(mleg(legs, qty=4, limit=Decimal("-0.01")))
    partial = client.get_order_by_id(order.id)
    assert partial.status is OrderStatus.PARTIALLY_FILLED and partial.filled_qty == "2"
    assert sim.positions()[legs[0][0]] == -2
    sim.step_minute()
    done = client.get_order_by_id(order.id)
    assert done.status is OrderStatus.FILLED and done.filled_qty == "4"
    assert sim.positions() == {legs[0][0]: -4, legs[1][0]: -4, legs[2][0]: 4, legs[3][0]: 4}


def test_the_next_order_is_rejected_with_the_reason_and_nothing_is_made(sim):
    sim.step_minute()
    client = trading(sim)
    sim.faults.reject_next, sim.faults.reject_reason = 1, "insufficient options buying power"
    with pytest.raises(APIError) as refused:
        client.submit_order(mleg(iron_fly(sim), qty=1, limit=Decimal("-0.01"), client_order_id="fly-1"))
    assert refused.value.status_code == 403
    assert (refused.value.code, refused.value.message) == (40310000, "insufficient options buying power")
    assert sim.orders() == [] and sim.positions() == {}
    again = client.submit_order(mleg(iron_fly(sim), qty=1, limit=Decimal("-0.01"), client_order_id="fly-1"))
    assert client.get_order_by_id(again.id).status is OrderStatus.FILLED


def test_a_rejection_on_the_stream_accepts_then_rejects(sim):
    sim.step_minute()
    client = trading(sim)
    sim.faults.reject_next, sim.faults.reject_on_stream = 1, True
    order = client.submit_order(mleg(iron_fly(sim), qty=1, limit=Decimal("-0.01")))
    assert order.status is OrderStatus.ACCEPTED
    assert client.get_order_by_id(order.id).status is OrderStatus.REJECTED and sim.positions() == {}


def test_replace_and_cancel_act_on_the_parent_never_on_a_leg(sim):
    sim.step_minute()
    client = trading(sim)
    order = client.submit_order(mleg(iron_fly(sim), qty=1, limit=NOT_MARKETABLE, client_order_id="fly-a"))
    [leg, *_] = order.legs or []
    assert client.get_order_by_id(leg.id).symbol == leg.symbol
    assert client.get_order_by_client_id(leg.client_order_id).id == leg.id
    for refused_call in (lambda: client.cancel_order_by_id(leg.id), lambda: client.replace_order_by_id(leg.id)):
        with pytest.raises(APIError) as refused:
            refused_call()
        assert refused.value.status_code == 422 and refused.value.code == 42210000
        assert "individual legs" in refused.value.message

    new = client.replace_order_by_id(order.id, ReplaceOrderRequest(qty=2, limit_price=-49.0, client_order_id="fly-b"))
    assert (new.replaces, new.qty, new.limit_price, new.client_order_id) == (order.id, "2", "-49.0", "fly-b")
    old = client.get_order_by_client_id("fly-a")
    assert old.status is OrderStatus.REPLACED and old.replaced_by == new.id
    assert [o.id for o in client.get_orders(GetOrdersRequest(status=QueryOrderStatus.OPEN))] == [new.id]

    client.cancel_order_by_id(new.id)  # 204
    assert client.get_order_by_id(new.id).status is OrderStatus.CANCELED
    with pytest.raises(APIError) as again:
        client.cancel_order_by_id(new.id)
    assert again.value.status_code == 422 and again.value.code == 42210000
    closed = client.get_orders(GetOrdersRequest(status=QueryOrderStatus.CLOSED))
    assert {o.id for o in closed} == {order.id, new.id}


def test_a_duplicate_client_order_id_is_refused_so_a_retry_never_doubles(sim):
    sim.step_minute()
    client = trading(sim)
    request = mleg(iron_fly(sim), qty=1, limit=Decimal("-0.01"), client_order_id="retry-me")
    client.submit_order(request)
    with pytest.raises(APIError) as refused:
        client.submit_order(request)
    assert refused.value.status_code == 422 and refused.value.code == 42210000
    assert len(sim.orders()) == 1 and sorted(sim.positions().values()) == [-1, -1, 1, 1]


def test_cancel_all_and_close_all_positions_answer_207(sim):
    sim.step_minute()
    client = trading(sim)
    client.submit_order(mleg(iron_fly(sim), qty=1, limit=Decimal("-0.01")))
    resting = client.submit_order(mleg(iron_fly(sim, wing=10), qty=1, limit=NOT_MARKETABLE))
    held = sorted(sim.positions())
    closing = client.close_all_positions(cancel_orders=True)
    assert sorted(str(r.symbol) for r in closing) == held and {r.status for r in closing} == {200}
    assert all(r.body.order_class.value == "simple" and r.body.type.value == "market" for r in closing)
    assert sim.positions() == {}
    assert client.get_order_by_id(resting.id).status is OrderStatus.CANCELED
    assert client.cancel_orders() == []


def test_at_the_close_orders_expire_and_options_settle(sim):
    sim.step_minute()
    client = trading(sim)
    legs = iron_fly(sim)
    order = client.submit_order(mleg(legs, qty=1, limit=Decimal("-0.01")))
    resting = client.submit_order(mleg(iron_fly(sim, wing=10), qty=1, limit=NOT_MARKETABLE))
    cash_after_entry = dec(client.get_account().cash)
    sim.advance_to(sim.session_close_ns)
    assert sim.finished and sim.positions() == {}
    assert client.get_order_by_id(resting.id).status is OrderStatus.EXPIRED
    assert client.get_order_by_id(order.id).status is OrderStatus.FILLED
    close = sim.market.last_bar.close
    strike = Decimal(legs[0][0][-8:]) / 1000
    wing = Decimal(5)
    owed = min(abs(close - strike), wing)  # the fly pays back the straddle's intrinsic, capped by the wing
    assert dec(client.get_account().cash) == cash_after_entry - owed * 100
    with pytest.raises(APIError) as closed:
        client.submit_order(mleg(legs, qty=1, limit=Decimal("-0.01")))
    assert closed.value.status_code == 422


def test_numbers_may_come_as_strings_as_in_alpacas_own_examples(sim):
    sim.step_minute()
    legs = iron_fly(sim)
    body: dict[str, object] = {
        "qty": "1",
        "type": "limit",
        "time_in_force": "day",
        "order_class": "mleg",
        "limit_price": "-0.01",
        "legs": [{"symbol": s, "ratio_qty": "1", "side": side.value} for s, side, _ in legs],
    }
    headers = {"APCA-API-KEY-ID": KEY, "APCA-API-SECRET-KEY": SECRET}
    answer = requests.post(f"{sim.rest_url}/v2/orders", data=json.dumps(body), headers=headers, timeout=5)
    assert answer.status_code == 200 and answer.json()["limit_price"] == "-0.01"
    assert trading(sim).get_order_by_id(answer.json()["id"]).status is OrderStatus.FILLED
