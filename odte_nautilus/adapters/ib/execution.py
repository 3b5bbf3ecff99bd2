"""Nautilus's IB execution client with the project's rules for IB's order races (brokers.md B4, B7).

The node trades through NautilusTrader's own Interactive Brokers adapter; this subclass changes only what
seed 000's phantom position and the design's execution rules (§8) require of it:

- **A cancel is tentative until executions confirm it.** IB reports ``Cancelled`` for orders that filled:
  after error 104 (a modify raced a fill), when a cancel raced a fill (10148, the confirmation arriving
  before the execution), and as error 202. Nautilus closes the order at once, and a fill arriving after
  that is refused by the order's state machine: the position exists at the broker and not in the node. Here
  a ``Cancelled`` for an order with quantity left is held for ``cancel_confirm_seconds``; then the broker is
  asked for the order's executions (``reqExecutions``) and its open orders, the executions it reports are
  booked, an order the broker still works stays working, and only what is left is cancelled. Filled wins.
- **Filled is not the fill.** IB's fills are its executions; ``orderStatus Filled`` can come before them (late
  executions). Nautilus forgets the package's average on Filled, so executions arriving after it were never
  booked; here a Filled ahead of its executions only records the average, and the executions book the fill.
- **A package fill is booked at the package's price, before its legs.** Nautilus's combo fill carries the
  price of the leg execution that triggered it (its average in ``info``); the package ledger and the gate
  read ``last_px``, so the combo fill is re-priced at the package's own average from IB's ``orderStatus``.
  Nautilus also emits leg fills as soon as each leg executes, before the combo fill that covers them; the
  node's exposure counts a package fill's legs as held until their leg fills arrive (``node_exposure.py``),
  so a leg fill is held here until a booked package fill covers it, as the Alpaca adapter does.
- **An order IB never took is rejected; a refused change leaves the order working.** IB drops a message over
  its rate (error 100, pacing) and keeps nothing: Nautilus only logged it and the order stayed SUBMITTED
  for ever, counted by the gate as working. Here 100 on an order IB has not acknowledged rejects it. And a
  rejection of an order IB had accepted (a modify over the rate, an invalid price) is the modify's refusal,
  not the order's end: IB keeps the original working (ib_insync #502), so the node does too.
- **A reconnect reads what happened meanwhile.** Nautilus's IB client, back after a dropped socket, only
  resubscribes its market data; an order that filled while it was away stayed working in the node, its
  legs unknown. Here every reconnect asks IB for its executions and books the node's open orders' ones it has
  not seen, each package at the average of its legs' executions (IB's own average went to nobody).
- **A spread order finds its BAG contract.** The strategies build their packages' ``OptionSpread``s
  themselves (``packages.ensure_spread``), the same code as in the backtest; the provider learns the BAG
  contract of a spread id only when asked, so it is asked before the order is sent.

Duplicated executions (the same ``execId`` twice) are already dropped by Nautilus for spread orders; this
client drops them for single-leg orders too. Every order line is logged with ``[PAPER]`` (seed 003): the
client order id, IB's order id, each execution's id, price and size, every cancel and its reason.
"""

from __future__ import annotations

import asyncio
import copy
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from nautilus_trader.adapters.interactive_brokers.execution import InteractiveBrokersExecutionClient
from nautilus_trader.execution.messages import CancelOrder, ModifyOrder, SubmitOrder
from nautilus_trader.model.enums import OrderStatus
from nautilus_trader.model.identifiers import (
    ClientOrderId,
    InstrumentId,
    VenueOrderId,
    generic_spread_id_to_list,
    is_generic_spread_id,
)
from nautilus_trader.model.objects import Price
from nautilus_trader.model.orders import Order

CANCELLED_STATUSES = ("Cancelled", "ApiCancelled")
PACING = 100  # "Max rate of messages per second has been exceeded": the message was dropped
NOT_ACKNOWLEDGED = (OrderStatus.INITIALIZED, OrderStatus.SUBMITTED)
DEFAULT_CANCEL_CONFIRM_SECONDS = 1.0


