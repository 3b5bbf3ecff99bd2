"""Order entry: a POST/PATCH body read and refused the way Alpaca refuses it, before any state changes.

Alpaca options take market and limit orders, time in force ``day`` only, no extended hours, whole contracts.
An ``mleg`` order has 2 to 4 legs on distinct contracts with ratios in simplest form, a ``qty`` of packages
and, when it is a limit, one signed net ``limit_price`` for the whole package (positive debit, negative
credit); a leg's side may be given by its ``position_intent`` alone. A single-leg order names a ``symbol``,
a ``side`` and a ``qty``. Numbers arrive as JSON numbers (alpaca-py) or strings (Alpaca's examples): both
are read.
"""

from __future__ import annotations

import math
from collections.abc import Container
from dataclasses import dataclass
from decimal import Decimal

from odte_nautilus.sim.alpaca.wire import MALFORMED, UNPROCESSABLE, ApiError, dec, whole

MAX_CLIENT_ORDER_ID = 128
_INTENT_SIDE = {"buy_to_open": "buy", "buy_to_close": "buy", "sell_to_open": "sell", "sell_to_close": "sell"}


@dataclass(frozen=True, slots=True)
class LegTicket:
    symbol: str
    side: str  # "buy" | "sell"
    ratio: int
    position_intent: str | None

    @property
    def signed_ratio(self) -> int:
        return self.ratio if self.side == "buy" else -self.ratio


@dataclass(frozen=True, slots=True)
class Ticket:
    """A validated new order: one leg for a single-leg order, 2-4 for mleg."""

    order_class: str  # "simple" | "mleg"
    type: str  # "market" | "limit"
    qty: int
    limit_price: Decimal | None  # as sent: signed net for mleg, a positive price for a single leg
    legs: tuple[LegTicket, ...]
    client_order_id: str | None

    @property
    def net_limit(self) -> Decimal | None:
        """The limit as a signed package net (buys positive), the fill rule's one comparison."""
        if self.limit_price is None or self.order_class == "mleg":
            return self.limit_price
        return self.limit_price if self.legs[0].side == "buy" else -self.limit_price


def new_order(body: object, contracts: Container[str]) -> Ticket:
    """Read a ``POST /v2/orders`` body; ``contracts`` are the symbols the simulated venue lists."""
    if not isinstance(body, dict):
        raise ApiError(MALFORMED, "request body must be a JSON object")
    order_class = body.get("order_class") or "simple"
    if order_class not in ("simple", "mleg"):
        raise ApiError(UNPROCESSABLE, f"order_class {order_class} is not supported for options")
    kind = body.get("type")
    if kind not in ("market", "limit"):
        raise ApiError(UNPROCESSABLE, f"order type {kind!r} is not supported for options (market or limit)")
    if body.get("time_in_force") != "day":
        raise ApiError(UNPROCESSABLE, "options orders must be time_in_force day")
    if body.get("extended_hours"):
        raise ApiError(UNPROCESSABLE, "extended hours are not supported for options")
    if body.get("notional") is not None or body.get("qty") is None:
        raise ApiError(UNPROCESSABLE, "qty is required for options orders (notional is not supported)")
    qty = whole(body["qty"], "qty")
    limit = dec(body["limit_price"], "limit_price") if body.get("limit_price") is not None else None
    if (kind == "limit") != (limit is not None):
        raise ApiError(UNPROCESSABLE, "limit_price is required for limit orders and only for them")
    if order_class == "mleg":
        legs = _legs(body.get("legs"), contracts)
    else:
        if limit is not None and limit <= 0:
            raise ApiError(UNPROCESSABLE, "limit_price must be positive for a single-leg order")
        legs = (_leg({**body, "ratio_qty": 1}, contracts),)
    return Ticket(order_class, kind, qty, limit, legs, client_order_id(body.get("client_order_id")))


def client_order_id(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not 0 < len(value) <= MAX_CLIENT_ORDER_ID:
        raise ApiError(MALFORMED, f"client_order_id must be a string of 1 to {MAX_CLIENT_ORDER_ID} characters")
    return value


def _legs(raw: object, contracts: Container[str]) -> tuple[LegTicket, ...]:
    if not isinstance(raw, list) or not 2 <= len(raw) <= 4:
        raise ApiError(UNPROCESSABLE, "an mleg order has 2 to 4 legs")
    legs = tuple(_leg(leg, contracts) for leg in raw)
    if len({leg.symbol for leg in legs}) != len(legs):
        raise ApiError(UNPROCESSABLE, "the legs of an mleg order must be distinct contracts")
    if math.gcd(*(leg.ratio for leg in legs)) != 1:
        raise ApiError(UNPROCESSABLE, "leg ratio_qty must be in simplest form (a 2:2 spread is qty 2 of 1:1)")
    return legs


def _leg(raw: object, contracts: Container[str]) -> LegTicket:
    if not isinstance(raw, dict):
        raise ApiError(MALFORMED, "a leg must be a JSON object")
    symbol, intent = raw.get("symbol"), raw.get("position_intent") or None
    if not isinstance(symbol, str) or not symbol:
        raise ApiError(UNPROCESSABLE, "symbol is required")
    if symbol not in contracts:
        raise ApiError(UNPROCESSABLE, f"asset {symbol} not found")
    if intent is not None and intent not in _INTENT_SIDE:
        raise ApiError(UNPROCESSABLE, f"invalid position_intent {intent!r}")
    side = raw.get("side") or (_INTENT_SIDE[intent] if intent else None)
    if side not in ("buy", "sell"):
        raise ApiError(UNPROCESSABLE, f"side must be buy or sell for {symbol}")
    if intent is not None and _INTENT_SIDE[intent] != side:
        raise ApiError(UNPROCESSABLE, f"position_intent {intent} contradicts side {side} for {symbol}")
    return LegTicket(symbol, side, whole(raw.get("ratio_qty", 1), "ratio_qty"), intent)


@dataclass(frozen=True, slots=True)
class Replacement:
    qty: int | None
    limit_price: Decimal | None
    client_order_id: str | None


def replacement(body: object) -> Replacement:
    """Read a ``PATCH /v2/orders/{id}`` body (qty, limit_price, time_in_force day, client_order_id)."""
    if not isinstance(body, dict):
        raise ApiError(MALFORMED, "request body must be a JSON object")
    if body.get("time_in_force", "day") != "day":
        raise ApiError(UNPROCESSABLE, "options orders must be time_in_force day")
    return Replacement(
        qty=whole(body["qty"], "qty") if body.get("qty") is not None else None,
        limit_price=dec(body["limit_price"], "limit_price") if body.get("limit_price") is not None else None,
        client_order_id=client_order_id(body.get("client_order_id")),
    )
