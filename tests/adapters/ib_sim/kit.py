"""The real ib_async client pointed at a simulator, and what the tests share.

ib_async binds to the event loop of the thread that first uses it (its sync API runs that loop), so every
ib_async test runs on the test thread and a Nautilus test runs its own loop in a thread of its own.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import ib_async as ibi

from odte_nautilus.sim.ib import TwsSimulator
from odte_nautilus.sim.replay import Quote

TIMEOUT = 5.0


@contextmanager
def connected(sim: TwsSimulator, client_id: int = 1) -> Iterator[ibi.IB]:
    """A real ib_async client, connected the way a node connects (start-up syncs that must not time out)."""
    ib = ibi.IB()
    ib.connect(sim.host, sim.port, clientId=client_id, timeout=TIMEOUT, raiseSyncErrors=True)
    try:
        yield ib
    finally:
        ib.disconnect()


def eventually(ib: ibi.IB, check: Callable[[], object], what: str, timeout: float = TIMEOUT) -> object:
    """Let ib_async read the socket until ``check`` returns something truthy."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := check():
            return result
        ib.sleep(0.01)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def wait_disconnected(ib: ibi.IB) -> None:
    """Run ib_async until it notices the simulator dropped it (it raises from the loop when it does)."""
    deadline = time.monotonic() + TIMEOUT
    try:
        while ib.isConnected() and time.monotonic() < deadline:
            ib.sleep(0.01)
    except ConnectionError:
        pass
    assert not ib.isConnected(), "the client did not notice the dropped socket"


def settle(ib: ibi.IB, seconds: float = 0.15) -> None:
    """Give the socket time to deliver whatever the simulator has sent (to check nothing more came)."""
    ib.sleep(seconds)


def atm_strike(sim: TwsSimulator) -> int:
    bar = sim.market.last_bar
    assert bar is not None, "step the clock first"
    return int(round(float(bar.close) / 5) * 5)


def option(sim: TwsSimulator, right: str, strike: int) -> ibi.Option:
    day = f"{sim.trading_date:%Y%m%d}"
    return ibi.Option("SPX", day, strike, right, "SMART", multiplier="100", currency="USD", tradingClass="SPXW")


def quote(sim: TwsSimulator, contract: ibi.Contract) -> Quote:
    """The replayed quote of a qualified option now (the catalog's id is its local symbol at CBOE)."""
    return sim.market.latest[f"{contract.localSymbol}.CBOE"]


def short_fly(ib: ibi.IB, sim: TwsSimulator, wing: int = 10) -> tuple[ibi.Bag, list[ibi.Contract]]:
    """An iron butterfly as one combo: SELL the straddle, BUY the wings (buying it receives a credit)."""
    k = atm_strike(sim)
    legs = ib.qualifyContracts(
        option(sim, "C", k), option(sim, "P", k), option(sim, "C", k + wing), option(sim, "P", k - wing)
    )
    assert all(leg is not None for leg in legs)
    pairs = zip(legs, ("SELL", "SELL", "BUY", "BUY"), strict=True)
    combo = [ibi.ComboLeg(conId=c.conId, ratio=1, action=a, exchange="SMART") for c, a in pairs]
    return ibi.Bag(symbol="SPX", exchange="SMART", currency="USD", comboLegs=combo), legs


def fly_credit(sim: TwsSimulator, legs: list[ibi.Contract]) -> Decimal:
    """What buying the short fly receives at the far touch: the straddle's bids less the wings' asks."""
    c, p, wc, wp = (quote(sim, leg) for leg in legs)
    return c.bid + p.bid - wc.ask - wp.ask


class Wire:
    """What ib_async's decoder delivered, in order: orderStatus, execDetails, commissionReport and error
    messages as (kind, ...) tuples, recorded before ib_async's own bookkeeping sees them."""

    def __init__(self, ib: ibi.IB) -> None:
        self.items: list[tuple] = []
        wrapper = ib.wrapper
        status, execution, commission, error = (
            wrapper.orderStatus,
            wrapper.execDetails,
            wrapper.commissionReport,
            wrapper.error,
        )

        def on_status(order_id: int, state: str, filled: float, *rest: Any) -> None:
            self.items.append(("status", order_id, state, filled))
            status(order_id, state, filled, *rest)

        def on_execution(req_id: int, contract: ibi.Contract, ex: ibi.Execution) -> None:
            self.items.append(("exec", ex.orderId, contract.secType, ex.execId, ex.side, ex.shares, ex.price))
            execution(req_id, contract, ex)

        def on_commission(report: ibi.CommissionReport) -> None:
            self.items.append(("commission", report.execId, report.commission))
            commission(report)

        def on_error(req_id: int, code: int, text: str, *rest: Any) -> None:
            self.items.append(("error", req_id, code, text))
            error(req_id, code, text, *rest)

        for name, recorder in (
            ("orderStatus", on_status),
            ("execDetails", on_execution),
            ("commissionReport", on_commission),
            ("error", on_error),
        ):
            setattr(wrapper, name, recorder)  # the decoder looks its callbacks up on the instance

    def kinds(self, order_id: int) -> list[str]:
        """The order's messages as short labels: ``Submitted``, ``exec BAG``, ``error 104`` ..."""
        mine = {item[3] for item in self.items if item[0] == "exec" and item[1] == order_id}
        labels = []
        for item in self.items:
            if item[1] != order_id if item[0] != "commission" else item[1] not in mine:
                continue
            if item[0] == "status":
                labels.append(item[2])
            elif item[0] == "exec":
                labels.append(f"exec {item[2]}")
            elif item[0] == "error":
                labels.append(f"error {item[2]}")
            else:
                labels.append("commission")
        return labels

    def executions(self, order_id: int) -> list[tuple]:
        return [item for item in self.items if item[0] == "exec" and item[1] == order_id]