@dataclass(slots=True)
class _HeldLegs:
    """Leg fills of one package order waiting for the package fill that covers them."""

    packages_booked: Decimal = Decimal(0)
    booked: dict[InstrumentId, Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    waiting: list[tuple[InstrumentId, Decimal, tuple[Any, ...]]] = field(default_factory=list)


class OdteInteractiveBrokersExecutionClient(InteractiveBrokersExecutionClient):
    """See the module docstring; everything else is Nautilus's IB execution client unchanged."""

    cancel_confirm_seconds: float = DEFAULT_CANCEL_CONFIRM_SECONDS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._tentative_cancels: dict[ClientOrderId, asyncio.Task] = {}
        self._seen_exec_ids: set[str] = set()
        self._held_legs: dict[ClientOrderId, _HeldLegs] = {}
        client: Any = self._client
        client.ORDER_REJECTION_CODES = frozenset({*client.ORDER_REJECTION_CODES, PACING})  # this client's only
        client._resume = self._resume_then_reconcile(client._resume)  # Nautilus resumes only market data

    @property
    def confirming(self) -> int:
        """Cancels held while executions are checked (the simulated session waits for none to be left)."""
        return len(self._tentative_cancels)

    # -- the BAG contract of a package ------------------------------------------------------------------------

    async def _submit_order(self, command: SubmitOrder) -> None:
        instrument_id = command.order.instrument_id
        if is_generic_spread_id(instrument_id) and instrument_id not in self.instrument_provider.contract:
            await self.instrument_provider.load_async(instrument_id)
        order = command.order
        price = getattr(order, "price", None)
        self._log.info(
            f"[PAPER] submit {order.client_order_id} {order.side_string()} {order.quantity} {instrument_id}"
            f" at {price if price is not None else 'market'} paper=true"
        )
        await super()._submit_order(command)

    async def _modify_order(self, command: ModifyOrder) -> None:
        self._log.info(f"[PAPER] modify {command.client_order_id} price={command.price} paper=true")
        await super()._modify_order(command)

    async def _cancel_order(self, command: CancelOrder) -> None:
        self._log.info(f"[PAPER] cancel {command.client_order_id} broker_order_id={command.venue_order_id} paper=true")
        await super()._cancel_order(command)

    # -- a cancel is tentative ------------------------------------------------------------------------------

    def _on_order_status(
        self,
        order_ref: str,
        order_status: str,
        avg_fill_price: float = 0.0,
        filled: Decimal = Decimal(0),
        remaining: Decimal = Decimal(0),
        reason: str = "",
        venue_order_id: VenueOrderId | None = None,
        why_held: str = "",
    ) -> None:
        order = self._order_of(order_ref, venue_order_id)
        if order_status == "Rejected" and order is not None and order.status not in NOT_ACKNOWLEDGED:
            self._refuse_change(order, reason)
            return
        if order_status in CANCELLED_STATUSES and order is not None and order.is_open:
            self._hold_cancel(order, reason)
            # The fill progress a Cancelled status carries (filled > 0 at a real average) is a fill's price.
            self._update_order_avg_price(order, avg_fill_price, Decimal(filled))
            return
        if order is not None and order_status == "Filled":
            self._drop_tentative(order.client_order_id)
            self._update_order_avg_price(order, avg_fill_price, Decimal(filled))
            if order.filled_qty < Decimal(filled):
                # The executions are late: keep the package's average for them (Nautilus drops it on Filled).
                return
        super()._on_order_status(
            order_ref, order_status, avg_fill_price, filled, remaining, reason, venue_order_id, why_held
        )

    def _refuse_change(self, order: Order, reason: str) -> None:
        self._log.warning(f"[PAPER] IB refused a change to {order.client_order_id} ({reason}): it keeps working")
        self.generate_order_modify_rejected(
            order.strategy_id,
            order.instrument_id,
            order.client_order_id,
            order.venue_order_id,
            reason or "refused by IB",
            self._clock.timestamp_ns(),
        )

    def _order_of(self, order_ref: str, venue_order_id: VenueOrderId | None) -> Order | None:
        if order_ref and (order := self._cache.order(ClientOrderId(order_ref))) is not None:
            return order
        if venue_order_id is not None and (client_order_id := self._cache.client_order_id(venue_order_id)):
            return self._cache.order(client_order_id)
        return None

    def _hold_cancel(self, order: Order, reason: str) -> None:
        client_order_id = order.client_order_id
        if client_order_id in self._tentative_cancels:
            return
        self._log.warning(
            f"IB reports {client_order_id} cancelled ({reason or 'no reason given'}): held as tentative until "
            f"the broker's executions confirm it (brokers.md B7)"
        )
        self._tentative_cancels[client_order_id] = self.create_task(self._confirm_cancel(client_order_id, reason))

    def _drop_tentative(self, client_order_id: ClientOrderId) -> None:
        task = self._tentative_cancels.pop(client_order_id, None)
        if task is not None:
            task.cancel()

    async def _confirm_cancel(self, client_order_id: ClientOrderId, reason: str) -> None:
        try:
            await asyncio.sleep(self.cancel_confirm_seconds)
            if not await self._book_broker_executions({client_order_id}):
                # No answer is not "no executions": keep the order open; reconciliation settles it later.
                self._log.warning(f"cannot confirm the cancel of {client_order_id}: the broker did not answer")
                return
            order = self._cache.order(client_order_id)
            if order is None or not order.is_open:
                return
            if await self._still_working(order):
                self._log.warning(f"{client_order_id} is still working at the broker: its Cancelled was not final")
                return
            self._log.info(f"[PAPER] cancelled {client_order_id} ({reason or 'by IB'}), confirmed paper=true")
            super()._on_order_status(client_order_id.value, "Cancelled", reason=reason)
        finally:
            self._tentative_cancels.pop(client_order_id, None)

    # -- what happened while nobody listened ------------------------------------------------------------------

    def _resume_then_reconcile(self, resume: Callable[[], None]) -> Callable[[], None]:
        def resume_and_reconcile() -> None:
            resume()
            self.create_task(self._after_reconnect())

        return resume_and_reconcile

    async def _after_reconnect(self) -> None:
        """The socket dropped and came back: book what IB executed for the node's open orders meanwhile."""
        await self._client.wait_until_ready()
        open_orders = {o.client_order_id for o in self._cache.orders_open() if o.venue_order_id is not None}
        if not open_orders:
            return
        self._log.warning(f"[PAPER] reconnected: reading IB's executions for {len(open_orders)} open order(s)")
        if not await self._book_broker_executions(open_orders):
            self._log.error("[PAPER] reconnected, but IB did not answer for its executions: positions unconfirmed")

    async def _book_broker_executions(self, client_order_ids: set[ClientOrderId]) -> bool:
        """Book every execution IB reports for these orders that the node has not seen (``reqExecutions``), and
        each package's fill at the average of its legs' executions when IB's own average will not come (no
        ``orderStatus`` reaches a client that was away). False when IB did not answer."""
        executions = await self._client.get_executions(account_id=self.account_id.get_id())
        if executions is None:
            return False
        wanted = {c.value for c in client_order_ids}
        mine = [d for d in executions if _order_ref(d["execution"]) in wanted]
        for detail in mine:
            execution = detail["execution"]
            self._on_exec_details(_order_ref(execution), execution, detail["commission_report"], detail["contract"])
        await asyncio.sleep(0)  # the fills just generated reach their orders
        for client_order_id in client_order_ids:
            order = self._cache.order(client_order_id)
            if order is not None and order.is_open and self._pending_combo_fills.get(client_order_id):
                legs = [d for d in mine if _order_ref(d["execution"]) == client_order_id.value]
                self._book_package_average(order, legs)
        return True

    def _book_package_average(self, order: Order, legs: list[dict]) -> None:
        """IB's average for a package, from its legs' executions: the sum over legs of ratio x average price."""
        ratios = dict(generic_spread_id_to_list(order.instrument_id))
        shares: dict[InstrumentId, Decimal] = defaultdict(Decimal)
        notional: dict[InstrumentId, Decimal] = defaultdict(Decimal)
        for detail in legs:
            leg_id = self.instrument_provider.contract_id_to_instrument_id.get(detail["contract"].conId)
            if leg_id in ratios:
                shares[leg_id] += Decimal(detail["execution"].shares)
                notional[leg_id] += Decimal(detail["execution"].shares) * Decimal(str(detail["execution"].price))
        if set(shares) != set(ratios):
            return  # a leg has not executed: no whole package to book yet
        packages = min(shares[leg] / abs(ratio) for leg, ratio in ratios.items())
        average = sum((ratio * notional[leg] / shares[leg] for leg, ratio in ratios.items()), Decimal(0))
        self._log.info(f"[PAPER] {order.client_order_id}: {packages} package(s) at {average} from its legs paper=true")
        self._update_order_avg_price(order, float(average), packages)

    async def _still_working(self, order: Order) -> bool:
        open_orders = await self._client.get_open_orders(self.account_id.get_id())
        return any(_order_ref(o) == order.client_order_id.value for o in open_orders or [])

    # -- executions: no duplicate, package fill first, at the package's price -------------------------------

    def _on_exec_details(self, order_ref: str, execution: Any, commission_report: Any, contract: Any) -> None:
        if execution.execId in self._seen_exec_ids:
            self._log.info(f"[PAPER] execution {execution.execId} already booked: duplicate dropped")
            return
        self._seen_exec_ids.add(execution.execId)
        self._log.info(
            f"[PAPER] fill {order_ref} broker_order_id={execution.orderId} execution_id={execution.execId}"
            f" {contract.localSymbol or contract.secType} {execution.side} {execution.shares} at {execution.price}"
            f" paper=true"
        )
        super()._on_exec_details(order_ref, execution, commission_report, contract)

    def _generate_combo_fill(
        self,
        nautilus_order: Order,
        execution: Any,
        contract: Any,
        commission_report: Any,
        venue_order_id: VenueOrderId,
        avg_px_override: Price | None = None,
    ) -> None:
        if avg_px_override is not None:
            execution = copy.copy(execution)
            execution.price = avg_px_override.as_double()
        super()._generate_combo_fill(
            nautilus_order, execution, contract, commission_report, venue_order_id, avg_px_override
        )
        held = self._held_legs.setdefault(nautilus_order.client_order_id, _HeldLegs())
        held.packages_booked += self._calculate_combo_quantity(nautilus_order, execution, contract)
        self._release_legs(nautilus_order, held)

    def _generate_leg_fill(
        self,
        nautilus_order: Order,
        execution: Any,
        contract: Any,
        commission_report: Any,
        venue_order_id: VenueOrderId,
    ) -> None:
        leg_id, _ratio = self._get_leg_instrument_id_and_ratio(nautilus_order.instrument_id, contract)
        if leg_id is None:
            return  # the BAG's own execution, or a contract not of this package: nothing to book on a leg
        held = self._held_legs.setdefault(nautilus_order.client_order_id, _HeldLegs())
        args = (nautilus_order, execution, contract, commission_report, venue_order_id)
        held.waiting.append((leg_id, Decimal(execution.shares), args))
        self._release_legs(nautilus_order, held)

    def _release_legs(self, order: Order, held: _HeldLegs) -> None:
        ratios = {leg_id: abs(ratio) for leg_id, ratio in generic_spread_id_to_list(order.instrument_id)}
        still_waiting = []
        for leg_id, qty, args in held.waiting:
            if held.booked[leg_id] + qty <= held.packages_booked * ratios.get(leg_id, 1):
                held.booked[leg_id] += qty
                super()._generate_leg_fill(*args)
            else:
                still_waiting.append((leg_id, qty, args))
        held.waiting = still_waiting


def _order_ref(execution_or_order: Any) -> str:
    """The client order id Nautilus put in IB's ``orderRef`` (it may carry a ``:suffix``)."""
    return str(execution_or_order.orderRef).rsplit(":", 1)[0]
