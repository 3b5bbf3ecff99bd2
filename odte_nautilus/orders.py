"""Nautilus orders and instruments -> the pure core's Contract, Leg and Intent.

This is glue (design §2): the only place that reads a Nautilus order to ask "what would this do
to the account?". The engine gate uses it for every order, whoever sent it. Strategies tag their orders
with the package and the exit kind, so the reports never have to guess which exit it was (the
orphaned-contracts lesson). A tag *names*; it never grants: whether an order is an exit is derived from
the sender's book (``risk.exposure.derive_kind``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nautilus_trader.core.uuid import UUID4
from nautilus_trader.execution.messages import CancelOrder
from nautilus_trader.model.enums import OptionKind, OrderSide, PriceType
from nautilus_trader.model.identifiers import InstrumentId, generic_spread_id_to_list, is_generic_spread_id
from nautilus_trader.model.instruments import Instrument, OptionContract
from nautilus_trader.model.orders import Order

from odte_nautilus.risk.model import Contract, ExitKind, Intent, IntentKind, Leg, OptionRight

if TYPE_CHECKING:
    from nautilus_trader.cache.cache import Cache

PACKAGE_TAG = "odte:package="
EXIT_TAG = "odte:exit="


class UnknownInstrument(LookupError):
    """An order names an instrument (or a spread leg) that is not in the cache: it cannot be risk-checked."""


class MalformedTag(ValueError):
    """An order carries an ``odte:`` tag the project cannot read: it is denied, never guessed at."""


def package_tags(package_id: str, exit_kind: ExitKind | None = None) -> list[str]:
    """Tags a strategy puts on its orders so the gate and the fill router know the package and exit kind."""
    tags = [f"{PACKAGE_TAG}{package_id}"]
    if exit_kind is not None:
        tags.append(f"{EXIT_TAG}{exit_kind.value}")
    return tags


def read_tags(tags: list[str] | None) -> tuple[str | None, ExitKind | None]:
    """The package id and exit kind an order's tags name; ``MalformedTag`` for an ``odte:`` tag we cannot read."""
    package_id, exit_kind = None, None
    for tag in tags or ():
        if tag.startswith(PACKAGE_TAG) and tag != PACKAGE_TAG:
            package_id = tag.removeprefix(PACKAGE_TAG)
        elif tag.startswith(EXIT_TAG):
            try:
                exit_kind = ExitKind(tag.removeprefix(EXIT_TAG))
            except ValueError:
                raise MalformedTag(f"tag {tag!r} names no exit kind ({', '.join(k.value for k in ExitKind)})") from None
        elif tag.startswith("odte:"):
            raise MalformedTag(f"tag {tag!r} is not an odte tag ({PACKAGE_TAG}ID, {EXIT_TAG}KIND)")
    return package_id, exit_kind


def option_right(option: OptionContract) -> OptionRight:
    return OptionRight.CALL if option.option_kind == OptionKind.CALL else OptionRight.PUT


def to_contract(instrument: Instrument) -> Contract:
    if not isinstance(instrument, OptionContract):
        raise UnknownInstrument(f"{instrument.id} is a {type(instrument).__name__}, not an option contract")
    return Contract(
        instrument_id=instrument.id.value,
        underlying=instrument.underlying,
        right=option_right(instrument),
        strike=instrument.strike_price.as_double(),
        expiry_ns=instrument.expiration_ns,
        multiplier=int(instrument.multiplier),
    )


def package_legs(instrument_id: InstrumentId, cache: Cache) -> tuple[Leg, ...]:
    """The per-package legs of a generic spread id, or the single leg of a plain option (ratio +1)."""
    pairs = generic_spread_id_to_list(instrument_id) if is_generic_spread_id(instrument_id) else [(instrument_id, 1)]
    legs = []
    for leg_id, ratio in pairs:
        instrument = cache.instrument(leg_id)
        if instrument is None:
            raise UnknownInstrument(f"{leg_id} is not in the cache (leg of {instrument_id})")
        legs.append(Leg(to_contract(instrument), int(ratio)))
    return tuple(legs)


def signed_price(order: Order, cache: Cache, price: float | None = None) -> float:
    """Per-package price in the core's convention (debit > 0, credit < 0).

    A limit order carries its price (or the price a modify would give it); a market order is priced at the
    touch it would take, or 0.0 when no quote is cached.
    """
    buy = order.side == OrderSide.BUY
    if price is not None:
        px = price
    elif order.has_price:
        px = order.price.as_double()
    else:
        quote = cache.quote_tick(order.instrument_id)
        px = (
            0.0
            if quote is None
            else cache.price(order.instrument_id, PriceType.ASK if buy else PriceType.BID).as_double()
        )
    return px if buy else -px


def order_intent(
    order: Order,
    legs: tuple[Leg, ...],
    quantity: int,
    price: float,
    kind: IntentKind,
    now_ns: int,
) -> Intent:
    """What an order would do, as an Intent of the kind derived from its sender's book.

    The exit kind a tag names is kept for the reports when the order *is* an exit; on an entry it means
    nothing. An untagged exit is a MANUAL one.
    """
    package_id, exit_kind = read_tags(order.tags)
    if kind is IntentKind.EXIT and exit_kind is None:
        exit_kind = ExitKind.MANUAL
    return Intent(
        kind=kind,
        strategy_id=order.strategy_id.value,
        symbol=legs[0].contract.underlying,
        package_id=package_id or order.client_order_id.value,
        legs=legs,
        quantity=quantity,
        price=price,
        ts_ns=now_ns,
        exit_kind=exit_kind if kind is IntentKind.EXIT else None,
    )


def cancel_command(order: Order, ts_ns: int) -> CancelOrder:
    """The command that cancels ``order``, in its own strategy's name (the gate, the adapter, the tests)."""
    return CancelOrder(
        trader_id=order.trader_id,
        strategy_id=order.strategy_id,
        instrument_id=order.instrument_id,
        client_order_id=order.client_order_id,
        venue_order_id=order.venue_order_id,
        command_id=UUID4(),
        ts_init=ts_ns,
    )
