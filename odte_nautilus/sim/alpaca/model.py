"""The broker's state (orders, legs, positions) and how Alpaca writes it on the wire.

State is kept as plain dataclasses so it survives a simulated broker restart as JSON (``to_json`` /
``from_json``): whatever the node reconciles after a restart must come back unchanged. Rendering follows
alpaca-py 0.44's ``Order`` and ``Position`` models and Alpaca's mleg shape (shared/reference/brokers.md A2,
A3): an mleg parent has empty ``symbol``/``side``/``asset_class``/``asset_id``/``position_intent``, a
``limit_price`` and ``filled_avg_price`` that are signed nets per package, and its ``legs`` are orders of
their own (own ids and client order ids, ``type: ""``, ``qty`` = parent qty x ``ratio_qty``, own fill
price). A parent always carries its legs: they are parts of one order, never separate rows of a list.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from decimal import Decimal

from odte_nautilus.sim.alpaca.symbols import asset_id
from odte_nautilus.sim.alpaca.wire import iso, text
from odte_nautilus.sim.replay import Quote

OPEN = frozenset({"accepted", "new", "partially_filled"})
MULTIPLIER = 100
_PRICE = Decimal("0.0001")  # average prices: a partial fill's average need not sit on the tick grid


@dataclass(slots=True)
class LegState:
    id: str
    client_order_id: str
    symbol: str
    side: str
    ratio: int
    position_intent: str | None
    filled_qty: int = 0
    filled_value: Decimal = Decimal(0)  # sum of price x contracts
    filled_at: int | None = None

    @property
    def signed_ratio(self) -> int:
        return self.ratio if self.side == "buy" else -self.ratio


@dataclass(slots=True)
class OrderState:
    id: str
    client_order_id: str
    order_class: str  # "simple" | "mleg"
    type: str
    qty: int
    limit_price: Decimal | None  # as sent
    net_limit: Decimal | None  # signed package net: the fill rule's limit
    legs: list[LegState]  # a single-leg order has one, sharing the order's id
    submitted_at: int
    status: str = "accepted"
    updated_at: int = 0
    filled_qty: int = 0
    filled_net: Decimal = Decimal(0)  # sum of net x packages
    last_fill_at: int | None = None
    filled_at: int | None = None
    canceled_at: int | None = None
    expired_at: int | None = None
    failed_at: int | None = None
    replaced_at: int | None = None
    replaced_by: str | None = None
    replaces: str | None = None

    @property
    def is_open(self) -> bool:
        return self.status in OPEN

    @property
    def mleg(self) -> bool:
        return self.order_class == "mleg"


@dataclass(slots=True)
class PositionState:
    symbol: str
    qty: int  # signed contracts
    avg_entry_price: Decimal

    def add(self, qty: int, price: Decimal) -> None:
        """Add a signed fill: an add averages in, a reduction keeps the entry price, a flip restarts it."""
        new = self.qty + qty
        if self.qty == 0 or (self.qty > 0) == (qty > 0):
            self.avg_entry_price = (self.avg_entry_price * abs(self.qty) + price * abs(qty)) / abs(new)
        elif new != 0 and (new > 0) != (self.qty > 0):
            self.avg_entry_price = price
        self.qty = new


@dataclass(slots=True)
class BrokerState:
    """Everything a broker restart must keep."""

    account_id: str
    account_number: str  # "PA..." on a paper account: the guards read it
    cash: Decimal
    orders: dict[str, OrderState] = field(default_factory=dict)
    positions: dict[str, PositionState] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), default=str)

    @classmethod
    def from_json(cls, raw: str) -> BrokerState:
        data = json.loads(raw)
        orders = {}
        for oid, o in data["orders"].items():
            legs = [LegState(**{**leg, "filled_value": Decimal(leg["filled_value"])}) for leg in o.pop("legs")]
            o["limit_price"], o["net_limit"] = _maybe_dec(o["limit_price"]), _maybe_dec(o["net_limit"])
            orders[oid] = OrderState(**{**o, "legs": legs, "filled_net": Decimal(o["filled_net"])})
        positions = {
            s: PositionState(p["symbol"], p["qty"], Decimal(p["avg_entry_price"])) for s, p in data["positions"].items()
        }
        return cls(data["account_id"], data["account_number"], Decimal(data["cash"]), orders, positions)


def _maybe_dec(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def _avg(value: Decimal, qty: int) -> str | None:
    return str((value / qty).quantize(_PRICE)) if qty else None


def _times(o: OrderState) -> dict:
    def stamp(ns: int | None) -> str | None:
        return None if ns is None else iso(ns)

    return {
        "created_at": iso(o.submitted_at),
        "updated_at": iso(o.updated_at or o.submitted_at),
        "submitted_at": iso(o.submitted_at),
        "filled_at": stamp(o.filled_at),
        "expired_at": stamp(o.expired_at),
        "expires_at": None,
        "canceled_at": stamp(o.canceled_at),
        "failed_at": stamp(o.failed_at),
        "replaced_at": stamp(o.replaced_at),
    }


def _status(o: OrderState, leg: LegState) -> str:
    if leg.filled_qty == o.qty * leg.ratio:
        return "filled"
    return "partially_filled" if leg.filled_qty and o.is_open else o.status


def leg_wire(o: OrderState, leg: LegState) -> dict:
    """One leg of an mleg order, as an order of its own."""
    return {
        "id": leg.id,
        "client_order_id": leg.client_order_id,
        **_times(o),
        "filled_at": None if leg.filled_at is None else iso(leg.filled_at),
        "replaced_by": None,
        "replaces": None,
        "asset_id": asset_id(leg.symbol),
        "symbol": leg.symbol,
        "asset_class": "us_option",
        "notional": None,
        "qty": str(o.qty * leg.ratio),
        "filled_qty": str(leg.filled_qty),
        "filled_avg_price": _avg(leg.filled_value, leg.filled_qty),
        "order_class": "mleg",
        "order_type": "",
        "type": "",
        "side": leg.side,
        "position_intent": leg.position_intent or "",
        "time_in_force": "day",
        "limit_price": None,
        "stop_price": None,
        "status": _status(o, leg),
        "extended_hours": False,
        "legs": None,
        "trail_percent": None,
        "trail_price": None,
        "hwm": None,
        "ratio_qty": str(leg.ratio),
    }


def order_wire(o: OrderState) -> dict:
    """The order as ``GET /v2/orders/{id}`` returns it (an mleg parent with its legs)."""
    body = {
        "id": o.id,
        "client_order_id": o.client_order_id,
        **_times(o),
        "replaced_by": o.replaced_by,
        "replaces": o.replaces,
        "notional": None,
        "qty": str(o.qty),
        "filled_qty": str(o.filled_qty),
        "order_class": o.order_class,
        "order_type": o.type,
        "type": o.type,
        "time_in_force": "day",
        "limit_price": text(o.limit_price),
        "stop_price": None,
        "status": o.status,
        "extended_hours": False,
        "trail_percent": None,
        "trail_price": None,
        "hwm": None,
    }
    if o.mleg:
        return {
            **body,
            "asset_id": "",
            "symbol": "",
            "asset_class": "",
            "side": "",
            "position_intent": "",
            "filled_avg_price": _avg(o.filled_net, o.filled_qty),
            "legs": [leg_wire(o, leg) for leg in o.legs],
            "ratio_qty": None,
        }
    [leg] = o.legs
    return {
        **body,
        "asset_id": asset_id(leg.symbol),
        "symbol": leg.symbol,
        "asset_class": "us_option",
        "side": leg.side,
        "position_intent": leg.position_intent,
        "filled_avg_price": _avg(leg.filled_value, leg.filled_qty),
        "legs": None,
        "ratio_qty": None,
    }


def position_wire(p: PositionState, quote: Quote | None) -> dict:
    """A position as ``GET /v2/positions`` returns it, marked at the quote's mid."""
    avg = p.avg_entry_price.quantize(_PRICE)
    cost = avg * p.qty * MULTIPLIER
    mid = (quote.bid + quote.ask) / 2 if quote is not None else avg
    value = mid * p.qty * MULTIPLIER
    return {
        "asset_id": asset_id(p.symbol),
        "symbol": p.symbol,
        "exchange": "",
        "asset_class": "us_option",
        "asset_marginable": False,
        "avg_entry_price": str(avg),
        "qty": str(p.qty),
        "qty_available": str(p.qty),
        "side": "long" if p.qty > 0 else "short",
        "market_value": str(value),
        "cost_basis": str(cost),
        "unrealized_pl": str(value - cost),
        "unrealized_plpc": str(((value - cost) / abs(cost)).quantize(_PRICE)) if cost else "0",
        "unrealized_intraday_pl": str(value - cost),
        "unrealized_intraday_plpc": str(((value - cost) / abs(cost)).quantize(_PRICE)) if cost else "0",
        "current_price": str(mid),
        "lastday_price": str(mid),
        "change_today": "0",
    }
