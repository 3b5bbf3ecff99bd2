"""The simulator's pure pieces: the fill rule, a position's average, order entry, the symbol mapping."""

from decimal import Decimal

import pytest

from odte_nautilus.sim.alpaca.entry import new_order
from odte_nautilus.sim.alpaca.model import PositionState
from odte_nautilus.sim.alpaca.symbols import alpaca_symbol, instrument_id
from odte_nautilus.sim.alpaca.wire import ApiError
from odte_nautilus.sim.fills import far_touch, marketable
from odte_nautilus.sim.replay import Quote


def _quote(bid: str, ask: str) -> Quote:
    return Quote(0, Decimal(bid), Decimal(ask), 1, 1)


def test_far_touch_buys_asks_sells_bids_and_sums_exactly():
    quotes = {"C": _quote("2.10", "2.15"), "P": _quote("1.95", "2.00"), "W": _quote("0.33", "0.35")}
    touch = far_touch([("C", -1), ("P", -1), ("W", 2)], quotes)
    assert touch is not None
    assert touch.leg_prices == (Decimal("2.10"), Decimal("1.95"), Decimal("0.35"))
    assert touch.net == Decimal("-3.35")  # -2.10 - 1.95 + 2 x 0.35
    assert marketable(touch, Decimal("-3.35")) and marketable(touch, Decimal("-3.00"))
    assert not marketable(touch, Decimal("-3.36"))  # asks for more credit than the touch pays
    assert marketable(touch, None)  # a market order
    assert far_touch([("C", 1), ("X", -1)], quotes) is None  # a leg without a quote


def test_a_position_averages_in_keeps_its_entry_on_a_reduction_and_restarts_on_a_flip():
    held = PositionState("C", 0, Decimal(0))
    held.add(2, Decimal("1.00"))
    held.add(2, Decimal("2.00"))
    assert (held.qty, held.avg_entry_price) == (4, Decimal("1.5"))
    held.add(-3, Decimal("9.00"))
    assert (held.qty, held.avg_entry_price) == (1, Decimal("1.5"))
    held.add(-3, Decimal("0.70"))
    assert (held.qty, held.avg_entry_price) == (-2, Decimal("0.70"))


CONTRACTS = {"SPY240722C00555000", "SPY240722C00556000"}


def _mleg(**changes: object) -> dict:
    legs = [
        {"symbol": "SPY240722C00555000", "ratio_qty": 1, "side": "buy"},
        {"symbol": "SPY240722C00556000", "ratio_qty": 1, "position_intent": "sell_to_open"},
    ]
    body = {"qty": 2, "type": "limit", "time_in_force": "day", "order_class": "mleg", "limit_price": 0.4, "legs": legs}
    return {**body, **changes}


def test_an_mleg_ticket_reads_sides_from_intents_and_keeps_its_signed_limit():
    ticket = new_order(_mleg(limit_price="-0.25"), CONTRACTS)
    assert [leg.signed_ratio for leg in ticket.legs] == [1, -1]
    assert ticket.net_limit == Decimal("-0.25") and ticket.qty == 2


@pytest.mark.parametrize(
    ("changes", "refusal"),
    [
        ({"legs": [{"symbol": "SPY240722C00555000", "side": "buy"}]}, "2 to 4 legs"),
        ({"legs": [{"symbol": s, "ratio_qty": 2, "side": "buy"} for s in sorted(CONTRACTS)]}, "simplest form"),
        ({"time_in_force": "gtc"}, "time_in_force day"),
        ({"type": "stop"}, "market or limit"),
        ({"qty": 1.5}, "whole number"),
        ({"limit_price": None}, "limit_price is required"),
        ({"legs": [{"symbol": "SPY240722P00555000", "side": "buy"}] * 2}, "not found"),
    ],
)
def test_order_entry_refuses_what_alpaca_refuses(changes, refusal):
    with pytest.raises(ApiError, match=refusal):
        new_order(_mleg(**changes), CONTRACTS)


def test_a_single_leg_sell_limit_is_a_negative_package_limit():
    body = {"symbol": "SPY240722C00555000", "qty": "1", "side": "sell", "type": "limit", "limit_price": "1.20"}
    assert new_order({**body, "time_in_force": "day"}, CONTRACTS).net_limit == Decimal("-1.20")


def test_alpaca_symbols_map_to_catalog_ids_and_back():
    assert alpaca_symbol("SPY   240722C00555500.SMART") == "SPY240722C00555500"
    assert instrument_id("SPY240722C00555500", "SMART") == "SPY   240722C00555500.SMART"
