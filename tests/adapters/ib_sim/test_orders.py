"""Orders through real ib_async: a fly as one BAG combo entered, partially filled and exited; single legs;
resting, cancelled and refused orders. Fills follow the backtest's far-touch rule, leg by leg."""

from decimal import Decimal

import ib_async as ibi

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
)


def _net(fills: list[ibi.Fill], sec_type: str) -> list[ibi.Fill]:
    return [f for f in fills if f.contract.secType == sec_type]


def test_a_fly_enters_as_a_combo_partially_fills_and_exits_flat(sim):
    sim.faults.partial_fill = 0.5
    with connected(sim) as ib:
        wire = Wire(ib)
        bag, legs = short_fly(ib, sim)
        credit = fly_credit(sim, legs)
        c, p, wc, wp = (quote(sim, leg) for leg in legs)
        leg_prices = [c.bid, p.bid, wc.ask, wp.ask]
        entry = ib.placeOrder(bag, ibi.LimitOrder("BUY", 4, float(-credit), tif="DAY"))
        eventually(ib, lambda: entry.orderStatus.filled == 2, "the first part of the fill")
        assert entry.orderStatus.status == "Submitted" and entry.orderStatus.remaining == 2
        legs_filled = _net(entry.fills, "OPT")
        assert [(f.contract.localSymbol, f.execution.side, f.execution.shares) for f in legs_filled] == [
            (legs[0].localSymbol, "SLD", 2),
            (legs[1].localSymbol, "SLD", 2),
            (legs[2].localSymbol, "BOT", 2),
            (legs[3].localSymbol, "BOT", 2),
        ]
        assert [Decimal(str(f.execution.price)) for f in legs_filled] == leg_prices  # each leg at its far side
        [combo] = _net(entry.fills, "BAG")
        assert (combo.execution.side, combo.execution.shares) == ("BOT", 2)
        assert Decimal(str(combo.execution.price)) == -credit == Decimal(str(entry.orderStatus.avgFillPrice))
        assert all(f.commissionReport.commission == 0.65 * 2 for f in legs_filled)
        assert combo.execution.execId not in {c[1] for c in wire.items if c[0] == "commission"}  # legs only
        assert sim.positions() == dict(zip([leg.localSymbol for leg in legs], [-2, -2, 2, 2], strict=True))

        sim.step_minute()  # the rest fills on a later step, at that step's far touch if still marketable
        sim.faults.partial_fill = None
        settle(ib)
        if entry.orderStatus.status != "Filled":  # the market moved away: modify (same id) to its far touch
            entry.order.lmtPrice = float(-fly_credit(sim, legs))
            ib.placeOrder(bag, entry.order)
        eventually(ib, lambda: entry.orderStatus.status == "Filled", "the rest of the entry")
        assert sim.positions() == dict(zip([leg.localSymbol for leg in legs], [-4, -4, 4, 4], strict=True))
        held = {p.contract.localSymbol: p.position for p in ib.positions()}
        assert held == {s: float(q) for s, q in sim.positions().items()}

        c, p, wc, wp = (quote(sim, leg) for leg in legs)
        debit = c.ask + p.ask - wc.bid - wp.bid
        exit_ = ib.placeOrder(bag, ibi.LimitOrder("SELL", 4, float(-debit), tif="DAY"))  # sell the combo: pay
        eventually(ib, lambda: exit_.orderStatus.status == "Filled", "the exit")
        assert Decimal(str(exit_.orderStatus.avgFillPrice)) == -debit
        assert [f.execution.side for f in _net(exit_.fills, "OPT")] == ["BOT", "BOT", "SLD", "SLD"]
        assert sim.positions() == {}
        eventually(ib, lambda: all(p.position == 0 for p in ib.positions()), "the positions to close")


def test_a_limit_better_than_the_market_rests_and_cancels(sim):
    with connected(sim) as ib:
        wire = Wire(ib)
        bag, legs = short_fly(ib, sim)
        resting = ib.placeOrder(bag, ibi.LimitOrder("BUY", 1, float(-fly_credit(sim, legs) - 5), tif="DAY"))
        eventually(ib, lambda: resting.orderStatus.status == "Submitted", "the order to work")
        settle(ib)
        assert resting.fills == [] and [o["status"] for o in sim.orders()] == ["Submitted"]
        assert [t.order.orderId for t in ib.reqAllOpenOrders()] == [resting.order.orderId]
        ib.cancelOrder(resting.order)
        eventually(ib, lambda: resting.orderStatus.status == "Cancelled", "the cancel")
        settle(ib)
        assert wire.kinds(resting.order.orderId)[-2:] == ["Cancelled", "error 202"]
        assert sim.positions() == {} and sim.executions() == []


def test_a_single_leg_market_order_fills_at_the_far_side(sim):
    with connected(sim) as ib:
        put = ib.qualifyContracts(option(sim, "P", atm_strike(sim)))[0]
        ask = quote(sim, put).ask
        trade = ib.placeOrder(put, ibi.MarketOrder("BUY", 2))
        eventually(ib, lambda: trade.orderStatus.status == "Filled", "the fill")
        fills = [(f.contract.secType, f.execution.side, f.execution.price) for f in trade.fills]
        assert fills == [("OPT", "BOT", float(ask))]
        assert sim.positions() == {put.localSymbol: 2}
        sell = ib.placeOrder(put, ibi.LimitOrder("SELL", 2, float(quote(sim, put).bid)))
        eventually(ib, lambda: sell.orderStatus.status == "Filled", "the sale")
        assert sim.positions() == {}
        cash = Decimal(1_000_000) - (ask - quote(sim, put).bid) * 200 - Decimal("0.65") * 4
        assert sim.cash == cash


