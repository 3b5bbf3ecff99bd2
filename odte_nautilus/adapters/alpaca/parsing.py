"""Nautilus orders -> Alpaca requests, and Alpaca's wire JSON -> Nautilus reports. Pure: no I/O.

Prices: a Nautilus spread order carries the package's price in the convention of its side (BUY at 2.45
pays 2.45, BUY at -2.45 receives 2.45, SELL at 2.45 receives 2.45). Alpaca's ``mleg`` ``limit_price`` is the
signed net of the package as sent: positive a debit, negative a credit (brokers.md A2). So the signed net
is the Nautilus price for a BUY and its negation for a SELL, and the same rule maps Alpaca's net fill
price back. Alpaca's decimals are strings (brokers.md A3); they are read as ``Decimal``.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import pandas as pd
from alpaca.trading.enums import OrderClass, PositionIntent
from alpaca.trading.enums import OrderSide as AlpacaSide
from alpaca.trading.enums import TimeInForce as AlpacaTif
from alpaca.trading.requests import LimitOrderRequest, MarketOrderRequest, OptionLegRequest, ReplaceOrderRequest
from nautilus_trader.core.uuid import UUID4
from nautilus_trader.execution.reports import OrderStatusReport, PositionStatusReport
from nautilus_trader.model.enums import OrderSide, OrderStatus, OrderType, PositionSide, TimeInForce
from nautilus_trader.model.identifiers import (
    AccountId,
    ClientOrderId,
    InstrumentId,
    VenueOrderId,
    generic_spread_id_to_list,
    is_generic_spread_id,
    new_generic_spread_id,
)
from nautilus_trader.model.objects import Price, Quantity

from odte_nautilus.adapters.alpaca.symbols import alpaca_symbol, instrument_id, underlying_id

Json = Mapping[str, Any]

ORDER_STATUS = {
    "pending_new": OrderStatus.SUBMITTED,
    "accepted": OrderStatus.ACCEPTED,
    "new": OrderStatus.ACCEPTED,
    "accepted_for_bidding": OrderStatus.ACCEPTED,
    "held": OrderStatus.ACCEPTED,
    "calculated": OrderStatus.ACCEPTED,
    "pending_cancel": OrderStatus.PENDING_CANCEL,
    "pending_replace": OrderStatus.PENDING_UPDATE,
    "partially_filled": OrderStatus.PARTIALLY_FILLED,
    "filled": OrderStatus.FILLED,
    "done_for_day": OrderStatus.EXPIRED,
    "expired": OrderStatus.EXPIRED,
    "canceled": OrderStatus.CANCELED,
    "replaced": OrderStatus.CANCELED,  # superseded: its replacement is the live order
    "stopped": OrderStatus.ACCEPTED,
    "suspended": OrderStatus.ACCEPTED,
    "rejected": OrderStatus.REJECTED,
}
OPEN_STATUSES = frozenset(
    k
    for k, v in ORDER_STATUS.items()
    if v not in (OrderStatus.CANCELED, OrderStatus.EXPIRED, OrderStatus.FILLED, OrderStatus.REJECTED)
)


class UnsupportedOrder(ValueError):
    """An order Alpaca cannot take for options: said before anything is sent."""


def decimal(value: Any) -> Decimal | None:
    return None if value in (None, "") else Decimal(str(value))


def nanos(stamp: str | None) -> int:
    return 0 if not stamp else int(pd.Timestamp(stamp).value)


def signed_net(side: OrderSide, price: float) -> float:
    """The package's signed net (debit > 0, credit < 0) of a Nautilus price on ``side``; also its inverse."""
    return price if side == OrderSide.BUY else -price


# -- outgoing ------------------------------------------------------------------------------------------


def _intent(buy: bool, traded: int, held: int) -> PositionIntent:
    """Close only what is held against the trade; anything else opens (Alpaca checks the intent)."""
    if buy:
        return PositionIntent.BUY_TO_CLOSE if -held >= traded else PositionIntent.BUY_TO_OPEN
    return PositionIntent.SELL_TO_CLOSE if held >= traded else PositionIntent.SELL_TO_OPEN


def _tif(tif: TimeInForce) -> AlpacaTif:
    if tif not in (TimeInForce.DAY, TimeInForce.GTC):
        raise UnsupportedOrder(f"time in force {tif.name}: Alpaca takes day orders only on options")
    return AlpacaTif.DAY  # a 0DTE contract dies with the day either way


