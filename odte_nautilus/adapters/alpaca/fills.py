"""What of one Alpaca order has been booked, from the broker's *cumulative* figures.

Alpaca reports an order's ``filled_qty`` and ``filled_avg_price`` so far on every trade update and every REST
read. Booking the difference between that and what was already booked makes every source idempotent: a
duplicated event, a late one, one that arrives after a REST refresh or out of order books nothing twice
(design §8: a fill is never lost, never doubled, never booked at 0.0).

A package (``mleg``) is booked package first, legs after. Alpaca sends a package's executions leg by leg and
the package's own update last; the node's exposure counts a package fill's legs as held until their leg
fills arrive (odte_nautilus/node_exposure.py), as the backtester emits them, so a leg fill that came first
waits here, with its own execution id and price, until the package fill that covers it is booked (leg
quantity <= packages x ratio). If a leg's update was lost, the broker's cumulative figures for the leg
(carried by the package's update and by every REST read) book what is missing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

ZERO = Decimal(0)


@dataclass(slots=True)
class Cumulative:
    """Quantity and notional booked so far for one order (or one leg of it)."""

    qty: Decimal = ZERO
    notional: Decimal = ZERO

    def advance(self, cum_qty: Decimal, avg_px: Decimal | None, cap: Decimal | None = None) -> tuple[Decimal, Decimal]:
        """Book up to the reported cumulative fill (at most ``cap`` more); return (qty, price) booked now.

        The price of the booked part is the price of everything not booked yet, so the booked average
        always converges on the broker's average. (0, 0) when there is nothing new.
        """
        if avg_px is None or cum_qty <= self.qty:
            return ZERO, ZERO
        pending = cum_qty - self.qty
        px = (cum_qty * avg_px - self.notional) / pending
        qty = pending if cap is None else min(pending, cap)
        if qty <= 0:
            return ZERO, ZERO
        self.qty += qty
        self.notional += qty * px
        return qty, px


@dataclass(frozen=True, slots=True)
class Execution:
    """One fill to book: the broker's execution id (or one derived from cumulative figures), size, price."""

    trade_id: str
    qty: Decimal
    price: Decimal
    ts_event: int


@dataclass(slots=True)
class OrderFills:
    """One broker order: a single option (``ratios`` empty) or a package with its legs keyed by symbol."""

    ratios: dict[str, int] = field(default_factory=dict)  # leg symbol -> ratio_qty per package
    order: Cumulative = field(default_factory=Cumulative)
    legs: dict[str, Cumulative] = field(default_factory=dict)
    queued: dict[str, list[Execution]] = field(default_factory=dict)

    def queue_leg(self, symbol: str, execution: Execution, cum_after: Decimal) -> bool:
        """Hold a leg's execution until a package fill covers it; False if it is already booked (late)."""
        if cum_after <= self.legs.setdefault(symbol, Cumulative()).qty:
            return False
        self.queued.setdefault(symbol, []).append(execution)
        return True

    def release_legs(
        self, reported: Mapping[str, tuple[Decimal, Decimal | None]], derived_id: Callable[[str, Decimal], str], ts: int
    ) -> list[tuple[str, Execution]]:
        """The leg fills the booked packages now cover: held executions first, then what the broker's
        cumulative figures (``reported``: symbol -> (filled qty, average)) show and no update brought."""
        out: list[tuple[str, Execution]] = []
        for symbol, ratio in self.ratios.items():
            booked = self.legs.setdefault(symbol, Cumulative())
            cover = self.order.qty * ratio
            queue = self.queued.get(symbol, [])
            while queue and booked.qty + queue[0].qty <= cover:
                execution = queue.pop(0)
                booked.qty += execution.qty
                booked.notional += execution.qty * execution.price
                out.append((symbol, execution))
            if queue:
                continue
            cum, avg = reported.get(symbol, (ZERO, None))
            qty, px = booked.advance(cum, avg, cap=cover - booked.qty)
            if qty:
                out.append((symbol, Execution(derived_id(symbol, booked.qty), qty, px, ts)))
        return out

    def waiting_legs(self) -> bool:
        """Leg executions are held for a package fill that has not been booked (its update late or lost)."""
        return any(self.queued.values())