def test_a_rejection_is_error_201_and_no_order(sim):
    sim.faults.reject_next = 1
    with connected(sim) as ib:
        put = ib.qualifyContracts(option(sim, "P", atm_strike(sim)))[0]
        trade = ib.placeOrder(put, ibi.MarketOrder("BUY", 1))
        eventually(ib, lambda: trade.orderStatus.status == "Cancelled", "the rejection")
        assert trade.log[-1].errorCode == 201
        assert sim.orders() == [] and sim.positions() == {}
        again = ib.placeOrder(put, ibi.MarketOrder("BUY", 1))
        eventually(ib, lambda: again.orderStatus.status == "Filled", "the next order")


def test_at_the_close_working_orders_cancel_and_options_settle_in_cash(sim):
    with connected(sim) as ib:
        strike = atm_strike(sim) + 50
        put = ib.qualifyContracts(option(sim, "P", strike))[0]  # deep in the money
        bought = ib.placeOrder(put, ibi.MarketOrder("BUY", 1))
        eventually(ib, lambda: bought.orderStatus.status == "Filled", "the fill")
        paid = Decimal(str(bought.orderStatus.avgFillPrice))
        resting = ib.placeOrder(put, ibi.LimitOrder("BUY", 1, 0.05))
        eventually(ib, lambda: resting.orderStatus.status == "Submitted", "the resting order")
        sim.advance_to(sim.session_close_ns)
        eventually(ib, lambda: resting.orderStatus.status == "Cancelled", "the close to cancel it")
        assert sim.finished and sim.positions() == {}
        intrinsic = Decimal(strike) - sim.market.last_bar.close
        assert intrinsic > 0
        assert sim.cash == Decimal(1_000_000) + (intrinsic - paid) * 100 - Decimal("0.65")


def test_a_refused_modify_leaves_the_order_working_as_it_was(sim):
    """ib_insync #502: a modify refused (pacing 100, rejection 201) reads as Cancelled to ib_async, while
    the order works on unchanged."""
    with connected(sim) as ib:
        wire = Wire(ib)
        bag, legs = short_fly(ib, sim)
        limit = float(-fly_credit(sim, legs) - 5)
        trade = ib.placeOrder(bag, ibi.LimitOrder("BUY", 1, limit, tif="DAY"))
        eventually(ib, lambda: trade.orderStatus.status == "Submitted", "the order to work")
        sim.faults.pacing, sim.faults.reject_next = {"placeOrder": 1}, 1
        for _ in range(2):
            trade.order.lmtPrice = limit + 1
            ib.placeOrder(bag, trade.order)
        eventually(ib, lambda: len([i for i in wire.items if i[0] == "error"]) == 2, "both refusals")
        assert [i[2] for i in wire.items if i[0] == "error"] == [100, 201]
        [order] = sim.orders()
        assert (order["status"], Decimal(order["limit"])) == ("Submitted", Decimal(str(limit)))
        assert [t.order.orderId for t in ib.reqAllOpenOrders()] == [trade.order.orderId]


def test_two_clients_number_their_orders_apart(sim):
    """The node and the watchdog both count order ids from nextValidId: the same id from two clients is two
    orders, and neither can modify or cancel the other's."""
    with connected(sim, client_id=1) as node, connected(sim, client_id=2) as watchdog:
        put = node.qualifyContracts(option(sim, "P", atm_strike(sim)))[0]
        assert put is not None
        bid = float(quote(sim, put).bid)
        mine = node.placeOrder(put, ibi.LimitOrder("BUY", 1, bid - 1, orderId=50))
        theirs = watchdog.placeOrder(put, ibi.LimitOrder("BUY", 2, bid - 2, orderId=50))
        eventually(node, lambda: mine.orderStatus.status == "Submitted", "the node's order")
        eventually(watchdog, lambda: theirs.orderStatus.status == "Submitted", "the watchdog's order")
        assert sorted((o["client_id"], o["order_id"], o["qty"]) for o in sim.orders()) == [(1, 50, 1), (2, 50, 2)]
        watchdog.cancelOrder(theirs.order)
        eventually(watchdog, lambda: theirs.orderStatus.status == "Cancelled", "the watchdog's cancel")
        settle(node)
        assert mine.orderStatus.status == "Submitted"
        assert [o["status"] for o in sorted(sim.orders(), key=lambda o: o["client_id"])] == ["Submitted", "Cancelled"]


def test_a_what_if_order_is_refused_and_never_trades(sim):
    with connected(sim) as ib:
        put = ib.qualifyContracts(option(sim, "P", atm_strike(sim)))[0]
        assert put is not None
        priority = [ibi.TagValue("adaptivePriority", "Normal")]
        algo = ibi.MarketOrder("BUY", 1, algoStrategy="Adaptive", algoParams=priority)
        assert not ib.whatIfOrder(put, algo)  # refused: read past the algo's parameters to the flag
        assert sim.orders() == [] and sim.positions() == {}
        trade = ib.placeOrder(put, algo)  # the same order, not what-if: it trades
        eventually(ib, lambda: trade.orderStatus.status == "Filled", "the real order")
