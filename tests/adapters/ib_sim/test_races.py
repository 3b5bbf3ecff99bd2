"""IB's order-status races, scripted and observed on the wire in the order a real gateway sends them.

Each ends with the client's positions equal to the simulator's and the fill at its real price: a Cancelled
that an error or a premature confirmation produced is not the end of the order.
"""

from decimal import Decimal

import ib_async as ibi

from odte_nautilus.risk.time_units import MINUTE_NS
from tests.adapters.ib_sim.kit import (
    Wire,
    atm_strike,
    connected,
    eventually,
    fly_credit,
    option,
    quote,
    settle,
    short_fly,
    wait_disconnected,
)

FILL = ["exec OPT"] * 4 + ["exec BAG"] + ["commission"] * 4


def _positions(ib: ibi.IB) -> dict[str, float]:
    return {p.contract.localSymbol: p.position for p in ib.positions() if p.position}


def test_modify_after_an_unreported_fill_is_error_104_then_cancelled_then_the_fill(sim):
    """Seed 000's phantom position: the modify of an order already filled at the exchange."""
    sim.faults.unreported_fills = 1
    with connected(sim) as ib:
        wire = Wire(ib)
        bag, legs = short_fly(ib, sim)
        credit = fly_credit(sim, legs)
        trade = ib.placeOrder(bag, ibi.LimitOrder("BUY", 1, float(-credit), tif="DAY"))
        eventually(ib, lambda: trade.orderStatus.status == "Submitted", "the order to work")
        settle(ib)
        assert trade.fills == [] and sim.orders()[0]["status"] == "Filled"  # filled, not told
        assert sim.positions() != {}

        trade.order.lmtPrice = float(-credit + Decimal("0.05"))
        ib.placeOrder(bag, trade.order)  # the modify
        eventually(ib, lambda: trade.orderStatus.status == "Filled", "the fill to win")
        settle(ib)
        order_id = trade.order.orderId
        assert wire.kinds(order_id) == ["PreSubmitted", "Submitted", "error 104", "Cancelled", *FILL, "Filled"]
        assert ("status", order_id, "Cancelled", 0.0) in wire.items  # nothing filled, says the premature status
        assert Decimal(str(trade.orderStatus.avgFillPrice)) == -credit  # the price it filled at, not the modify's
        assert _positions(ib) == {s: float(q) for s, q in sim.positions().items()}
        assert trade.log[-1].status == "Filled" and [e.errorCode for e in trade.log].count(104) == 1


def test_cancel_racing_an_unreported_fill_is_cancelled_then_10148_then_the_fill(sim):
    sim.faults.unreported_fills = 1
    with connected(sim) as ib:
        wire = Wire(ib)
        bag, legs = short_fly(ib, sim)
        trade = ib.placeOrder(bag, ibi.LimitOrder("BUY", 1, float(-fly_credit(sim, legs)), tif="DAY"))
        eventually(ib, lambda: trade.orderStatus.status == "Submitted", "the order to work")
        ib.cancelOrder(trade.order)
        eventually(ib, lambda: trade.orderStatus.status == "Filled", "the fill to win")
        settle(ib)
        order_id = trade.order.orderId
        assert wire.kinds(order_id) == ["PreSubmitted", "Submitted", "Cancelled", "error 10148", *FILL, "Filled"]
        [refusal] = [i for i in wire.items if i[0] == "error"]
        assert refusal[3] == f"OrderId {order_id} that needs to be cancelled cannot be cancelled, state: Filled."
        ib.cancelOrder(trade.order)  # again: the order is gone
        eventually(ib, lambda: wire.kinds(order_id)[-1] == "error 10147", "the second cancel's answer")
        assert _positions(ib) == {s: float(q) for s, q in sim.positions().items()} != {}


def test_a_resting_order_can_lose_its_cancel_to_a_fill_at_its_limit(sim):
    sim.faults.fill_on_cancel = 1
    with connected(sim) as ib:
        wire = Wire(ib)
        put = ib.qualifyContracts(option(sim, "P", atm_strike(sim)))[0]
        limit = quote(sim, put).bid - Decimal("1.00")  # well under the market: it rests
        trade = ib.placeOrder(put, ibi.LimitOrder("BUY", 2, float(limit)))
        eventually(ib, lambda: trade.orderStatus.status == "Submitted", "the order to rest")
        ib.cancelOrder(trade.order)
        eventually(ib, lambda: trade.orderStatus.status == "Filled", "the fill to win")
        settle(ib)
        kinds = wire.kinds(trade.order.orderId)
        assert kinds == ["PreSubmitted", "Submitted", "Cancelled", "error 10148", "exec OPT", "commission", "Filled"]
        assert Decimal(str(trade.fills[0].execution.price)) == limit and sim.positions() == {put.localSymbol: 2}


