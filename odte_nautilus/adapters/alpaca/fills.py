"""What of one Alpaca order has been booked, from the broker's *cumulative* figures.

Alpaca reports an order's ``filled_qty`` and ``filled_avg_price`` so far on every trade update and every REST
read. Booking the difference between that and what was already booked makes every source idempotent: a
duplicated event, a late one, one that arrives after a REST refresh or out of order books nothing twice
(design §8: a fill is never lost, never doubled, never booked at 0.0).

A package (``mleg``) is booked package first, legs after: a leg fill is never booked ahead of the package
fill that covers it (leg quantity <= packages x ratio). The node's exposure relies on that order - a
package fill counts its legs as held until their leg fills arrive (odte_nautilus/node_exposure.py), as the
backtester emits them.
"""

from __future__ import annotations

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


@dataclass(slots=True)
class PackageFills:
    """One mleg order: the package's cumulative fill and each leg's, keyed by Alpaca leg symbol."""

    ratios: dict[str, int]  # leg symbol -> ratio_qty (unsigned, per package)
    package: Cumulative = field(default_factory=Cumulative)
    legs: dict[str, Cumulative] = field(default_factory=dict)

    def package_fill(self, cum_qty: Decimal, avg_px: Decimal | None) -> tuple[Decimal, Decimal]:
        return self.package.advance(cum_qty, avg_px)

    def leg_fill(self, symbol: str, cum_qty: Decimal, avg_px: Decimal | None) -> tuple[Decimal, Decimal]:
        """A leg's new fill, limited to what the booked package fills cover."""
        booked = self.legs.setdefault(symbol, Cumulative())
        cover = self.package.qty * self.ratios[symbol] - booked.qty
        return booked.advance(cum_qty, avg_px, cap=cover)

    def legs_behind(self) -> bool:
        """Some leg fill the booked package fills cover has not been booked yet."""
        return any(self.legs.get(s, Cumulative()).qty < self.package.qty * r for s, r in self.ratios.items())

    def legs_ahead(self, symbol: str, cum_qty: Decimal) -> bool:
        """The broker reports more of a leg than the booked package fills cover: the package fill is late."""
        return cum_qty > self.package.qty * self.ratios[symbol]
