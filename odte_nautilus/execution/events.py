"""The plain broker events a ``PackageLedger`` books; the glue converts Nautilus / IB / Alpaca events into these.

Quantities are packages. Every price is a *package price*: the signed price of one package in the orientation
it was entered (debit > 0, credit < 0), on entries and exits alike. That is the price Nautilus reports for a
fill of the package's ``OptionSpread`` when the package is bought to enter and sold to exit: an iron butterfly
entered at -12.00 (1,200 received) and bought back for 4.00 has its exit fill at -4.00. An exit ``Intent``,
whose legs are reversed, carries the negated price (``-intent.price``).

The statuses carry the broker's *cumulative* filled quantity and average price, as IB's ``orderStatus`` does;
the ledger believes them only when they carry a price (seed 000's phantom position, IB error 104).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Fill:
    """One execution, keyed by the broker's execution id (IB ``execId``, Alpaca fill id, Nautilus ``trade_id``)."""

    order_id: str
    execution_id: str
    quantity: int
    price: float


@dataclass(frozen=True, slots=True)
class FilledStatus:
    """A status saying the order is filled (IB ``orderStatus Filled``); its executions may come before or after."""

    order_id: str
    filled_qty: int
    avg_fill_price: float


@dataclass(frozen=True, slots=True)
class Cancelled:
    """A ``Cancelled`` status, with whatever had filled before the cancel.

    ``from_error`` marks a cancel the client library derived from an error rather than one the broker
    confirmed: ib_async sets any order named in a non-warning error ``Cancelled``, and error 104 ("can't
    modify a filled order") names an order that has in fact *filled* (seed 000's phantom position,
    docs/requirements.md).
    """

    order_id: str
    filled_qty: int = 0
    avg_fill_price: float = 0.0
    from_error: bool = False


@dataclass(frozen=True, slots=True)
class Rejected:
    order_id: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class NoFillConfirmed:
    """Executions (IB ``reqExecutions``, an Alpaca order query) confirm the order is done with no fill beyond
    the ones already delivered: what confirms a tentative cancel."""

    order_id: str


BrokerEvent = Fill | FilledStatus | Cancelled | Rejected | NoFillConfirmed
