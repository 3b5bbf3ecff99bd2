"""The simulated account's records: orders and their legs, executions, fills held back, holdings.

Plain data the broker (``broker``) changes on the server's loop; an execution and a fill also know how they
look on the wire (``execDetails``, ``commissionReport``), since the same one is sent live and again to
``reqExecutions``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from odte_nautilus.risk.time_units import NS_PER_SECOND
from odte_nautilus.sim.ib import outgoing
from odte_nautilus.sim.ib.contracts import BAG, IbContract
from odte_nautilus.sim.ib.outgoing import Message

WORKING = ("PreSubmitted", "Submitted")


@dataclass(slots=True)
class Leg:
    contract: IbContract
    ratio: int
    action: str  # the combo's own action for this leg (a single-leg order: BUY)
    exchange: str

    def sign(self, order_action: str) -> int:
        """+1 when the order buys this leg, -1 when it sells it."""
        return (1 if self.action == "BUY" else -1) * (1 if order_action == "BUY" else -1)


@dataclass(slots=True)
class Execution:
    exec_id: str
    order_id: int
    client_id: int
    perm_id: int
    account: str
    contract: IbContract
    exchange: str
    side: str  # BOT or SLD
    shares: int
    price: Decimal
    ts_ns: int
    cum_qty: int
    avg_price: Decimal
    order_ref: str
    commission: Decimal

    def commission_message(self) -> Message | None:
        """A leg's ``commissionReport``; a combo's own execution has none (IB sends them for legs only, and
        Nautilus takes an execution with a commission report for a leg fill)."""
        if self.contract.sec_type == "BAG":
            return None
        return outgoing.commission_report(self.exec_id, self.commission)

    def message(self, req_id: int) -> Message:
        when = datetime.fromtimestamp(self.ts_ns / NS_PER_SECOND, tz=UTC).strftime("%Y%m%d %H:%M:%S UTC")
        return outgoing.execution(
            req_id,
            self.order_id,
            self.contract,
            self.exchange,
            self.exec_id,
            when,
            self.account,
            self.side,
            self.shares,
            self.price,
            self.perm_id,
            self.client_id,
            self.cum_qty,
            self.avg_price,
            self.order_ref,
        )


@dataclass(slots=True)
class Fill:
    """One fill of an order and the status it left, kept until it is reported."""

    executions: list[Execution]
    status: Message
    open_order: Message
    duplicate: bool = False
    legs_only: bool = False

    def execution_messages(self) -> list[Message]:
        sent = [e for e in self.executions if not (self.legs_only and e.contract.sec_type == "BAG")]
        reports = [e.message(-1) for e in sent for _ in range(2 if self.duplicate else 1)]
        return reports + [m for e in sent if (m := e.commission_message()) is not None]


@dataclass(slots=True)
class Order:
    order_id: int
    client_id: int
    perm_id: int
    account: str
    bag: bool
    exchange: str
    legs: list[Leg]
    action: str
    qty: int
    order_type: str
    limit: Decimal | None
    tif: str
    order_ref: str
    combo_params: tuple[tuple[str, str], ...]
    status: str = "PreSubmitted"
    filled: int = 0
    value: Decimal = Decimal(0)  # the net prices paid, summed per combo
    last_price: Decimal = Decimal(0)
    last_fill_step: int = -1
    leg_filled: list[int] = field(default_factory=list)
    leg_value: list[Decimal] = field(default_factory=list)
    held: list[Fill] = field(default_factory=list)  # filled at the exchange, not reported yet
    release_step: int = 0
    cancel_refused: bool = False

    @property
    def working(self) -> bool:
        return self.status in WORKING

    @property
    def avg_price(self) -> Decimal:
        return self.value / self.filled if self.filled else Decimal(0)

    def status_message(self) -> Message:
        """``orderStatus`` as the order stands."""
        remaining = self.qty - self.filled
        return outgoing.order_status(
            self.order_id,
            self.status,
            self.filled,
            remaining,
            self.avg_price,
            self.perm_id,
            self.last_price,
            self.client_id,
        )

    def open_order_message(self) -> Message:
        """``openOrder`` as the order stands: the combo's own contract and its legs, or the option's."""
        described = BAG if self.bag else self.legs[0].contract
        legs = [(leg.contract.con_id, leg.ratio, leg.action, leg.exchange) for leg in self.legs] if self.bag else []
        return outgoing.open_order(
            self.order_id,
            described.fields(self.exchange),
            legs,
            self.action,
            self.qty,
            self.order_type,
            self.limit,
            self.tif,
            self.account,
            self.order_ref,
            self.client_id,
            self.perm_id,
            self.status,
            list(self.combo_params),
        )


@dataclass(slots=True)
class Holding:
    contract: IbContract
    qty: int = 0
    avg_price: Decimal = Decimal(0)  # per contract, not times the multiplier

    def add(self, qty: int, price: Decimal) -> None:
        after = self.qty + qty
        if self.qty == 0 or (self.qty > 0) != (after > 0) or after == 0:
            self.avg_price = price if after else Decimal(0)
        elif abs(after) > abs(self.qty):
            self.avg_price = (self.avg_price * abs(self.qty) + price * abs(qty)) / abs(after)
        self.qty = after
