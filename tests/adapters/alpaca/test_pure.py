"""The adapter's pure parts: symbols both ways, configs refused, Nautilus orders as Alpaca requests, reports
from wire JSON shaped as Alpaca sends it (brokers.md A2/A3), and the cumulative fill book."""

from __future__ import annotations

from decimal import Decimal

import pytest
from nautilus_trader.model.enums import OrderSide, OrderStatus, OrderType, PositionSide, TimeInForce
from nautilus_trader.model.identifiers import AccountId, ClientOrderId, InstrumentId, new_generic_spread_id

from odte_nautilus.adapters.alpaca.config import AlpacaConfigError, AlpacaDataClientConfig, AlpacaExecClientConfig
from odte_nautilus.adapters.alpaca.factories import get_cached_alpaca_rest
from odte_nautilus.adapters.alpaca.fills import Execution, OrderFills
from odte_nautilus.adapters.alpaca.parsing import (
    UnsupportedOrder,
    negated,
    order_request,
    order_status_report,
    position_status_report,
    replace_request,
    traded_spread,
)
from odte_nautilus.adapters.alpaca.symbols import alpaca_symbol, instrument_id, underlying_id

ACCOUNT = AccountId("ALPACA-PA0SIM0001")
C, P = instrument_id("SPY240315C00555000"), instrument_id("SPY240315P00555000")
WC, WP = instrument_id("SPY240315C00560000"), instrument_id("SPY240315P00550000")
IRON_FLY = new_generic_spread_id([(C, -1), (P, -1), (WC, 1), (WP, 1)])  # +wings -body: credit, bought negative


def test_symbols_map_both_ways_through_one_pair():
    assert InstrumentId.from_str("SPY   240315C00555000.ALPACA") == C
    assert alpaca_symbol(C) == "SPY240315C00555000"
    assert instrument_id(alpaca_symbol(WP)) == WP
    assert instrument_id("QQQ240315P00480500").symbol.value == "QQQ   240315P00480500"
    assert underlying_id("SPY") == InstrumentId.from_str("SPY.ALPACA")


@pytest.mark.parametrize(
    ("kwargs", "names"),
    [
        ({"base_url_http": "https://api.alpaca.markets"}, "base_url_http"),
        ({"trade_stream_url": "wss://api.alpaca.markets/stream"}, "trade_stream_url"),
        ({"paper": False}, "paper=False"),
        ({"account_id": "123456"}, "account_id"),
        ({"max_requests_per_minute": 500}, "200 a minute"),
    ],
)
def test_a_config_that_could_reach_a_live_account_is_refused(kwargs, names):
    with pytest.raises(AlpacaConfigError, match=names):
        AlpacaExecClientConfig(api_key="k", api_secret="s", **kwargs)


def test_paper_host_and_loopback_configs_build():
    AlpacaExecClientConfig(api_key="k", api_secret="s", base_url_http="https://paper-api.alpaca.markets")
    AlpacaDataClientConfig(api_key="k", api_secret="s", base_url_http="http://127.0.0.1:8080")
    with pytest.raises(AlpacaConfigError):
        AlpacaDataClientConfig(api_key="k", api_secret="s", base_url_http="https://api.alpaca.markets")


def test_a_credit_iron_fly_goes_out_as_one_mleg_limit_at_a_negative_net():
    request = order_request(IRON_FLY, OrderSide.BUY, OrderType.LIMIT, 2, -2.45, TimeInForce.DAY, "O-1", {})
    body = request.to_request_fields()
    assert body["order_class"] == "mleg" and body["limit_price"] == -2.45 and body["qty"] == 2
    assert body["client_order_id"] == "O-1" and body["time_in_force"] == "day" and "symbol" not in body
    legs = {leg["symbol"]: (leg["side"], leg["position_intent"], leg["ratio_qty"]) for leg in body["legs"]}
    assert legs == {
        "SPY240315C00555000": ("sell", "sell_to_open", 1),
        "SPY240315P00555000": ("sell", "sell_to_open", 1),
        "SPY240315C00560000": ("buy", "buy_to_open", 1),
        "SPY240315P00550000": ("buy", "buy_to_open", 1),
    }


