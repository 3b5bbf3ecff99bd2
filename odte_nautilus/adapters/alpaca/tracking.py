"""What Alpaca says about the node's orders, as the Nautilus events the rest of the project reads.

A package's fill is booked as the backtester books it (design §5): first an ``OrderFilled`` for the spread
order at the package's net price, then one per leg under ``<parent>-LEG-<leg symbol>``
(``nautilus_internals.LEG_MARK``) and venue order id ``<parent>-LEG-<position>``, with the leg's own price and
execution id, so the node's exposure, its books and the strategies' ledgers read a live fill exactly as a
simulated one. ``fills.OrderFills`` keeps that order (legs never ahead of their package) and books from
Alpaca's cumulative figures, so duplicated, late and out-of-order updates book nothing twice; execution ids
are de-duplicated before that. Trade updates and REST reads of an order (``apply_wire``) take one path.

Every line is logged with ``[PAPER]``: the client order id, the broker's id once known, each fill with its
execution id, and rejection reasons.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from nautilus_trader.cache.cache import Cache
from nautilus_trader.common.component import LiveClock, Logger
from nautilus_trader.live.execution_client import LiveExecutionClient
from nautilus_trader.model.currencies import USD
from nautilus_trader.model.enums import LiquiditySide, OrderSide, OrderType
from nautilus_trader.model.identifiers import (
    ClientOrderId,
    InstrumentId,
    StrategyId,
    TradeId,
    VenueOrderId,
    generic_spread_id_to_list,
    is_generic_spread_id,
)
from nautilus_trader.model.objects import Money, Price, Quantity
from nautilus_trader.model.orders import Order

from odte_nautilus.adapters.alpaca.fills import Cumulative, Execution, OrderFills
from odte_nautilus.adapters.alpaca.parsing import decimal, is_mleg, nanos, signed_net
from odte_nautilus.adapters.alpaca.symbols import alpaca_symbol
from odte_nautilus.nautilus_internals import LEG_MARK

FILL_EVENTS = frozenset({"fill", "partial_fill"})
RefreshLater = Callable[[ClientOrderId, str, Callable[[], bool]], None]


def trade_id(raw: str) -> TradeId:
    """Nautilus caps a trade id at 36 characters: Alpaca's execution ids (UUIDs) fit, longer ids are hashed."""
    if len(raw) <= 36:
        return TradeId(raw)
    return TradeId("H-" + hashlib.blake2b(raw.encode(), digest_size=16).hexdigest())


@dataclass(slots=True)
class Leg:
    instrument_id: InstrumentId
    position: int  # index in the spread id, as the backtester numbers leg venue order ids
    side: OrderSide  # as traded by this order


@dataclass(slots=True)
class Tracked:
    """A Nautilus order at Alpaca: who sent it, what it trades, what of it is booked (per broker order id:
    a replacement is a new broker order with its own cumulative figures)."""

    client_order_id: ClientOrderId
    strategy_id: StrategyId
    instrument_id: InstrumentId
    side: OrderSide
    order_type: OrderType
    legs: dict[str, Leg]  # Alpaca leg symbol -> leg; empty for a single option
    venue_order_id: str | None = None
    fills: dict[str, OrderFills] = field(default_factory=dict)
    accepted: bool = False
    done: bool = False
    unknown: bool = False  # a submit the broker never answered, nor a lookup after it: the poll asks again
    in_flight: bool = False  # its submit is on its way (a 429 backoff can hold it for a while)

    def book(self, broker_id: str) -> OrderFills:
        ratios = {s: abs(r) for s, r in _ratios(self.instrument_id).items()} if self.legs else {}
        return self.fills.setdefault(broker_id, OrderFills(ratios))


def _ratios(spread: InstrumentId) -> dict[str, int]:
    return {alpaca_symbol(leg): ratio for leg, ratio in generic_spread_id_to_list(spread)}


