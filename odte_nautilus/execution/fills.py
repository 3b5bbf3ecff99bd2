"""Fill routing: books broker events into one package so that seed 000's three incidents cannot repeat.

A ``PackageLedger`` owns one package's ``PackageFSM`` and every order the package sent, each registered with
its role: the entry, or an exit with an explicit ``ExitKind``. It books the plain events of ``events.py`` and
picks the state-machine trigger from *facts* -- which order the event is for and how many packages are held
afterwards -- never by asking the state (the orphaned contracts were fills routed by ``sm.is_open()``).

- Zombie position: any fill of an entry order, partial or full, fires ENTRY_FILLED (PENDING_ENTRY -> OPEN),
  even one that arrives after the entry's final status; a late remainder while OPEN/PENDING_EXIT adds contracts.
- Phantom position (IB error 104): a status is believed only when it carries a price (``is_priced``); a
  ``Cancelled`` with fills and a price is a fill. Nothing is ever booked at price 0.0: an unpriced execution
  raises ``UnpricedFill``; a ``Cancelled`` from an error path, or claiming fills it cannot price, is tentative
  (``cancel_unconfirmed``) and the package stays pending until an execution arrives or ``NoFillConfirmed``.
- Orphaned contracts: an exit ends by its own count: contracts left -> OPEN (a partial take-profit done, an
  exit voided), none left -> FLAT; a partial fill of a full exit keeps PENDING_EXIT with its remainder working.
- Idempotence: an order's booking is a function of the *set* of events seen for it -- executions keyed by
  execution id, statuses by their largest cumulative quantity -- so a duplicate changes nothing and any
  delivery order gives the same final booking.

Refusals (each raises a ``LedgerError`` and books nothing): an order id the ledger never registered
(``UnknownOrder``: the glue routes by order id, so it is a routing bug or a foreign order, which the glue
records for position reconciliation, seed 003); more filled than ordered or held (``Overfill``); an exit fill
after the exit's final status, or an execution id reused with other numbers (``FillConflict``, also recorded as
a review: booking it could over-close the package, so it waits for reconciliation).

P&L: a package bought at price p costs p x 100; realized P&L = (exit price - average entry price) x 100 per
package closed. Entry at -12 (1,200 received) and exit at -4 (400 paid) is +800. The average entry price is
over all of the package's entry fills, so it does not depend on the order events arrive in.

One ledger is one trade: once the package has held contracts, the next trade is a new ledger (a new package
id); an entry voided unfilled may be sent again.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from enum import StrEnum

from odte_nautilus.execution.events import (
    BrokerEvent,
    Cancelled,
    Fill,
    FilledStatus,
    NoFillConfirmed,
    Rejected,
)
from odte_nautilus.execution.package_fsm import PackageFSM, Trigger
from odte_nautilus.risk.model import ExitKind, Intent, Leg, PackageState, PackageView, max_loss

ENTRY_PRICE_TOLERANCE = 0.10  # seed 003 post-entry check: credit/debit matches expected (+-10 %)


def is_priced(price: float) -> bool:
    """A price the ledger may book at. Package prices are signed (credits are negative, IB #3884), so the
    seed's ``avg_fill > 0`` reads here as "a price was reported": finite and not 0.0."""
    return math.isfinite(price) and price != 0.0


class LedgerError(Exception):
    """An event the ledger refuses to book; nothing was changed."""


class UnknownOrder(LedgerError):
    """An event for an order this package never sent: the glue records it as unattributed and reconciles."""


class Overfill(LedgerError):
    """More filled than the order's quantity, or an exit closing more than is held."""


class UnpricedFill(LedgerError):
    """An execution without a price: never booked at 0.0 (the phantom position)."""


class FillConflict(LedgerError):
    """The broker contradicts itself (an exit filled after its final status, an execution id reused)."""


class Closure(StrEnum):
    """How an order ended without filling completely."""

    CANCELLED = "cancelled"
    REJECTED = "rejected"
    NO_FILL_CONFIRMED = "no fill confirmed"


class ReviewCode(StrEnum):
    ENTRY_PRICE_MISMATCH = "ENTRY_PRICE_MISMATCH"  # seed 003: credit/debit off expected by more than 10 %
    PARTIAL_ENTRY = "PARTIAL_ENTRY"  # seed 003: partial fill tracked, the remainder ended unfilled
    ORDER_REJECTED = "ORDER_REJECTED"  # seed 003: rejection -> manual review
    FILL_AFTER_FINAL_STATUS = "FILL_AFTER_FINAL_STATUS"  # the broker contradicted its own final status


@dataclass(frozen=True, slots=True)
class Review:
    """A package marked for review (seed 003), not silently accepted."""

    code: ReviewCode
    order_id: str
    message: str


@dataclass(frozen=True, slots=True)
class OrderRecord:
    """What the ledger knows of one order of the package; each event makes a new record."""

    order_id: str
    quantity: int
    exit_kind: ExitKind | None  # None: an entry order
    expected_price: float | None = None  # entries: the price given at submit (seed 003 post-entry check)
    executions: tuple[Fill, ...] = ()
    status_qty: int = 0  # the largest priced cumulative fill a status reported
    status_avg: float = 0.0
    closed_by: Closure | None = None  # the final status, None while there is none
    cancel_unconfirmed: bool = False  # cancelled on an error path / with unpriced fills: waits for executions

    @property
    def is_entry(self) -> bool:
        return self.exit_kind is None

    @property
    def role(self) -> str:
        return "entry" if self.exit_kind is None else f"exit {self.exit_kind.value}"

    @property
    def executed_qty(self) -> int:
        return sum(f.quantity for f in self.executions)

    @property
    def filled_qty(self) -> int:
        return max(self.executed_qty, self.status_qty)

    @property
    def filled_value(self) -> float:
        """Sum of quantity x package price over what is booked: the executions once they cover the status."""
        if self.executed_qty >= self.status_qty:
            return sum(f.quantity * f.price for f in self.executions)
        return self.status_qty * self.status_avg

    @property
    def avg_price(self) -> float | None:
        return self.filled_value / self.filled_qty if self.filled_qty else None

    @property
    def entry_price(self) -> float:
        """The price an entry was submitted with (``submit_entry`` takes no entry without one)."""
        if self.expected_price is None:
            raise LedgerError(f"order {self.order_id} is not an entry: it has no expected price")
        return self.expected_price

    @property
    def working(self) -> bool:
        return self.closed_by is None and self.filled_qty < self.quantity

    def after(self, event: BrokerEvent) -> OrderRecord:
        match event:
            case Fill():
                return replace(self, executions=(*self.executions, event))
            case FilledStatus(filled_qty=qty, avg_fill_price=avg):
                return self._with_status(qty, avg)
            case Cancelled(filled_qty=qty, avg_fill_price=avg, from_error=from_error):
                record = self._with_status(qty, avg)
                if not record.working:
                    return record
                if from_error or qty > record.filled_qty:  # the phantom: not believed until executions say
                    return replace(record, cancel_unconfirmed=True)
                return replace(record, closed_by=Closure.CANCELLED, cancel_unconfirmed=False)
            case Rejected():
                return replace(self, closed_by=Closure.REJECTED) if self.working else self
            case NoFillConfirmed():
                return replace(self, closed_by=Closure.NO_FILL_CONFIRMED) if self.working else self
        raise TypeError(f"not a broker event: {event!r}")

    def _with_status(self, qty: int, avg: float) -> OrderRecord:
        if qty > self.status_qty and is_priced(avg):
            return replace(self, status_qty=qty, status_avg=avg)
        return self


class PackageLedger:
    """One package's orders, fills, contracts, P&L and state (see the module docstring for the rules)."""

    def __init__(self, package_id: str, strategy_id: str, symbol: str, legs: tuple[Leg, ...]) -> None:
        if not legs:
            raise ValueError(f"package {package_id}: a package needs its legs")
        self.package_id = package_id
        self.strategy_id = strategy_id
        self.symbol = symbol
        self.legs = legs
        self._multiplier = legs[0].contract.multiplier
        self._fsm = PackageFSM()
        self._orders: dict[str, OrderRecord] = {}
        self._executions: dict[str, Fill] = {}
        self._reviews: list[Review] = []
        # Derived from the orders, kept until the next change (``_changed``): the strategy reads them on every bar.
        self._totals: dict[bool, tuple[int, float]] = {}  # entry? -> (filled qty, value)
        self._view: PackageView | None = None  # the last ``view``

    @classmethod
    def for_entry(cls, intent: Intent) -> PackageLedger:
        """The ledger of the package an entry intent opens (its legs are the package's legs as held)."""
        return cls(intent.package_id, intent.strategy_id, intent.symbol, intent.legs)

    # -- what the package is ---------------------------------------------------------------------------
    @property
    def state(self) -> PackageState:
        return self._fsm.state

    def can_enter(self) -> bool:
        return self._fsm.can_enter()

    def can_exit(self) -> bool:
        return self._fsm.can_exit()

    @property
    def orders(self) -> tuple[OrderRecord, ...]:
        return tuple(self._orders.values())

    @property
    def reviews(self) -> tuple[Review, ...]:
        return tuple(self._reviews)

    @property
    def cancel_unconfirmed(self) -> bool:
        """A cancel is waiting for executions to confirm it (the phantom position)."""
        return any(o.working and o.cancel_unconfirmed for o in self._orders.values())

    @property
    def quantity(self) -> int:
        """Packages held: entry fills minus exit fills."""
        return self._filled(entry=True)[0] - self._filled(entry=False)[0]

    @property
    def pending_entry_qty(self) -> int:
        """Packages still working on entry orders (seed 003: partial fill tracked, marked pending)."""
        return sum(o.quantity - o.filled_qty for o in self._orders.values() if o.is_entry and o.working)

    @property
    def avg_entry_price(self) -> float | None:
        qty, value = self._filled(entry=True)
        return value / qty if qty else None

    @property
    def filled_entry_price(self) -> float:
        """``avg_entry_price`` of a package whose entry has filled (what is held or was held has one)."""
        avg = self.avg_entry_price
        if avg is None:
            raise LedgerError(f"package {self.package_id}: no entry fill, so no entry price")
        return avg

    @property
    def realized_pnl(self) -> float:
        """Dollars realized on the packages closed so far, at the average entry price."""
        exit_qty, exit_value = self._filled(entry=False)
        avg_entry = self.avg_entry_price
        if not exit_qty or avg_entry is None:
            return 0.0
        return (exit_value - avg_entry * exit_qty) * self._multiplier

    def view(self, unrealized_pnl: float = 0.0) -> PackageView:
        """The package as the risk kernel sees it; open risk counts the entry remainder still working.

        Between two changes of the ledger only the P&L a caller marks differs: the rest is reused.
        """
        last = self._view
        if last is not None:
            if last.unrealized_pnl == unrealized_pnl:
                return last
            self._view = last = PackageView(
                last.package_id, last.strategy_id, last.symbol, last.state, last.legs, last.quantity,
                last.open_risk, unrealized_pnl,
            )  # fmt: skip
            return last
        held = self.quantity
        pending = [o for o in self._orders.values() if o.is_entry and o.working]
        open_risk = sum(max_loss(self.legs, o.entry_price, o.quantity - o.filled_qty) for o in pending)
        avg_entry = self.avg_entry_price
        if held and avg_entry is not None:  # None only while no entry filled, and then nothing is held
            open_risk += max_loss(self.legs, avg_entry, held)
        self._view = PackageView(
            package_id=self.package_id,
            strategy_id=self.strategy_id,
            symbol=self.symbol,
            state=self.state,
            legs=self.legs,
            quantity=held or self.pending_entry_qty,
            open_risk=open_risk,
            unrealized_pnl=unrealized_pnl,
        )
        return self._view

    # -- orders sent -----------------------------------------------------------------------------------
    def submit_entry(self, order_id: str, quantity: int, expected_price: float) -> PackageState:
        """Register the entry order (FLAT -> PENDING_ENTRY) with the price the strategy expects to fill at."""
        self._check_new_order(order_id, quantity)
        if not is_priced(expected_price):
            raise ValueError(
                f"package {self.package_id}: entry {order_id} needs the price it expects, got {expected_price}"
            )
        if self._filled(entry=True)[0]:
            raise LedgerError(
                f"package {self.package_id} has already traded; open a new PackageLedger (a new package id) "
                "for the next trade"
            )
        self._fsm.fire(Trigger.SUBMIT_ENTRY)
        self._orders[order_id] = OrderRecord(order_id, quantity, None, expected_price)
        self._changed()
        return self.state

    def submit_exit(self, order_id: str, exit_kind: ExitKind, quantity: int) -> PackageState:
        """Register an exit order (OPEN -> PENDING_EXIT) with its explicit kind.

        Only a partial take-profit may close fewer packages than are held; every other kind closes them all.
        """
        if not isinstance(exit_kind, ExitKind):
            raise TypeError(
                f"package {self.package_id}: exit {order_id} needs an explicit ExitKind, got {exit_kind!r} "
                "(seed 000: the orphaned contracts came from inferring it)"
            )
        self._check_new_order(order_id, quantity)
        held = self.quantity
        if quantity > held or (exit_kind.closes_everything and quantity != held):
            raise ValueError(
                f"package {self.package_id}: exit {order_id} ({exit_kind.value}) of {quantity} with {held} held; "
                "only a take_profit_partial may close fewer than all, and no exit more"
            )
        self._fsm.fire(Trigger.SUBMIT_EXIT)
        self._orders[order_id] = OrderRecord(order_id, quantity, exit_kind)
        self._changed()
        return self.state

    def settle(self, package_value: float) -> PackageState:
        """Close what is held at the exchange's expiry settlement value per package (design §12).

        Not a broker-reported fill price but the exchange's rule (intrinsic at the 16:00 index level), so
        0.0 is a real value here: an out-of-the-money package expires worthless. The engine cancels working
        orders before it settles, so a package still PENDING_EXIT means an event is missing: refused.
        """
        held = self.quantity
        if not held:
            return self.state
        if self.state is not PackageState.OPEN:
            raise LedgerError(
                f"package {self.package_id}: settlement while {self.state.name}; apply the expiry cancels first"
            )
        order_id = f"{self.package_id}-SETTLEMENT"
        self.submit_exit(order_id, ExitKind.SETTLEMENT, held)
        old = self._orders[order_id]
        new = replace(old, executions=(Fill(order_id, order_id, held, package_value),))
        self._orders[order_id] = new
        self._changed()
        self._route(old, new)
        return self.state

    def _changed(self) -> None:
        """Every change of the orders comes through here: what was derived from them is derived again."""
        self._totals.clear()
        self._view = None

    def _check_new_order(self, order_id: str, quantity: int) -> None:
        if order_id in self._orders:
            raise ValueError(f"package {self.package_id}: order id {order_id} is already registered")
        if quantity < 1:
            raise ValueError(f"package {self.package_id}: order {order_id} quantity must be >= 1, got {quantity}")

    # -- broker events ---------------------------------------------------------------------------------
    def apply(self, event: BrokerEvent) -> PackageState:
        """Book one broker event; returns the state after it. Raises ``LedgerError`` (booking nothing) if refused."""
        old = self._orders.get(event.order_id)
        if old is None:
            raise UnknownOrder(
                f"package {self.package_id}: {type(event).__name__} for order {event.order_id}, which this "
                "package never sent; record it as unattributed and reconcile positions with the broker"
            )
        if isinstance(event, Fill):
            self._check_execution(event)
            if event.execution_id in self._executions:
                return self.state  # the same execution delivered again
        new = old.after(event)
        self._check_booking(old, new, event)
        self._orders[new.order_id] = new
        self._changed()
        if isinstance(event, Fill):
            self._executions[event.execution_id] = event
        if isinstance(event, Rejected) and old.working:
            message = f"{new.role} order {new.order_id} rejected: {event.reason}"
            self._reviews.append(Review(ReviewCode.ORDER_REJECTED, new.order_id, message))
        self._route(old, new)
        return self.state

    def _check_execution(self, fill: Fill) -> None:
        if fill.quantity < 1:
            raise ValueError(f"package {self.package_id}: execution {fill.execution_id} has quantity {fill.quantity}")
        if not is_priced(fill.price):
            raise UnpricedFill(
                f"package {self.package_id}: execution {fill.execution_id} of order {fill.order_id} has price "
                f"{fill.price}; a fill is never booked at 0.0 (seed 000 phantom position)"
            )
        seen = self._executions.get(fill.execution_id)
        if seen is not None and seen != fill:
            raise FillConflict(
                f"package {self.package_id}: execution {fill.execution_id} was booked as {seen} and arrives again "
                f"as {fill}; reconcile with the broker's executions"
            )

    def _check_booking(self, old: OrderRecord, new: OrderRecord, event: BrokerEvent) -> None:
        """Refuse what cannot be true; an entry filled after its final status is booked (the zombie lesson:
        contracts the package does not know are worse) but marked for review."""
        added = new.filled_qty - old.filled_qty
        where = f"package {self.package_id}: {new.role} order {new.order_id}"
        if new.filled_qty > new.quantity:
            raise Overfill(f"{where} would be filled {new.filled_qty} of {new.quantity} by {event}")
        if added and not new.is_entry and self.quantity < added:
            raise Overfill(f"{where} would close {added} with {self.quantity} held ({event})")
        if added and not old.working:
            message = f"{where} fills {added} after its final status ({old.closed_by}); reconcile positions"
            self._reviews.append(Review(ReviewCode.FILL_AFTER_FINAL_STATUS, new.order_id, message))
            if not new.is_entry:  # booking it could over-close the package: refuse until reconciled
                raise FillConflict(message)

    def _route(self, old: OrderRecord, new: OrderRecord) -> None:
        """Fire the trigger the facts call for: the order's role, its own counts and the packages held."""
        added = new.filled_qty - old.filled_qty
        newly_unconfirmed = new.cancel_unconfirmed and not old.cancel_unconfirmed and new.working
        ended = old.working and not new.working
        if new.is_entry:
            if added:  # the zombie fix: every entry fill transitions, whatever the state
                self._fsm.fire(Trigger.ENTRY_FILLED)
            if newly_unconfirmed and not self.quantity:
                self._fsm.fire(Trigger.ENTRY_CANCEL_UNCONFIRMED)
            if ended:
                self._post_entry_checks(new)
                if not self.quantity and not self._exit_working():
                    self._fsm.fire(Trigger.ENTRY_VOID)
            return
        if added and new.working:
            self._fsm.fire(Trigger.EXIT_PARTIAL_FILL)
        if newly_unconfirmed:
            self._fsm.fire(Trigger.EXIT_CANCEL_UNCONFIRMED)
        if ended:
            if self.quantity:
                self._fsm.fire(Trigger.EXIT_PARTIAL_DONE if new.filled_qty == new.quantity else Trigger.EXIT_VOID)
            elif self.pending_entry_qty:
                self._fsm.fire(Trigger.EXIT_FLAT_ENTRY_WORKING)
            else:
                self._fsm.fire(Trigger.EXIT_FILLED_FLAT)

    def _post_entry_checks(self, entry: OrderRecord) -> None:
        """Seed 003 "Post-Entry Checks": the fill is verified, and a package that fails is marked for review."""
        if entry.filled_qty and entry.filled_qty < entry.quantity:
            message = f"entry {entry.order_id} filled {entry.filled_qty} of {entry.quantity} ({entry.closed_by})"
            self._reviews.append(Review(ReviewCode.PARTIAL_ENTRY, entry.order_id, message))
        avg, expected = entry.avg_price, entry.entry_price
        if avg is not None and abs(avg - expected) > ENTRY_PRICE_TOLERANCE * abs(expected) + 1e-9:
            message = (
                f"entry {entry.order_id} filled at {avg:.4f}, expected {expected:.4f} "
                f"(outside +-{ENTRY_PRICE_TOLERANCE:.0%})"
            )
            self._reviews.append(Review(ReviewCode.ENTRY_PRICE_MISMATCH, entry.order_id, message))

    def _exit_working(self) -> bool:
        return any(not o.is_entry and o.working for o in self._orders.values())

    def _filled(self, *, entry: bool) -> tuple[int, float]:
        """Filled packages and value over the entry (or exit) orders; read on every mark, so kept until a change."""
        totals = self._totals.get(entry)
        if totals is None:
            orders = [o for o in self._orders.values() if o.is_entry is entry]
            totals = self._totals[entry] = (sum(o.filled_qty for o in orders), sum(o.filled_value for o in orders))
        return totals

    def __repr__(self) -> str:
        return f"PackageLedger({self.package_id}, {self.state.name}, held={self.quantity})"
