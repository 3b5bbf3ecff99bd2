"""The node's books as the engine holds them: every strategy's positions and every order that may still fill.

Glue between Nautilus's cache and the pure core's worst-case model (``risk.exposure``): the kernel's view
is built from the engine's own cache - open orders and positions of *every* strategy, whoever sent them -
never from what one base class chose to record (design §3).

A snapshot is rebuilt only after something changed: the node's order and position events (subscribed
at a priority above the strategies', so no strategy can act on an event before the snapshot forgets the
old picture) and the gate's own approvals mark it stale. Between changes every check reuses it, which is
what keeps the per-order path inside its budget.

Two moments the cache alone gets wrong, and how they are closed:
- an order the gate allowed but the venue has not acknowledged yet is still INITIALIZED in the cache
  (live, the execution engine queues it): the gate's approvals count as working until the order closes;
- a package (spread) fill is published before its synthetic leg fills reach the leg positions: the filled
  but not yet booked legs are added to the sender's holdings until their leg fills arrive.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from nautilus_trader.model.enums import OrderSide, OrderStatus
from nautilus_trader.model.events import OrderFilled
from nautilus_trader.model.identifiers import ClientOrderId, InstrumentId, is_generic_spread_id
from nautilus_trader.model.instruments import OptionContract

from odte_nautilus.nautilus_internals import leg_parent
from odte_nautilus.orders import UnknownInstrument, package_legs, to_contract
from odte_nautilus.risk.exposure import WorkingOrder
from odte_nautilus.risk.model import Contract, Holding, IntentKind, Leg

if TYPE_CHECKING:
    from nautilus_trader.cache.cache import Cache
    from nautilus_trader.common.component import MessageBus
    from nautilus_trader.model.events import OrderEvent, PositionEvent

ORDER_EVENTS = "events.order.*"
POSITION_EVENTS = "events.position.*"
BEFORE_STRATEGIES = 100  # message-bus priority: the snapshot goes stale before any strategy sees the event

# Statuses of an order that can no longer trade, or never did.
_NOT_WORKING = {OrderStatus.DENIED, OrderStatus.REJECTED, OrderStatus.CANCELED, OrderStatus.EXPIRED, OrderStatus.FILLED}


@dataclass(frozen=True, slots=True)
class Snapshot:
    account: dict[str, Holding]
    strategies: dict[str, dict[str, Holding]]
    working: tuple[WorkingOrder, ...]


class NodeExposure:
    """What every strategy of one node holds and may still trade, read from the engine's cache."""

    def __init__(self, cache: Cache, msgbus: MessageBus) -> None:
        self._cache = cache
        self._snapshot: Snapshot | None = None
        self._contracts: dict[InstrumentId, Contract | None] = {}
        self._legs: dict[InstrumentId, tuple[Leg, ...]] = {}
        self._traded: dict[tuple[InstrumentId, OrderSide], tuple[Leg, ...]] = {}
        self._built: dict[str, WorkingOrder] = {}  # client order id -> its last WorkingOrder (reused if unchanged)
        self.kinds: dict[str, IntentKind] = {}  # client order id -> kind the gate derived when it allowed it
        # package order id -> (its strategy, leg id -> contracts filled but not yet in the leg's position)
        self._unbooked: dict[str, tuple[str, dict[str, int]]] = {}
        msgbus.subscribe(ORDER_EVENTS, self._on_order_event, priority=BEFORE_STRATEGIES)
        msgbus.subscribe(POSITION_EVENTS, self._on_position_event, priority=BEFORE_STRATEGIES)

    # -- what the gate asks ----------------------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        if self._snapshot is None:
            self._snapshot = self._build()
        return self._snapshot

    def legs(self, instrument_id: InstrumentId) -> tuple[Leg, ...]:
        """Per-package legs of an instrument (a spread's, or a single option's), memoised: they never change."""
        legs = self._legs.get(instrument_id)
        if legs is None:
            legs = self._legs[instrument_id] = package_legs(instrument_id, self._cache)
        return legs

    def traded_legs(self, instrument_id: InstrumentId, side: OrderSide) -> tuple[Leg, ...]:
        """An order's legs signed as traded (buying a package buys its + legs), memoised per side: the same
        tuple every time, which the kernel's per-package shape cache then finds at once."""
        key = (instrument_id, side)
        legs = self._traded.get(key)
        if legs is None:
            per_package = self.legs(instrument_id)
            sign = 1 if side == OrderSide.BUY else -1
            legs = self._traded[key] = tuple(Leg(leg.contract, leg.ratio * sign) for leg in per_package)
        return legs

    def approve(self, client_order_id: str, kind: IntentKind) -> None:
        self.kinds[client_order_id] = kind
        self._snapshot = None

    def forget(self, client_order_id: str) -> None:
        self.kinds.pop(client_order_id, None)
        self._snapshot = None

    def invalidate(self) -> None:
        self._snapshot = None

    # -- events ----------------------------------------------------------------------------------------

    def _on_position_event(self, event: PositionEvent) -> None:
        self._snapshot = None

    def _on_order_event(self, event: OrderEvent) -> None:
        self._snapshot = None
        if isinstance(event, OrderFilled):
            self._on_fill(event)

    def _on_fill(self, fill: OrderFilled) -> None:
        cid = fill.client_order_id.value
        sign = 1 if fill.order_side == OrderSide.BUY else -1
        qty = int(fill.last_qty)
        parent = leg_parent(cid)
        if parent is not None:  # a leg of a package fill is now in the leg's position
            found = self._unbooked.get(parent)
            if found is not None:
                unbooked = found[1]
                iid = fill.instrument_id.value
                left = unbooked.get(iid, 0) - sign * qty
                if left:
                    unbooked[iid] = left
                else:
                    unbooked.pop(iid, None)
                if not unbooked:
                    del self._unbooked[parent]
            return
        if not is_generic_spread_id(fill.instrument_id):
            return
        try:
            legs = self.legs(fill.instrument_id)
        except UnknownInstrument:
            return
        _, booked = self._unbooked.setdefault(cid, (fill.strategy_id.value, {}))
        for leg in legs:
            iid = leg.contract.instrument_id
            booked[iid] = booked.get(iid, 0) + sign * leg.ratio * qty

    # -- the snapshot ----------------------------------------------------------------------------------

    def contract(self, instrument_id: InstrumentId) -> Contract | None:
        if instrument_id not in self._contracts:
            instrument = self._cache.instrument(instrument_id)
            self._contracts[instrument_id] = to_contract(instrument) if isinstance(instrument, OptionContract) else None
        return self._contracts[instrument_id]

    def _build(self) -> Snapshot:
        cache = self._cache
        strategies: dict[str, dict[str, Holding]] = {}
        for position in cache.positions_open():
            contract = self.contract(position.instrument_id)
            if contract is not None:
                _add(strategies.setdefault(position.strategy_id.value, {}), contract, int(position.signed_qty))
        for owner, legs in self._unbooked.values():
            book = strategies.setdefault(owner, {})
            for iid, qty in legs.items():
                contract = self.contract(InstrumentId.from_str(iid))
                if contract is not None:
                    _add(book, contract, qty)
        account: dict[str, Holding] = {}
        for book in strategies.values():
            for holding in book.values():
                _add(account, holding.contract, holding.quantity)
        strategies = {sid: {k: h for k, h in book.items() if h.quantity} for sid, book in strategies.items()}
        account = {k: h for k, h in account.items() if h.quantity}
        return Snapshot(account, strategies, self._working())

    def _working(self) -> tuple[WorkingOrder, ...]:
        cache, kinds = self._cache, self.kinds
        orders = {o.client_order_id.value: o for o in cache.orders_open()}
        orders.update((o.client_order_id.value, o) for o in cache.orders_inflight())
        orders.update((o.client_order_id.value, o) for o in cache.orders_emulated())
        for cid in kinds.keys() - orders.keys():  # allowed, not yet acknowledged (or closed since)
            orders[cid] = cache.order(client_order_id(cid))
        out: list[WorkingOrder] = []
        for cid, order in orders.items():
            if order is None or order.status in _NOT_WORKING:
                kinds.pop(cid, None)
                continue
            if order.status == OrderStatus.INITIALIZED and cid not in kinds:
                continue  # built but never sent: nothing can fill it
            leaves = int(order.leaves_qty)
            if leaves <= 0:
                continue
            kind = kinds.get(cid, IntentKind.ENTRY)
            built = self._built.get(cid)
            if built is None or built.quantity != leaves or built.kind is not kind:
                try:
                    legs = self.traded_legs(order.instrument_id, order.side)
                except UnknownInstrument:
                    continue
                built = WorkingOrder(cid, order.strategy_id.value, legs, leaves, kind)
            out.append(built)
        self._built = {order.order_id: order for order in out}
        return tuple(out)

    def working_without(self, client_order_id: str) -> tuple[WorkingOrder, ...]:
        """The working orders other than ``client_order_id`` (an order is not its own competitor): the
        snapshot's own tuple when the order is not among them, so the kernel's index of it is reused."""
        working = self.snapshot().working
        for order in working:
            if order.order_id == client_order_id:
                return tuple([o for o in working if o.order_id != client_order_id])
        return working


def _add(book: dict[str, Holding], contract: Contract, quantity: int) -> None:
    held = book.get(contract.instrument_id)
    book[contract.instrument_id] = Holding(contract, quantity + (held.quantity if held else 0))


# Built for every working order of every snapshot; an id never changes its meaning.
client_order_id = lru_cache(maxsize=65_536)(ClientOrderId)