class OrderTracker:
    """The node's orders at Alpaca and the broker's news about them, turned into events of ``client``."""

    def __init__(
        self,
        client: LiveExecutionClient,
        cache: Cache,
        clock: LiveClock,
        log: Logger,
        fee: Decimal,
        refresh_later: RefreshLater,
    ) -> None:
        self._client = client
        self._cache = cache
        self._clock = clock
        self._log = log
        self._fee = fee  # per contract, on every leg fill, as the backtest charges it
        self._refresh_later = refresh_later
        self.orders: dict[ClientOrderId, Tracked] = {}
        self._by_broker_id: dict[str, ClientOrderId] = {}  # parent / single order / replacement -> its order
        self._leg_owner: dict[str, tuple[ClientOrderId, str]] = {}  # leg order id -> (order, parent broker id)
        self._orphans: dict[str, list[dict]] = {}  # leg updates that came before their parent was known
        self._seen: set[str] = set()  # execution ids booked
        self.duplicates = 0

    def reject(self, order: Order, reason: str) -> None:
        """``OrderRejected`` with the broker's reason (the order was reported submitted before)."""
        self._log.warning(f"[PAPER] rejected {order.client_order_id}: {reason}")
        self._client.generate_order_rejected(
            order.strategy_id, order.instrument_id, order.client_order_id, reason, self._clock.timestamp_ns()
        )

    def track(self, order: Order) -> Tracked:
        found = self.orders.get(order.client_order_id)
        if found is not None:
            return found
        legs: dict[str, Leg] = {}
        if is_generic_spread_id(order.instrument_id):
            buy = order.side == OrderSide.BUY
            for position, (leg, ratio) in enumerate(generic_spread_id_to_list(order.instrument_id)):
                side = OrderSide.BUY if (ratio > 0) == buy else OrderSide.SELL
                legs[alpaca_symbol(leg)] = Leg(leg, position, side)
        tracked = Tracked(
            order.client_order_id, order.strategy_id, order.instrument_id, order.side, order.order_type, legs
        )
        self.orders[order.client_order_id] = tracked
        return tracked

    def resolve(self, wire: dict) -> Tracked | None:
        """The tracked order a broker order (parent, single, replacement) belongs to; learns its ids."""
        broker_id = wire["id"]
        cid = self._by_broker_id.get(broker_id)
        if cid is None and wire.get("replaces") in self._by_broker_id:
            cid = self._by_broker_id[wire["replaces"]]
        if cid is None and wire.get("client_order_id"):
            cid = ClientOrderId(wire["client_order_id"])
            if cid not in self.orders:
                order = self._cache.order(cid)
                if order is None:
                    return None
                self._follow_existing(self.track(order), wire)
        if cid is None or cid not in self.orders:
            return None
        tracked = self.orders[cid]
        self._by_broker_id[broker_id] = cid
        if wire.get("replaced_by"):
            self._by_broker_id[wire["replaced_by"]] = cid
        for leg in wire.get("legs") or []:
            if leg["id"] not in self._leg_owner:
                self._leg_owner[leg["id"]] = (cid, broker_id)
                for update in self._orphans.pop(leg["id"], []):
                    self._on_leg_update(tracked, broker_id, update)
        return tracked

    def _follow_existing(self, tracked: Tracked, wire: dict) -> None:
        """An order the node knew before this client saw it (a restart): what is filled is already booked."""
        book = tracked.book(wire["id"])
        book.order.qty = decimal(wire.get("filled_qty")) or Decimal(0)
        book.order.notional = book.order.qty * (decimal(wire.get("filled_avg_price")) or Decimal(0))
        for leg in wire.get("legs") or []:
            filled = decimal(leg.get("filled_qty")) or Decimal(0)
            book.legs[leg["symbol"]] = Cumulative(filled, filled * (decimal(leg.get("filled_avg_price")) or 0))
        tracked.accepted = True
        tracked.venue_order_id = wire["id"]  # as the node holds it (a report named it): no update to send

    # -- the broker's news ---------------------------------------------------------------------------------

    def handle_update(self, data: dict) -> None:
        wire = data.get("order") or {}
        execution_id = data.get("execution_id")
        if execution_id and execution_id in self._seen:
            self.duplicates += 1
            self._log.info(f"[PAPER] duplicate execution {execution_id} ignored")
            return
        if wire.get("id") in self._leg_owner:
            cid, parent = self._leg_owner[wire["id"]]
            self._on_leg_update(self.orders[cid], parent, data)
        elif is_mleg(wire) or wire.get("order_class") != "mleg":
            tracked = self.resolve(wire)
            if tracked is None:
                self._log.warning(f"[PAPER] update for an order this node did not send: {wire.get('id')}")
                return
            if execution_id:
                self._seen.add(execution_id)
            self._on_order_update(tracked, wire, data)
        else:  # a leg of a package whose parent this client has not heard of yet
            self._orphans.setdefault(wire["id"], []).append(data)

    def _on_leg_update(self, tracked: Tracked, parent: str, data: dict) -> None:
        execution_id = data.get("execution_id")
        if execution_id in self._seen or data.get("event") not in FILL_EVENTS or not data.get("qty"):
            return
        if execution_id:
            self._seen.add(execution_id)
        wire = data["order"]
        ts = nanos(data.get("timestamp")) or self._clock.timestamp_ns()
        execution = Execution(
            data.get("execution_id") or f"{wire['id']}-{wire['filled_qty']}",
            Decimal(str(data["qty"])),
            Decimal(str(data["price"])),
            ts,
        )
        book = tracked.book(parent)
        if book.queue_leg(wire["symbol"], execution, decimal(wire.get("filled_qty")) or Decimal(0)):
            self._book_legs(tracked, parent, {}, ts)
        if book.waiting_legs():
            self._refresh_later(tracked.client_order_id, parent, book.waiting_legs)

    def apply_wire(self, tracked: Tracked, wire: dict, event: str | None = None) -> None:
        """A REST read (or answer) of an order, through the same path as a trade update."""
        self._by_broker_id.setdefault(wire["id"], tracked.client_order_id)
        self.resolve(wire)
        status = wire.get("status", "")
        self._on_order_update(tracked, wire, {"event": event or status, "order": wire, "timestamp": None})

    def _on_order_update(self, tracked: Tracked, wire: dict, data: dict) -> None:
        event = data.get("event")
        broker_id = wire["id"]
        ts = nanos(data.get("timestamp")) or self._clock.timestamp_ns()
        order = self._cache.order(tracked.client_order_id)
        if order is None or event == "replaced" or (tracked.done and event not in FILL_EVENTS):
            return
        if event == "rejected" or wire.get("status") == "rejected":
            self._finish(tracked, order, "rejected", broker_id, ts, data.get("reason") or "rejected by the broker")
            return
        self._acknowledge(tracked, order, wire, ts)
        self._book(tracked, wire, data, ts)
        status = wire.get("status", "")
        if event in ("order_cancel_rejected", "order_replace_rejected"):
            self._log.warning(f"[PAPER] {event} {tracked.client_order_id} broker_order_id={broker_id}")
        elif status in ("canceled", "expired", "done_for_day") and broker_id == tracked.venue_order_id:
            self._finish(tracked, order, status, broker_id, ts)

    def _acknowledge(self, tracked: Tracked, order: Order, wire: dict, ts: int) -> None:
        """The broker holds the order: ``accepted`` once; a new broker id (a replacement) is an update."""
        broker_id = wire["id"]
        if tracked.venue_order_id == broker_id or wire.get("replaced_by"):
            return
        first = tracked.venue_order_id is None
        tracked.venue_order_id = broker_id
        if first and not tracked.accepted:
            tracked.accepted = True
            self._log.info(f"[PAPER] accepted {tracked.client_order_id} broker_order_id={broker_id}")
            self._client.generate_order_accepted(
                tracked.strategy_id, tracked.instrument_id, tracked.client_order_id, VenueOrderId(broker_id), ts
            )
        else:  # a replacement, or the broker's id of an order a status report had the node accept
            limit = decimal(wire.get("limit_price"))
            price = None if limit is None else Price(float(self._price(tracked, limit)), 2)
            self._log.info(f"[PAPER] now broker_order_id={broker_id} for {tracked.client_order_id}")
            self._client.generate_order_updated(
                tracked.strategy_id,
                tracked.instrument_id,
                tracked.client_order_id,
                VenueOrderId(broker_id),
                Quantity.from_str(str(Decimal(str(wire["qty"])).normalize())),
                price,
                None,
                ts,
                True,
            )
        tracked.accepted = True

    def _price(self, tracked: Tracked, net: Decimal) -> Decimal:
        """A package's signed net as the Nautilus price of the order's side (a single option: as is)."""
        return Decimal(str(signed_net(tracked.side, float(net)))) if tracked.legs else net

    def _book(self, tracked: Tracked, wire: dict, data: dict, ts: int) -> None:
        broker_id = wire["id"]
        book = tracked.book(broker_id)
        qty, px = book.order.advance(
            decimal(wire.get("filled_qty")) or Decimal(0), decimal(wire.get("filled_avg_price"))
        )
        if qty:
            fresh = data.get("event") in FILL_EVENTS and data.get("execution_id")
            raw = data["execution_id"] if fresh else f"{broker_id}-{book.order.qty}"
            self._fill(tracked, broker_id, trade_id(raw), qty, self._price(tracked, px), ts)
        if tracked.legs:
            reported = {
                leg["symbol"]: (decimal(leg.get("filled_qty")) or Decimal(0), decimal(leg.get("filled_avg_price")))
                for leg in wire.get("legs") or []
            }
            self._book_legs(tracked, broker_id, reported, ts)

    def _book_legs(self, tracked: Tracked, parent: str, reported: dict, ts: int) -> None:
        for symbol, execution in tracked.book(parent).release_legs(reported, lambda s, q: f"{parent}|{s}|{q}", ts):
            self._leg_fill(tracked, parent, symbol, execution)

    def _fill(self, tracked: Tracked, broker_id: str, tid: TradeId, qty: Decimal, px: Decimal, ts: int) -> None:
        contracts = qty * sum(abs(r) for r in _ratios(tracked.instrument_id).values()) if tracked.legs else qty
        self._log.info(
            f"[PAPER] fill {tracked.client_order_id} broker_order_id={broker_id} execution_id={tid} {qty} @ {px}"
        )
        self._client.generate_order_filled(
            strategy_id=tracked.strategy_id,
            instrument_id=tracked.instrument_id,
            client_order_id=tracked.client_order_id,
            venue_order_id=VenueOrderId(broker_id),
            venue_position_id=None,
            trade_id=tid,
            order_side=tracked.side,
            order_type=tracked.order_type,
            last_qty=Quantity.from_str(str(qty.normalize())),
            last_px=Price(float(px), 2),
            quote_currency=USD,
            commission=Money(contracts * self._fee, USD),
            liquidity_side=LiquiditySide.TAKER,
            ts_event=ts,
        )

    def _leg_fill(self, tracked: Tracked, parent: str, symbol: str, execution: Execution) -> None:
        leg = tracked.legs[symbol]
        cid = ClientOrderId(f"{tracked.client_order_id.value}{LEG_MARK}{leg.instrument_id.symbol.value}")
        tid = trade_id(execution.trade_id)
        self._log.info(
            f"[PAPER] leg fill {cid} broker_order_id={parent} execution_id={tid} "
            f"{leg.side.name} {execution.qty} @ {execution.price}"
        )
        self._client.generate_order_filled(
            strategy_id=tracked.strategy_id,
            instrument_id=leg.instrument_id,
            client_order_id=cid,
            venue_order_id=VenueOrderId(f"{parent}{LEG_MARK}{leg.position}"),
            venue_position_id=None,
            trade_id=tid,
            order_side=leg.side,
            order_type=tracked.order_type,
            last_qty=Quantity.from_str(str(execution.qty.normalize())),
            last_px=Price(float(execution.price), 2),
            quote_currency=USD,
            commission=Money(execution.qty * self._fee, USD),
            liquidity_side=LiquiditySide.TAKER,
            ts_event=execution.ts_event,
        )

    def _finish(self, tracked: Tracked, order: Order, status: str, broker_id: str, ts: int, reason: str = "") -> None:
        tracked.done = True
        if order.is_closed:
            return
        cid, vid = tracked.client_order_id, VenueOrderId(broker_id)
        if status == "rejected":
            self.reject(order, reason)
        elif status == "canceled":
            self._log.info(f"[PAPER] canceled {cid} broker_order_id={broker_id}")
            self._client.generate_order_canceled(tracked.strategy_id, tracked.instrument_id, cid, vid, ts)
        else:
            self._log.info(f"[PAPER] expired {cid} broker_order_id={broker_id}")
            self._client.generate_order_expired(tracked.strategy_id, tracked.instrument_id, cid, vid, ts)