def test_an_exit_sells_the_same_spread_and_closes_what_is_held():
    held = {C: -2, P: -2, WC: 2, WP: 2}
    body = order_request(IRON_FLY, OrderSide.SELL, OrderType.LIMIT, 2, -1.10, TimeInForce.DAY, "O-2", held)
    fields = body.to_request_fields()
    assert fields["limit_price"] == 1.10  # buying the fly back costs a debit
    assert {leg["position_intent"] for leg in fields["legs"]} == {"buy_to_close", "sell_to_close"}
    # a short held for only one of two packages does not let the order claim to close two
    half = order_request(IRON_FLY, OrderSide.SELL, OrderType.LIMIT, 2, -1.10, TimeInForce.DAY, "O-3", {C: -1})
    assert half.to_request_fields()["legs"][0]["position_intent"] == "buy_to_open"


def test_a_single_option_goes_out_plain_and_unsupported_orders_are_refused_before_sending():
    body = order_request(C, OrderSide.SELL, OrderType.MARKET, 1, None, TimeInForce.GTC, "O-4", {C: 1})
    fields = body.to_request_fields()
    assert fields["symbol"] == "SPY240315C00555000" and fields["side"] == "sell" and fields["type"] == "market"
    assert fields["position_intent"] == "sell_to_close" and fields["time_in_force"] == "day"
    with pytest.raises(UnsupportedOrder, match="IOC"):
        order_request(C, OrderSide.BUY, OrderType.LIMIT, 1, 1.0, TimeInForce.IOC, "O-5", {})
    with pytest.raises(UnsupportedOrder, match="STOP_MARKET"):
        order_request(C, OrderSide.BUY, OrderType.STOP_MARKET, 1, None, TimeInForce.DAY, "O-6", {})


def test_a_replace_acts_on_the_parent_at_the_signed_net():
    assert replace_request(OrderSide.SELL, True, 1, -1.2).to_request_fields() == {"qty": 1, "limit_price": 1.2}


def filled_iron_fly(status="partially_filled", filled="1", avg="-2.40"):
    """A parent mleg order as GET /v2/orders/{id} returns it (brokers.md A2/A3): decimals as strings."""
    leg = {"symbol": "", "type": "", "order_class": "mleg", "ratio_qty": "1", "status": status}
    return {
        "id": "b6a1c3e4-0000-4000-8000-000000000001",
        "client_order_id": "O-1",
        "created_at": "2024-03-15T14:00:00.000000Z",
        "updated_at": "2024-03-15T14:00:05.000000Z",
        "submitted_at": "2024-03-15T14:00:00.100000Z",
        "order_class": "mleg",
        "type": "limit",
        "symbol": "",
        "side": "",
        "qty": "2",
        "filled_qty": filled,
        "filled_avg_price": avg,
        "limit_price": "-2.45",
        "time_in_force": "day",
        "status": status,
        "extended_hours": False,
        "legs": [
            {**leg, "symbol": "SPY240315C00555000", "side": "sell", "id": "l1"},
            {**leg, "symbol": "SPY240315P00555000", "side": "sell", "id": "l2"},
            {**leg, "symbol": "SPY240315C00560000", "side": "buy", "id": "l3"},
            {**leg, "symbol": "SPY240315P00550000", "side": "buy", "id": "l4"},
        ],
    }


