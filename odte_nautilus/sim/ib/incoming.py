"""What a client asks, read from its message fields (server version 178, text protocol).

Every request that names a contract writes the same twelve fields (conId .. tradingClass); ``placeOrder``
writes the order after them. The simulator reads ``placeOrder`` up to its what-if flag: what it trades
(contract, action, quantity, type, limit, time in force, account, reference, legs) comes first, then fields
it does not model (scale, hedge, algo ...) whose counts and flags say how many follow, then ``whatIf``, which
must never become a real order. Conditions, MiFID and later fields are not read.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from odte_nautilus.sim.ib.contracts import Spec
from odte_nautilus.sim.ib.wire import Fields


def contract(fields: Fields) -> Spec:
    return Spec(
        con_id=fields.integer(),
        symbol=fields.text(),
        sec_type=fields.text(),
        expiry=fields.text(),
        strike=fields.decimal(),
        right=fields.text(),
        multiplier=fields.text(),
        exchange=fields.text(),
        primary_exchange=fields.text(),
        currency=fields.text(),
        local_symbol=fields.text(),
        trading_class=fields.text(),
    )


@dataclass(frozen=True, slots=True)
class ComboLeg:
    con_id: int
    ratio: int
    action: str
    exchange: str


@dataclass(frozen=True, slots=True)
class Ticket:
    """A ``placeOrder``: a new order, or a change to the working order with the same id."""

    order_id: int
    contract: Spec
    action: str
    qty: Decimal
    order_type: str
    limit: Decimal | None
    tif: str
    account: str
    order_ref: str
    legs: tuple[ComboLeg, ...]
    combo_params: tuple[tuple[str, str], ...]
    what_if: bool


def place_order(fields: Fields) -> Ticket:
    order_id = fields.integer()
    spec = contract(fields)
    fields.skip(2)  # secIdType, secId
    action = fields.text()
    qty = fields.decimal() or Decimal(0)
    order_type = fields.text()
    limit = fields.decimal()
    fields.skip()  # auxPrice
    tif = fields.text()
    fields.skip()  # ocaGroup
    account = fields.text()
    fields.skip(2)  # openClose, origin
    order_ref = fields.text()
    fields.skip(8)  # transmit .. hidden
    legs: list[ComboLeg] = []
    params: list[tuple[str, str]] = []
    if spec.sec_type == "BAG":
        for _ in range(fields.integer()):
            legs.append(ComboLeg(fields.integer(), fields.integer(), fields.text(), fields.text()))
            fields.skip(4)  # openClose, shortSaleSlot, designatedLocation, exemptCode
        fields.skip(fields.integer())  # per-leg prices
        for _ in range(fields.integer()):
            params.append((fields.text(), fields.text()))
    what_if = _what_if(fields)
    return Ticket(
        order_id, spec, action, qty, order_type, limit, tif, account, order_ref, tuple(legs), tuple(params), what_if
    )


def _what_if(fields: Fields) -> bool:
    """Read past what the simulator does not model, to ``whatIf`` (server version 178: no faProfile)."""
    fields.skip(7)  # "", discretionaryAmt, goodAfterTime, goodTillDate, faGroup, faMethod, faPercentage
    fields.skip(22)  # modelCode .. overridePercentageConstraints, volatility, volatilityType
    if fields.text():  # deltaNeutralOrderType, then its aux price and its eight fields
        fields.skip(9)
    else:
        fields.skip()
    fields.skip(6)  # continuousUpdate, referencePriceType, trailStopPrice, trailingPercent, scale sizes
    increment = fields.decimal()  # scalePriceIncrement: seven scale fields follow a positive one
    if increment is not None and increment > 0:
        fields.skip(7)
    fields.skip(3)  # scaleTable, activeStartTime, activeStopTime
    if fields.text():  # hedgeType, then its parameter
        fields.skip()
    fields.skip(4)  # optOutSmartRouting, clearingAccount, clearingIntent, notHeld
    if fields.flag():  # a delta-neutral contract
        fields.skip(3)
    if fields.text():  # algoStrategy, then its parameters
        fields.skip(2 * fields.integer())
    fields.skip()  # algoId
    return fields.flag()
