"""The simulated IB account: orders and combos filled by the backtest's rule, executions, positions, cash.

Everything runs on the server's event loop, one call at a time; what a client would hear goes out through
``send(client_id, message)`` to the connection(s) of the client that placed the order (a client that is not
connected hears nothing, and learns the truth from ``reqExecutions``, ``reqOpenOrders`` and ``reqPositions``).

A combo (BAG) order has legs (conId, ratio, the combo's own action per leg) and a signed net limit per combo:
a BUY at a negative limit receives a credit. Each leg trades ``order action x leg action``. A limit is
marketable when the far-touch net of what the order trades (``sim.fills``) is at or below the limit for a
BUY, and for a SELL when selling the combo brings at least the limit; it fills at that far-touch net, each
leg at its own far side. A fill is reported as: one ``execDetails`` per leg (secType OPT, BOT/SLD, the leg's
price), one for the combo (secType BAG, the net price, unless a fault drops it), a ``commissionReport`` per
leg execution ($0.65 a contract; none for the combo's own, as IB), then ``openOrder`` and ``orderStatus``.
Resting orders are checked again on every replayed step. The races of ``faults`` change when and how this is sent.

A what-if order is refused (error 201) and never trades: the simulator has no margin model to answer it.

At the session close the day's working orders are cancelled and the options settle in cash at the index's
last close (in the money: intrinsic value; out: nothing), so the account ends flat.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from odte_nautilus.risk.model import OptionRight
from odte_nautilus.sim.fills import Touch, far_touch, marketable, packages_to_fill
from odte_nautilus.sim.ib import outgoing
from odte_nautilus.sim.ib.contracts import BAG, MULTIPLIER, Chain, IbContract
from odte_nautilus.sim.ib.faults import Faults
from odte_nautilus.sim.ib.incoming import Ticket
from odte_nautilus.sim.ib.outgoing import Message
from odte_nautilus.sim.ib.records import Execution, Fill, Holding, Leg, Order
from odte_nautilus.sim.replay import Market

Send = Callable[[int, Message], None]
COMMISSION = Decimal("0.65")  # per option contract, IB's tiered rate for small accounts
PACING = 100
CANNOT_MODIFY_FILLED = 104
DUPLICATE_ID = 103
NO_SECURITY = 200
REJECTED = 201
CANCELLED = 202
VALIDATION = 321
UNSUPPORTED_TYPE = 387
CANCEL_NOT_FOUND = 10147
CANCEL_FILLED = 10148


class OrderError(Exception):
    """An order refused before it exists: ``error(orderId, code, text)``."""

    def __init__(self, code: int, text: str) -> None:
        super().__init__(text)
        self.code = code
        self.text = text


class Broker:
    def __init__(
        self,
        market: Market,
        chain: Chain,
        faults: Faults,
        account: str,
        cash: Decimal,
        now: Callable[[], int],
        send: Send,
        changed: Callable[[], None],
    ) -> None:
        self.market = market
        self.chain = chain
        self.faults = faults
        self.account = account
        self.cash = cash
        self.orders: dict[tuple[int, int], Order] = {}  # (client id, order id): each client numbers its own
        self.executions: list[Execution] = []
        self.holdings: dict[int, Holding] = {}
        self._now = now
        self._send = send
        self._changed = changed
        self._step = 0
        self._late: list[tuple[int, int, list[Message]]] = []  # (release step, client id, messages)
        self._next_perm = 1_000_001
        self._next_exec = 1

    @property
    def next_order_id(self) -> int:
        """``nextValidId``: above every order id any client has used."""
        return max((order_id for _, order_id in self.orders), default=0) + 1

    # -- orders ---------------------------------------------------------------------------------------

    def place(self, client_id: int, ticket: Ticket) -> None:
        """``placeOrder``: a new order, or a change to the client's order with that id (another client's
        order with the same id is another order, as on TWS)."""
        order = self.orders.get((client_id, ticket.order_id))
        if order is not None:
            self._modify(order, ticket)
            return
        try:
            order = self._accept(client_id, ticket)
        except OrderError as refused:
            self._send(client_id, outgoing.error(ticket.order_id, refused.code, refused.text))
            return
        self.orders[client_id, order.order_id] = order
        self._report_status(order, "PreSubmitted")
        order.status = "Submitted"
        self._send(order.client_id, order.status_message())
        self._try_fill(order)
        self._end_if_ioc(order)

    def cancel(self, client_id: int, order_id: int) -> None:
        order = self.orders.get((client_id, order_id))
        if order is None or (not order.working and not order.held):
            text = f"OrderId {order_id} that needs to be cancelled is not found."
            self._send(client_id, outgoing.error(order_id, CANCEL_NOT_FOUND, text))
            return
        self._cancel_or_lose_race(order)

    def global_cancel(self) -> None:
        """``reqGlobalCancel``: every client's working orders (each owner hears of its own)."""
        for order in list(self.orders.values()):
            if order.working or order.held:
                self._cancel_or_lose_race(order)

    # -- the market moves -----------------------------------------------------------------------------

    def on_step(self) -> None:
        """A replayed step: late reports fall due, then resting orders are checked against the quotes."""
        self._step += 1
        due = [late for late in self._late if late[0] <= self._step]
        self._late = [late for late in self._late if late[0] > self._step]
        for _, client_id, messages in due:
            for message in messages:
                self._send(client_id, message)
        for order in list(self.orders.values()):
            if order.held and order.release_step <= self._step:
                self._release(order)
        for order in list(self.orders.values()):
            if order.working and order.last_fill_step != self._step:
                self._try_fill(order)

    def expire(self, index_close: Decimal | None) -> None:
        """The close: every report goes out, working orders are cancelled, options settle in cash."""
        for _, client_id, messages in self._late:
            for message in messages:
                self._send(client_id, message)
        self._late.clear()
        for order in self.orders.values():
            self._release(order)
            if order.working:
                order.status = "Cancelled"
                self._send(order.client_id, order.status_message())
        for con_id, held in list(self.holdings.items()):
            contract = held.contract
            if index_close is not None:
                sign = 1 if contract.right == OptionRight.CALL.value else -1
                intrinsic = max(Decimal(0), sign * (index_close - contract.strike))
                self.cash += intrinsic * held.qty * MULTIPLIER
            del self.holdings[con_id]
        self._changed()

    # -- what the account holds -----------------------------------------------------------------------

    def mark(self, contract: IbContract) -> Decimal:
        """A contract's mark: the latest quote's mid (zero before its first quote)."""
        quote = self.market.latest.get(contract.key or "")
        return (quote.bid + quote.ask) / 2 if quote is not None else Decimal(0)

    def account_values(self) -> list[tuple[str, str, str]]:
        """(key, value, currency) as ``updateAccountValue`` and ``accountSummary`` show them: positions
        marked at mid, no margin model (available funds are the net liquidation value)."""
        positions = sum((self.mark(h.contract) * h.qty * MULTIPLIER for h in self.holdings.values()), Decimal(0))
        gross = sum((abs(self.mark(h.contract) * h.qty) * MULTIPLIER for h in self.holdings.values()), Decimal(0))
        net = self.cash + positions
        money = {
            "NetLiquidation": net,
            "TotalCashValue": self.cash,
            "CashBalance": self.cash,
            "EquityWithLoanValue": net,
            "GrossPositionValue": gross,
            "AvailableFunds": net,
            "FullAvailableFunds": net,
            "ExcessLiquidity": net,
            "FullExcessLiquidity": net,
            "BuyingPower": net,
            "InitMarginReq": Decimal(0),
            "FullInitMarginReq": Decimal(0),
            "MaintMarginReq": Decimal(0),
            "FullMaintMarginReq": Decimal(0),
        }
        values = [(key, f"{value:.2f}", "USD") for key, value in money.items()]
        return [("AccountCode", self.account, ""), ("AccountType", "INDIVIDUAL", ""), *values]

    def open_orders(self, client_id: int | None) -> list[Message]:
        """``reqOpenOrders`` (one client's) / ``reqAllOpenOrders`` (``None``): the working orders as they
        stand, whatever has been reported."""
        messages = []
        for order in self.orders.values():
            if order.working and (client_id is None or order.client_id == client_id):
                messages += [order.open_order_message(), order.status_message()]
        return messages

    # -- internals ------------------------------------------------------------------------------------

    def _refuse_by_fault(self) -> None:
        """A new order or a modify the faults refuse: a pacing violation (100) or a rejection (201)."""
        if self.faults.paced("placeOrder"):
            raise OrderError(PACING, "Max rate of messages per second has been exceeded.")
        if self.faults.take("reject_next"):
            raise OrderError(REJECTED, f"Order rejected - reason:{self.faults.reject_reason}")

    def _accept(self, client_id: int, ticket: Ticket) -> Order:
        if ticket.what_if:
            raise OrderError(REJECTED, "Order rejected - reason:the simulator answers no what-if orders.")
        if ticket.order_id <= 0:
            raise OrderError(VALIDATION, "Error validating request: the order id must be positive.")
        if self._now() >= self.market.session.close_ns:
            raise OrderError(REJECTED, "Order rejected - reason:The market is closed for the day.")
        self._refuse_by_fault()
        if ticket.account and ticket.account != self.account:
            raise OrderError(VALIDATION, f"Error validating request: unknown account {ticket.account}.")
        if ticket.action not in ("BUY", "SELL"):
            raise OrderError(VALIDATION, f"Error validating request: action {ticket.action!r}.")
        if ticket.qty <= 0 or ticket.qty != ticket.qty.to_integral_value():
            raise OrderError(VALIDATION, "Error validating request: the quantity must be whole contracts.")
        if ticket.order_type not in ("LMT", "MKT"):
            raise OrderError(UNSUPPORTED_TYPE, "Unsupported order type for this exchange and security type.")
        if ticket.order_type == "LMT" and ticket.limit is None:
            raise OrderError(VALIDATION, "Error validating request: a limit order needs a limit price.")
        if ticket.tif not in ("DAY", "GTC", "IOC", ""):
            raise OrderError(VALIDATION, f"Error validating request: time in force {ticket.tif!r}.")
        bag = ticket.contract.sec_type == "BAG"
        legs = self._combo_legs(ticket) if bag else [self._single_leg(ticket)]
        order = Order(
            order_id=ticket.order_id,
            client_id=client_id,
            perm_id=self._next_perm,
            account=self.account,
            bag=bag,
            exchange=ticket.contract.exchange or "SMART",
            legs=legs,
            action=ticket.action,
            qty=int(ticket.qty),
            order_type=ticket.order_type,
            limit=ticket.limit if ticket.order_type == "LMT" else None,
            tif=ticket.tif or "DAY",
            order_ref=ticket.order_ref,
            combo_params=ticket.combo_params,
            leg_filled=[0] * len(legs),
            leg_value=[Decimal(0)] * len(legs),
        )
        self._next_perm += 1
        return order

    def _single_leg(self, ticket: Ticket) -> Leg:
        found = self.chain.find(ticket.contract)
        if len(found) != 1:
            raise OrderError(NO_SECURITY, "No security definition has been found for the request")
        if found[0].sec_type != "OPT":
            raise OrderError(REJECTED, "Order rejected - reason:an index is not tradable.")
        return Leg(found[0], 1, "BUY", ticket.contract.exchange or "SMART")

    def _combo_legs(self, ticket: Ticket) -> list[Leg]:
        if not ticket.legs:
            raise OrderError(VALIDATION, "Error validating request: a BAG order needs combo legs.")
        if len({leg.con_id for leg in ticket.legs}) != len(ticket.legs):
            raise OrderError(VALIDATION, "Error validating request: the legs must be distinct contracts.")
        legs = []
        for leg in ticket.legs:
            contract = self.chain.get(leg.con_id)
            if contract is None or contract.sec_type != "OPT":
                raise OrderError(NO_SECURITY, "No security definition has been found for the request")
            if leg.ratio <= 0 or leg.action not in ("BUY", "SELL"):
                raise OrderError(VALIDATION, "Error validating request: a leg needs a positive ratio and an action.")
            legs.append(Leg(contract, leg.ratio, leg.action, leg.exchange or "SMART"))
        return legs

    def _modify(self, order: Order, ticket: Ticket) -> None:
        if order.held and not order.working:
            # Filled at the exchange, not reported yet: seed 000's race.
            self._send(order.client_id, _cannot_modify(order))
            if self.faults.cancelled_after_104:
                self._send(order.client_id, self._premature_cancel(order))
            self._release(order)
            return
        if order.status == "Filled":
            self._send(order.client_id, _cannot_modify(order))
            return
        if not order.working:
            self._send(order.client_id, outgoing.error(order.order_id, DUPLICATE_ID, "Duplicate order id"))
            return
        self._release(order)
        try:
            self._refuse_by_fault()
            if ticket.qty < order.filled or ticket.qty != ticket.qty.to_integral_value():
                raise OrderError(VALIDATION, "Error validating request: the quantity cannot go below what has filled.")
            if ticket.order_type == "LMT" and ticket.limit is None:
                raise OrderError(VALIDATION, "Error validating request: a limit order needs a limit price.")
        except OrderError as refused:  # the order keeps working as it was (ib_insync #502)
            self._send(order.client_id, outgoing.error(order.order_id, refused.code, refused.text))
            return
        order.qty = int(ticket.qty)
        order.order_type = ticket.order_type
        order.limit = ticket.limit if ticket.order_type == "LMT" else None
        order.status = "Submitted" if order.filled < order.qty else "Filled"
        self._report_status(order, order.status)
        self._try_fill(order)

    def _cancel_or_lose_race(self, order: Order) -> None:
        if order.working and self.faults.take("fill_on_cancel"):
            self._fill_before_cancel(order)
        if order.held and not order.working:
            self._refuse_cancel(order)
            return
        self._release(order)
        self._cancel(order)

    def _fill_before_cancel(self, order: Order) -> None:
        """The exchange fills what is left just before the cancel arrives: at the far touch when that is
        marketable, else at the limit (the market touched it), the difference put on the first leg."""
        legs = [(leg.contract.key or "", leg.sign(order.action) * leg.ratio) for leg in order.legs]
        touch = far_touch(legs, self.market.latest)
        if touch is None:
            return
        limit = self._net_limit(order)
        if not marketable(touch, limit) and limit is not None:
            first = legs[0][1]
            prices = (touch.leg_prices[0] + (limit - touch.net) / first, *touch.leg_prices[1:])
            touch = Touch(limit, prices)
        self._execute(order, touch, order.qty - order.filled, hold=True)

    def _refuse_cancel(self, order: Order) -> None:
        """The cancel raced a fill the client has not heard of: Cancelled, 10148, then the fill."""
        self._send(order.client_id, self._premature_cancel(order))
        text = f"OrderId {order.order_id} that needs to be cancelled cannot be cancelled, state: Filled."
        self._send(order.client_id, outgoing.error(order.order_id, CANCEL_FILLED, text))
        self._release(order)
        order.cancel_refused = True

    def _premature_cancel(self, order: Order) -> Message:
        """An ``orderStatus Cancelled`` for an order that has in fact filled (nothing filled, all remaining)."""
        return outgoing.order_status(
            order.order_id, "Cancelled", 0, order.qty, Decimal(0), order.perm_id, Decimal(0), order.client_id
        )

    def _cancel(self, order: Order) -> None:
        order.status = "Cancelled"
        self._send(order.client_id, order.status_message())
        self._send(order.client_id, outgoing.error(order.order_id, CANCELLED, "Order Canceled - reason:"))

    def _end_if_ioc(self, order: Order) -> None:
        if order.tif == "IOC" and order.working:
            self._cancel(order)

    def _try_fill(self, order: Order) -> None:
        legs = [(leg.contract.key or "", leg.sign(order.action) * leg.ratio) for leg in order.legs]
        touch = far_touch(legs, self.market.latest)
        if touch is None:
            return
        if not marketable(touch, self._net_limit(order)):
            return
        self._execute(order, touch, packages_to_fill(order.qty, order.filled, self.faults.partial_fill))

    @staticmethod
    def _net_limit(order: Order) -> Decimal | None:
        """The limit on the far-touch net of what the order trades: a SELL's limit is what it must receive."""
        if order.limit is None:
            return None
        return order.limit if order.action == "BUY" else -order.limit

    def _execute(self, order: Order, touch: Touch, packages: int, hold: bool = False) -> None:
        now = self._now()
        price = touch.net if order.action == "BUY" else -touch.net
        order.filled += packages
        order.value += price * packages
        order.last_price = price
        order.last_fill_step = self._step
        order.status = "Filled" if order.filled == order.qty else "Submitted"
        executions = []
        for i, (leg, leg_price) in enumerate(zip(order.legs, touch.leg_prices, strict=True)):
            sign = leg.sign(order.action)
            shares = packages * leg.ratio
            order.leg_filled[i] += shares
            order.leg_value[i] += leg_price * shares
            commission = COMMISSION * shares
            self.holdings.setdefault(leg.contract.con_id, Holding(leg.contract)).add(sign * shares, leg_price)
            if self.holdings[leg.contract.con_id].qty == 0:
                del self.holdings[leg.contract.con_id]
            self.cash -= sign * shares * leg_price * MULTIPLIER + commission
            side = "BOT" if sign > 0 else "SLD"
            so_far = (order.leg_filled[i], order.leg_value[i] / order.leg_filled[i])
            executions.append(self._execution(order, leg.contract, side, shares, leg_price, now, so_far, commission))
        if order.bag:
            side = "BOT" if order.action == "BUY" else "SLD"
            so_far = (order.filled, order.avg_price)
            executions.append(self._execution(order, BAG, side, packages, price, now, so_far, Decimal(0)))
        self.executions += executions
        fill = Fill(executions, order.status_message(), order.open_order_message())
        self._report_fill(order, fill, hold)
        self._changed()

    def _execution(
        self,
        order: Order,
        contract: IbContract,
        side: str,
        shares: int,
        price: Decimal,
        now: int,
        so_far: tuple[int, Decimal],
        commission: Decimal,
    ) -> Execution:
        """One execution; ``so_far`` is what the order has filled of this contract and at what average."""
        exec_id = f"0000f{self.market.session.trading_date:%m%d}.{self._next_exec:08x}.01.01"
        self._next_exec += 1
        return Execution(
            exec_id,
            order.order_id,
            order.client_id,
            order.perm_id,
            order.account,
            contract,
            order.exchange,
            side,
            shares,
            price,
            now,
            *so_far,
            order.order_ref,
            commission,
        )

    def _report_fill(self, order: Order, fill: Fill, hold: bool) -> None:
        if hold or order.held or self.faults.take("unreported_fills"):
            if not order.held:
                order.release_step = self._step + self.faults.unreported_steps
            order.held.append(fill)
            return
        fill.duplicate = self.faults.take("duplicate_executions")
        fill.legs_only = order.bag and self.faults.take("legs_only_executions")
        if self.faults.take("late_executions"):
            self._send(order.client_id, fill.open_order)
            self._send(order.client_id, fill.status)
            self._late.append((self._step + self.faults.late_steps, order.client_id, fill.execution_messages()))
            return
        self._deliver(order.client_id, fill)

    def _release(self, order: Order) -> None:
        """Report the fills held back from the client, in the order they happened."""
        held, order.held = order.held, []
        for fill in held:
            self._deliver(order.client_id, fill)

    def _deliver(self, client_id: int, fill: Fill) -> None:
        for message in fill.execution_messages():
            self._send(client_id, message)
        self._send(client_id, fill.open_order)
        self._send(client_id, fill.status)

    def _report_status(self, order: Order, status: str) -> None:
        order.status = status
        self._send(order.client_id, order.open_order_message())
        self._send(order.client_id, order.status_message())


def _cannot_modify(order: Order) -> Message:
    return outgoing.error(order.order_id, CANNOT_MODIFY_FILLED, "Can't modify a filled order.")