def test_an_mleg_order_reports_as_the_spread_the_node_traded():
    order = filled_iron_fly()
    assert traded_spread(order) == IRON_FLY
    report = order_status_report(order, ACCOUNT, IRON_FLY, OrderSide.BUY, ClientOrderId("O-1"), 2, 1)
    assert report.order_status == OrderStatus.PARTIALLY_FILLED
    assert (report.quantity, report.filled_qty) == (2, 1)
    assert report.price is not None and report.price.as_double() == -2.45 and report.avg_px == Decimal("-2.40")
    assert report.venue_order_id.value == order["id"] and report.ts_accepted > 0
    # the same package known to the node as a SELL of the negated spread: prices flip sign
    sold = order_status_report(order, ACCOUNT, negated(IRON_FLY), OrderSide.SELL, None, 2, 1)
    assert sold.price is not None and sold.price.as_double() == 2.45 and sold.avg_px == Decimal("2.40")


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("new", OrderStatus.ACCEPTED),
        ("filled", OrderStatus.FILLED),
        ("canceled", OrderStatus.CANCELED),
        ("expired", OrderStatus.EXPIRED),
        ("rejected", OrderStatus.REJECTED),
        ("pending_cancel", OrderStatus.PENDING_CANCEL),
    ],
)
def test_alpaca_statuses_map_to_nautilus(status, expected):
    report = order_status_report(filled_iron_fly(status), ACCOUNT, IRON_FLY, OrderSide.BUY, None, 2, 1)
    assert report.order_status == expected


def test_a_short_position_reports_short():
    wire = {
        "symbol": "SPY240315C00555000",
        "qty": "-2",
        "side": "short",
        "asset_class": "us_option",
        "exchange": "",
        "avg_entry_price": "1.45",
    }
    report = position_status_report(wire, ACCOUNT, 1)
    assert report.instrument_id == C and report.position_side == PositionSide.SHORT and report.quantity == 2


def test_shares_delivered_by_an_exercise_or_assignment_report_on_the_underlying():
    wire = {"symbol": "SPY", "qty": "-100", "side": "short", "asset_class": "us_equity", "avg_entry_price": "555"}
    report = position_status_report(wire, ACCOUNT, 1)
    assert report.instrument_id == underlying_id("SPY") and report.quantity == 100


def test_the_data_and_execution_clients_of_one_account_share_one_rate_budget():
    data = AlpacaDataClientConfig(api_key="k1", api_secret="s", base_url_http="http://127.0.0.1:9")
    execution = AlpacaExecClientConfig(api_key="k1", api_secret="s", base_url_http="http://127.0.0.1:9", max_retries=5)
    other = AlpacaExecClientConfig(api_key="k2", api_secret="s", base_url_http="http://127.0.0.1:9")
    assert get_cached_alpaca_rest(data).bucket is get_cached_alpaca_rest(execution).bucket
    assert get_cached_alpaca_rest(other).bucket is not get_cached_alpaca_rest(data).bucket
    assert get_cached_alpaca_rest(data).client._retry == 0  # alpaca-py's blocking sleep-retry is off


def test_fills_are_booked_from_cumulative_figures_once_and_legs_never_ahead_of_the_package():
    book = OrderFills({"C": 1, "W": 1})
    d = Decimal
    # Alpaca sends the legs' executions first: they wait for the package fill that covers them
    assert book.queue_leg("C", Execution("e-c1", d(1), d("1.50"), 1), cum_after=d(1))
    assert book.release_legs({}, derived, 1) == [] and book.waiting_legs()
    assert book.order.advance(d(1), d("1.30")) == (d(1), d("1.30"))
    assert book.order.advance(d(1), d("1.30")) == NOTHING  # a duplicate books nothing
    # the package's update carries each leg's cumulative fill: W's own update was lost, it is booked from them
    released = book.release_legs({"C": (d(1), d("1.50")), "W": (d(1), d("0.20"))}, derived, 2)
    assert released == [("C", Execution("e-c1", d(1), d("1.50"), 1)), ("W", Execution("W@1", d(1), d("0.20"), 2))]
    assert not book.waiting_legs()
    assert not book.queue_leg("W", Execution("e-w1", d(1), d("0.20"), 3), cum_after=d(1))  # late: already booked
    # a second package filled at 1.40: the new part is priced so the average is the broker's
    assert book.order.advance(d(2), d("1.35")) == (d(1), d("1.40"))
    assert book.order.advance(d(1), d("1.30")) == NOTHING  # an older update out of order books nothing


NOTHING = (Decimal(0), Decimal(0))


def derived(symbol: str, qty: Decimal) -> str:
    return f"{symbol}@{qty}"