def test_executions_duplicated_late_or_for_the_legs_only(sim):
    with connected(sim) as ib:
        wire = Wire(ib)
        bag, legs = short_fly(ib, sim)

        sim.faults.duplicate_executions = 1
        first = ib.placeOrder(bag, ibi.LimitOrder("BUY", 1, float(-fly_credit(sim, legs)), tif="DAY"))
        eventually(ib, lambda: first.orderStatus.status == "Filled", "the first fill")
        settle(ib)
        ids = [e[3] for e in wire.executions(first.order.orderId)]
        assert len(ids) == 10 and len(set(ids)) == 5 and ids[0] == ids[1]  # each sent twice, same execId
        assert len(sim.executions()) == 5

        sim.faults.late_executions, sim.faults.late_steps = 1, 1
        second = ib.placeOrder(bag, ibi.LimitOrder("BUY", 1, float(-fly_credit(sim, legs)), tif="DAY"))
        eventually(ib, lambda: second.orderStatus.status == "Filled", "the second order's status")
        settle(ib)
        assert wire.executions(second.order.orderId) == []  # Filled, and not one execution yet
        sim.step_minute()
        eventually(ib, lambda: len(wire.executions(second.order.orderId)) == 5, "the late executions")
        assert wire.kinds(second.order.orderId)[-9:] == FILL

        sim.faults.legs_only_executions = 1
        third = ib.placeOrder(bag, ibi.LimitOrder("BUY", 1, float(-fly_credit(sim, legs)), tif="DAY"))
        eventually(ib, lambda: third.orderStatus.status == "Filled", "the third fill")
        settle(ib)
        assert [e[2] for e in wire.executions(third.order.orderId)] == ["OPT"] * 4  # no BAG execution
        told = [f for f in ib.reqExecutions() if f.execution.orderId == third.order.orderId]
        assert sorted(f.contract.secType for f in told) == ["BAG", "OPT", "OPT", "OPT", "OPT"]  # the truth
        assert _positions(ib) == {s: float(q) for s, q in sim.positions().items()}


def test_an_order_filling_while_the_client_is_away_is_learnt_on_reconnect(sim):
    sim.faults.unreported_fills, sim.faults.unreported_steps = 1, 1
    with connected(sim, client_id=5) as ib:
        bag, legs = short_fly(ib, sim)
        credit = fly_credit(sim, legs)
        trade = ib.placeOrder(bag, ibi.LimitOrder("BUY", 2, float(-credit), tif="DAY"))
        eventually(ib, lambda: trade.orderStatus.status == "Submitted", "the order to work")
        sim.disconnect_clients()
        wait_disconnected(ib)
        order_id = trade.order.orderId
    sim.step_minute()  # the fill's report falls due with nobody to hear it
    assert sim.orders()[0]["reported"] and sim.clients() == []
    with connected(sim, client_id=5) as ib:  # its start-up asks for executions, positions, open orders
        fills = [f for f in ib.fills() if f.execution.orderId == order_id]
        assert sorted(f.contract.secType for f in fills) == ["BAG", "OPT", "OPT", "OPT", "OPT"]
        [combo] = [f for f in fills if f.contract.secType == "BAG"]
        assert (combo.execution.shares, Decimal(str(combo.execution.price))) == (2, -credit)
        assert all(f.commissionReport.commission == 1.3 for f in fills if f.contract.secType == "OPT")
        assert ib.openTrades() == []
        assert _positions(ib) == {s: float(q) for s, q in sim.positions().items()} != {}


def test_scheduled_disconnects_drop_every_client_as_the_clock_passes_them(sim):
    sim.faults.disconnect_at = (sim.now_ns + 2 * MINUTE_NS,)
    with connected(sim, client_id=6) as ib:
        sim.step_minute()
        settle(ib)
        assert ib.isConnected() and sim.clients() == [6]
        sim.step_minute()
        wait_disconnected(ib)
        assert sim.clients() == []


def test_pacing_violations_refuse_the_nth_request_of_a_kind(sim):
    sim.faults.pacing = {"reqContractDetails": 2, "reqHistoricalData": 1}
    with connected(sim) as ib:
        wire = Wire(ib)
        k = atm_strike(sim)
        assert ib.qualifyContracts(option(sim, "C", k))[0] is not None
        assert ib.qualifyContracts(option(sim, "P", k)) == [None]  # the second: error 100
        assert ib.qualifyContracts(option(sim, "P", k))[0] is not None  # and then no more
        bars = ib.reqHistoricalData(ibi.Index("SPX", "CBOE", conId=416904), "", "1 D", "1 min", "TRADES", True, 2)
        assert len(bars) == 0
        assert [i[2] for i in wire.items if i[0] == "error"] == [100, 162]
        assert sim.faults.pacing == {}
