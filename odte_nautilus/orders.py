"""Nautilus orders and instruments -> the pure core's Contract, Leg and Intent.

This is glue (DESIGN decision 2): the only place that reads a Nautilus order to ask "what would this do
to the account?". The engine gate uses it for every order, whoever sent it; strategies tag their own
orders so the gate knows the package and the exit kind without guessing (the orphaned-contracts lesson:
never infer the kind of an exit).
"""

from __future__ import annotations

from nautilus_trader.model.enums import OptionKind, OrderSide, PriceType
from nautilus_trader.model.identifiers import InstrumentId, generic_spread_id_to_list, is_generic_spread_id
from nautilus_trader.model.instruments import Instrument, OptionContract
from nautilus_trader.model.orders import Order

from odte_nautilus.risk.model import Contract, ExitKind, Holding, Intent, IntentKind, Leg, OptionRight

PACKAGE_TAG = "odte:package="
EXIT_TAG = "odte:exit="


class UnknownInstrument(LookupError):
    """An order names an instrument (or a spread leg) that is not in the cache: it cannot be risk-checked."""


def package_tags(package_id: str, exit_kind: ExitKind | None = None) -> list[str]:
    """Tags a strategy puts on its orders so the gate and the fill router know the package and exit kind."""
    tags = [f"{PACKAGE_TAG}{package_id}"]
    if exit_kind is not None:
        tags.append(f"{EXIT_TAG}{exit_kind.value}")
    return tags


def read_tags(tags: list[str] | None) -> tuple[str | None, ExitKind | None]:
    package_id, exit_kind = None, None
    for tag in tags or ():
        if tag.startswith(PACKAGE_TAG):
            package_id = tag.removeprefix(PACKAGE_TAG)
        elif tag.startswith(EXIT_TAG):
            exit_kind = ExitKind(tag.removeprefix(EXIT_TAG))
    return package_id, exit_kind


def to_contract(instrument: Instrument) -> Contract:
    if not isinstance(instrument, OptionContract):
        raise UnknownInstrument(f"{instrument.id} is a {type(instrument).__name__}, not an option contract")
    return Contract(
        instrument_id=instrument.id.value,
        underlying=instrument.underlying,
        right=OptionRight.CALL if instrument.option_kind == OptionKind.CALL else OptionRight.PUT,
        strike=instrument.strike_price.as_double(),
        expiry_ns=instrument.expiration_ns,
        multiplier=int(instrument.multiplier),
    )


def package_legs(instrument_id: InstrumentId, cache) -> tuple[Leg, ...]:
    """The per-package legs of a generic spread id, or the single leg of a plain option (ratio +1)."""
    if is_generic_spread_id(instrument_id):
        pairs = generic_spread_id_to_list(instrument_id)
    else:
        pairs = [(instrument_id, 1)]
    legs = []
    for leg_id, ratio in pairs:
        instrument = cache.instrument(leg_id)
        if instrument is None:
            raise UnknownInstrument(f"{leg_id} is not in the cache (leg of {instrument_id})")
        legs.append(Leg(to_contract(instrument), int(ratio)))
    return tuple(legs)


def holdings_from_cache(cache) -> dict[str, Holding]:
    """The account's net option positions as the engine sees them (not as any strategy believes)."""
    holdings: dict[str, Holding] = {}
    for position in cache.positions_open():
        instrument = cache.instrument(position.instrument_id)
        if not isinstance(instrument, OptionContract):
            continue
        cid = position.instrument_id.value
        prev = holdings[cid].quantity if cid in holdings else 0
        holdings[cid] = Holding(to_contract(instrument), prev + int(position.signed_qty))
    return {k: v for k, v in holdings.items() if v.quantity}


def _signed_price(order: Order, cache) -> float:
    """Per-package price in the core's convention (debit > 0, credit < 0).

    A limit order carries its price; a market order is priced at the touch it would take (or 0.0 when no
    quote is cached, which only the exit path can meet: entries are limit orders).
    """
    buy = order.side == OrderSide.BUY
    if order.has_price:
        px = order.price.as_double()
    else:
        quote = cache.quote_tick(order.instrument_id)
        px = 0.0 if quote is None else cache.price(order.instrument_id, PriceType.ASK if buy else PriceType.BID).as_double()
    return px if buy else -px


def order_to_intent(order: Order, cache, now_ns: int, quantity: int | None = None) -> Intent:
    """What an order would do, as an Intent: legs signed as traded, ENTRY unless it only reduces.

    An order is an EXIT when the strategy tagged it with an exit kind, when it is reduce-only, or when every
    leg shrinks an existing holding without crossing zero (``close_all_positions``, a manual close).
    """
    per_package = package_legs(order.instrument_id, cache)
    sign = 1 if order.side == OrderSide.BUY else -1
    legs = tuple(Leg(leg.contract, leg.ratio * sign) for leg in per_package)
    qty = int(quantity if quantity is not None else order.quantity)
    package_id, exit_kind = read_tags(order.tags)
    holdings = holdings_from_cache(cache)
    only_reduces = all(
        (held := holdings.get(leg.contract.instrument_id)) is not None
        and held.quantity * leg.ratio < 0
        and abs(leg.ratio * qty) <= abs(held.quantity)
        for leg in legs
    )
    is_exit = exit_kind is not None or order.is_reduce_only or only_reduces
    if is_exit and exit_kind is None:
        exit_kind = ExitKind.MANUAL
    first = per_package[0].contract
    return Intent(
        kind=IntentKind.EXIT if is_exit else IntentKind.ENTRY,
        strategy_id=order.strategy_id.value,
        symbol=first.underlying,
        package_id=package_id or order.client_order_id.value,
        legs=legs,
        quantity=qty,
        price=_signed_price(order, cache),
        ts_ns=now_ns,
        exit_kind=exit_kind,
    )