def order_request(
    instrument: InstrumentId,
    side: OrderSide,
    order_type: OrderType,
    quantity: int,
    price: float | None,
    time_in_force: TimeInForce,
    client_order_id: str,
    held: Mapping[InstrumentId, int],
) -> LimitOrderRequest | MarketOrderRequest:
    """One Alpaca request for a Nautilus order: ``mleg`` for a generic spread id, a single leg otherwise.

    ``held`` is the account's signed position per option (the broker nets one account), which decides
    each leg's ``position_intent``.
    """
    if order_type not in (OrderType.LIMIT, OrderType.MARKET):
        raise UnsupportedOrder(f"{order_type.name} orders: Alpaca takes market and limit orders on options")
    sign = 1 if side == OrderSide.BUY else -1
    fields: dict[str, Any] = {
        "qty": quantity,
        "time_in_force": _tif(time_in_force),
        "client_order_id": client_order_id,
    }
    if is_generic_spread_id(instrument):
        legs = generic_spread_id_to_list(instrument)
        if not 2 <= len(legs) <= 4:
            raise UnsupportedOrder(f"{instrument}: an mleg order has 2 to 4 legs, this has {len(legs)}")
        fields["order_class"] = OrderClass.MLEG
        fields["legs"] = [
            OptionLegRequest(
                symbol=alpaca_symbol(leg),
                ratio_qty=abs(ratio),
                side=AlpacaSide.BUY if ratio * sign > 0 else AlpacaSide.SELL,
                position_intent=_intent(ratio * sign > 0, abs(ratio) * quantity, held.get(leg, 0)),
            )
            for leg, ratio in legs
        ]
    else:
        fields["symbol"] = alpaca_symbol(instrument)
        fields["side"] = AlpacaSide.BUY if sign > 0 else AlpacaSide.SELL
        fields["position_intent"] = _intent(sign > 0, quantity, held.get(instrument, 0))
    if order_type == OrderType.MARKET:
        return MarketOrderRequest(**fields)
    assert price is not None, "a limit order has a price"
    limit = signed_net(side, price) if is_generic_spread_id(instrument) else price
    return LimitOrderRequest(limit_price=round(limit, 2), **fields)


def replace_request(side: OrderSide, spread: bool, quantity: int | None, price: float | None) -> ReplaceOrderRequest:
    limit = None if price is None else round(signed_net(side, price) if spread else price, 2)
    return ReplaceOrderRequest(qty=quantity, limit_price=limit)


# -- incoming ------------------------------------------------------------------------------------------


def is_mleg(order: Json) -> bool:
    return order.get("order_class") == "mleg" and bool(order.get("legs"))


def traded_spread(order: Json) -> InstrumentId:
    """The spread an mleg order trades as sent (buy legs +ratio, sell legs -ratio): a BUY of this id."""
    return new_generic_spread_id(
        [
            (instrument_id(leg["symbol"]), int(Decimal(str(leg["ratio_qty"]))) * (1 if leg["side"] == "buy" else -1))
            for leg in order["legs"]
        ]
    )


def negated(spread: InstrumentId) -> InstrumentId:
    """The same package seen from the other side: buying it is selling ``spread``."""
    return new_generic_spread_id([(leg, -ratio) for leg, ratio in generic_spread_id_to_list(spread)])


def order_status_report(
    order: Json,
    account_id: AccountId,
    instrument: InstrumentId,
    side: OrderSide,
    client_order_id: ClientOrderId | None,
    price_precision: int,
    ts_init: int,
) -> OrderStatusReport:
    """A report of an Alpaca order (a package's parent or a single option) as Nautilus's reconciliation reads it.

    ``instrument`` and ``side`` are the order as the node knows it (a spread may be known by its negation).
    """
    status = ORDER_STATUS.get(order["status"], OrderStatus.ACCEPTED)
    spread = is_mleg(order)
    limit = decimal(order.get("limit_price"))
    avg = decimal(order.get("filled_avg_price"))
    if spread:  # signed nets -> the price in the convention of the order's side
        limit = None if limit is None else limit * (1 if side == OrderSide.BUY else -1)
        avg = None if avg is None else avg * (1 if side == OrderSide.BUY else -1)
    accepted = nanos(order.get("submitted_at") or order.get("created_at"))
    return OrderStatusReport(
        account_id=account_id,
        instrument_id=instrument,
        client_order_id=client_order_id,
        venue_order_id=VenueOrderId(order["id"]),
        order_side=side,
        order_type=OrderType.MARKET if order.get("type") == "market" else OrderType.LIMIT,
        time_in_force=TimeInForce.DAY,
        order_status=status,
        quantity=Quantity.from_str(str(Decimal(str(order["qty"])).normalize())),
        filled_qty=Quantity.from_str(str((decimal(order.get("filled_qty")) or Decimal(0)).normalize())),
        price=None if limit is None else Price(float(limit), price_precision),
        avg_px=avg,
        report_id=UUID4(),
        ts_accepted=accepted,
        ts_last=nanos(order.get("updated_at")) or accepted,
        ts_init=ts_init,
    )


def position_status_report(position: Json, account_id: AccountId, ts_init: int) -> PositionStatusReport:
    """A position of the account: an option, or shares of the underlying (an exercise or an assignment of an
    American option delivers them). ``qty`` is signed (``"-1"`` short)."""
    qty = Decimal(str(position["qty"]))
    side = PositionSide.FLAT if qty == 0 else PositionSide.LONG if qty > 0 else PositionSide.SHORT
    symbol = position["symbol"]
    return PositionStatusReport(
        account_id=account_id,
        instrument_id=instrument_id(symbol) if position.get("asset_class") == "us_option" else underlying_id(symbol),
        position_side=side,
        quantity=Quantity.from_str(str(abs(qty).normalize())),
        avg_px_open=decimal(position.get("avg_entry_price")),
        report_id=UUID4(),
        ts_last=ts_init,
        ts_init=ts_init,
    )
