"""Random broker histories against one ``PackageLedger``: the incidents' invariants hold after every event.

A small honest broker keeps the truth (what each order really filled). Its events go into a queue that is
delivered in random order, with duplicates, so fills race cancels, statuses overtake executions, and an
error-path cancel (IB error 104) can be followed by the fill that really happened. At the end everything is
delivered and the ledger's booking must equal the truth.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from odte_nautilus.execution.events import BrokerEvent, Cancelled, Fill, FilledStatus, NoFillConfirmed, Rejected
from odte_nautilus.execution.fills import PackageLedger, is_priced
from odte_nautilus.risk.model import ExitKind, PackageState
from tests.kit import fly_entry

ENTRY_PRICES = st.sampled_from([-12.0, -11.5, -12.5])
EXIT_PRICES = st.sampled_from([-4.0, -6.5, -20.0])
CANCEL_KINDS = st.sampled_from(["final", "unpriced", "error"])


@dataclass
class BrokerOrder:
    """The truth about one order, as the broker knows it."""

    order_id: str
    is_entry: bool
    quantity: int
    exit_kind: ExitKind | None = None
    fills: list[Fill] = field(default_factory=list)
    alive: bool = True  # can still fill
    needs_confirmation: bool = False  # its cancel may look tentative until executions confirm

    @property
    def filled(self) -> int:
        return sum(f.quantity for f in self.fills)

    @property
    def value(self) -> float:
        return sum(f.quantity * f.price for f in self.fills)


def booked_from(events: list[BrokerEvent]) -> int:
    """What one order's delivered events prove filled: its distinct executions, or a larger priced status."""
    executions = {e.execution_id: e.quantity for e in events if isinstance(e, Fill)}
    statuses = [e.filled_qty for e in events if isinstance(e, FilledStatus | Cancelled) and is_priced(e.avg_fill_price)]
    return max([sum(executions.values()), *statuses])


class FillRoutingMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.ledger = PackageLedger.for_entry(fly_entry())
        self.orders: dict[str, BrokerOrder] = {}
        self.queue: list[BrokerEvent] = []
        self.delivered: list[BrokerEvent] = []
        self.ids = 0

    def next_id(self, prefix: str) -> str:
        self.ids += 1
        return f"{prefix}{self.ids}"

    def alive(self) -> list[BrokerOrder]:
        return [o for o in self.orders.values() if o.alive and o.filled < o.quantity]

    def traded(self) -> bool:
        """One ledger is one trade: no new entry once the package has held contracts."""
        return any(o.is_entry and o.filled for o in self.orders.values())

    def confirmable(self) -> list[BrokerOrder]:
        queued = {e.order_id for e in self.queue}
        return [o for o in self.orders.values() if o.needs_confirmation and o.order_id not in queued]

    # -- the strategy's orders ------------------------------------------------------------------------------
    @precondition(lambda self: self.ledger.can_enter() and not self.traded())
    @rule(qty=st.integers(1, 3), price=ENTRY_PRICES)
    def submit_entry(self, qty: int, price: float) -> None:
        order_id = self.next_id("E")
        self.ledger.submit_entry(order_id, qty, price)
        self.orders[order_id] = BrokerOrder(order_id, True, qty)

    @precondition(lambda self: self.ledger.can_exit())
    @rule(kind=st.sampled_from(ExitKind), data=st.data())
    def submit_exit(self, kind: ExitKind, data: st.DataObject) -> None:
        held = self.ledger.quantity
        qty = held if kind.closes_everything else data.draw(st.integers(1, held), label="partial qty")
        order_id = self.next_id("X")
        self.ledger.submit_exit(order_id, kind, qty)
        self.orders[order_id] = BrokerOrder(order_id, False, qty, kind)

    # -- the broker -----------------------------------------------------------------------------------------
    @precondition(lambda self: self.alive())
    @rule(data=st.data())
    def broker_fills(self, data: st.DataObject) -> None:
        order = data.draw(st.sampled_from(self.alive()), label="order")
        qty = data.draw(st.integers(1, order.quantity - order.filled), label="qty")
        price = data.draw(ENTRY_PRICES if order.is_entry else EXIT_PRICES, label="price")
        fill = Fill(order.order_id, self.next_id("exec-"), qty, price)
        order.fills.append(fill)
        self.queue.append(fill)
        if order.filled == order.quantity:
            order.alive = False
            if data.draw(st.booleans(), label="with Filled status"):
                self.queue.append(FilledStatus(order.order_id, order.filled, order.value / order.filled))

    @precondition(lambda self: self.alive())
    @rule(data=st.data(), kind=CANCEL_KINDS)
    def broker_cancels(self, data: st.DataObject, kind: str) -> None:
        order = data.draw(st.sampled_from(self.alive()), label="order")
        if kind == "error":  # ib_async's Cancelled(104): the order lives on and may still fill
            self.queue.append(Cancelled(order.order_id, from_error=True))
            order.needs_confirmation = True
            return
        order.alive = False
        avg = order.value / order.filled if order.filled and kind == "final" else 0.0
        self.queue.append(Cancelled(order.order_id, order.filled, avg))
        order.needs_confirmation = order.needs_confirmation or kind == "unpriced"

    @precondition(lambda self: any(not o.fills for o in self.alive()))
    @rule(data=st.data())
    def broker_rejects(self, data: st.DataObject) -> None:
        order = data.draw(st.sampled_from([o for o in self.alive() if not o.fills]), label="order")
        order.alive = False
        self.queue.append(Rejected(order.order_id, "test reject"))

    @precondition(lambda self: self.confirmable())
    @rule(data=st.data())
    def executions_confirm(self, data: st.DataObject) -> None:
        order = data.draw(st.sampled_from(self.confirmable()), label="order")
        self.confirm(order)

    def confirm(self, order: BrokerOrder) -> None:
        order.alive = False
        order.needs_confirmation = False
        self.deliver_event(NoFillConfirmed(order.order_id))

    # -- delivery: any order, duplicates ----------------------------------------------------------------------
    @precondition(lambda self: self.queue)
    @rule(data=st.data())
    def deliver(self, data: st.DataObject) -> None:
        event = self.queue.pop(data.draw(st.integers(0, len(self.queue) - 1), label="queue index"))
        self.deliver_event(event)

    @precondition(lambda self: self.delivered)
    @rule(data=st.data())
    def deliver_again(self, data: st.DataObject) -> None:
        self.ledger.apply(data.draw(st.sampled_from(self.delivered), label="duplicate"))

    def deliver_event(self, event: BrokerEvent) -> None:
        self.ledger.apply(event)
        self.delivered.append(event)

    # -- invariants ---------------------------------------------------------------------------------------------
    def working(self, *, entry: bool) -> bool:
        return any(o.working and o.is_entry is entry for o in self.ledger.orders)

    @invariant()
    def contracts_are_entry_fills_minus_exit_fills_and_never_negative(self) -> None:
        signed = 0
        for order in self.orders.values():
            booked = booked_from([e for e in self.delivered if e.order_id == order.order_id])
            assert booked <= order.filled, f"{order.order_id}: booked {booked} of {order.filled} really filled"
            signed += booked if order.is_entry else -booked
        assert self.ledger.quantity == signed >= 0

    @invariant()
    def nothing_is_booked_at_price_zero(self) -> None:
        for order in self.ledger.orders:
            assert order.avg_price is None or (math.isfinite(order.avg_price) and order.avg_price != 0.0), order

    @invariant()
    def no_zombie_an_exit_is_possible_when_contracts_are_held_and_no_exit_works(self) -> None:
        if self.ledger.quantity > 0 and not self.working(entry=False):
            assert self.ledger.state is PackageState.OPEN and self.ledger.can_exit()

    @invariant()
    def flat_iff_nothing_held_and_nothing_working(self) -> None:
        nothing = self.ledger.quantity == 0 and not self.working(entry=True) and not self.working(entry=False)
        assert (self.ledger.state is PackageState.FLAT) is nothing
        assert (self.ledger.state is PackageState.PENDING_EXIT) is self.working(entry=False)

    @invariant()
    def the_view_kept_between_changes_is_the_view_derived_afresh(self) -> None:
        """The risk book reads ``view`` on every bar; the ledger keeps it until its orders change."""
        for mark in (0.0, -125.0, -125.0):
            kept = self.ledger.view(mark)
            self.ledger._changed()  # forget everything derived: what the orders say now
            assert self.ledger.view(mark) == kept

    @invariant()
    def no_exit_closes_more_than_its_order_quantity(self) -> None:
        for order in self.ledger.orders:
            assert order.filled_qty <= order.quantity, order

    def teardown(self) -> None:
        """Deliver everything, confirm every tentative cancel: the booking equals the broker's truth."""
        while self.queue:
            self.deliver_event(self.queue.pop())
        for order in self.confirmable():
            self.confirm(order)
        by_id = {o.order_id: o for o in self.ledger.orders}
        for order in self.orders.values():
            assert by_id[order.order_id].filled_qty == order.filled, order
        entry_qty = sum(o.filled for o in self.orders.values() if o.is_entry)
        exit_qty = sum(o.filled for o in self.orders.values() if not o.is_entry)
        assert self.ledger.quantity == entry_qty - exit_qty
        if exit_qty:
            avg_entry = sum(o.value for o in self.orders.values() if o.is_entry) / entry_qty
            exit_value = sum(o.value for o in self.orders.values() if not o.is_entry)
            assert math.isclose(self.ledger.realized_pnl, (exit_value - avg_entry * exit_qty) * 100, abs_tol=1e-6)


FillRoutingMachine.TestCase.settings = settings(stateful_step_count=40, deadline=None)
test_fill_routing_stateful = FillRoutingMachine.TestCase
