"""What a broker charges per option contract, item by item (issue 8, part 4).

A fee schedule is the per-contract cost of one leg fill, split the way a broker's statement splits it:
the broker's commission, the exchange's fee (for SPX/SPXW, Cboe's proprietary index option fee, which
multiply-listed SPY/QQQ options do not carry), the OCC clearing fee, and the regulatory pass-throughs
(the exchanges' Options Regulatory Fee, FINRA's Trading Activity Fee, the Consolidated Audit Trail fee).

The backtest engine charges one amount per contract on every leg fill (Nautilus's
``PerContractFeeModel``): the sum of the items, rounded *up* to the cent, since the engine books money in
cents and brokers round fees up. The run folder states the items, the amount charged and the total paid.
Expiry settlement is not a trade and pays nothing.

Simplifications, stated so nobody mistakes them for the broker's bill:

- every item is charged on every contract traded. FINRA's TAF is really charged on contracts *sold* only;
  charging it on buys as well overstates a round trip by $0.0028 a contract;
- where a figure depends on the premium or on the month's volume, the schedule takes the tier named in
  its notes (the one a small account trading 0DTE packages meets most);
- the SEC's Section 31 fee is a share of the *sale proceeds* (dollars per million), not a per-contract
  figure, and is left out: on 0DTE premiums it is a few cents per package or less;
- per-order minimums (IBKR's $1.00 per order) and per-trade caps (OCC's $55 above 2,750 contracts) are
  left out; the strategies' orders are a few contracts a leg, above the minimum and far below the cap.

Sources, read 2026-12 (figures as the pages published them; check them before trusting a live bill):

- IBKR: "Commissions: Options" (interactivebrokers.com, IBKR Pro Tiered, United States): commission
  $0.65 per contract at up to 10,000 contracts a month and a premium of $0.10 or more (less on cheaper
  premiums or higher volume); ORF $0.02685 per contract; FINRA TAF $0.00279 per contract sold; OCC
  clearing $0.02 per contract (trades up to 2,750 contracts). IBKR's SPX (weekly, i.e. SPXW) surcharge
  table, which passes Cboe's proprietary index option fee through: $0.58 per contract at a premium of
  $1.00 or more, $0.49 below; the schedule takes $0.58 (the fly's body and most strangle legs are above a
  dollar; on a wing below a dollar it overstates by $0.09).
- Alpaca: "Regulatory Fees" (docs.alpaca.markets): no commission on options; OCC clearing $0.02 per
  contract; ORF $0.02685 per contract; options TAF $0.00279 per contract sold; CAT $0.000046 per
  equivalent share, i.e. $0.0046 per 100-share contract. No exchange fee is passed through on SPY/QQQ.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Any

ITEMS = ("commission", "exchange", "clearing", "orf", "finra_taf", "cat")
"""The per-contract items of a schedule, in the order a statement lists them."""

ITEM_LABELS = MappingProxyType(
    {
        "commission": "broker commission",
        "exchange": "exchange fee",
        "clearing": "OCC clearing fee",
        "orf": "Options Regulatory Fee (exchanges)",
        "finra_taf": "FINRA Trading Activity Fee",
        "cat": "Consolidated Audit Trail fee",
    }
)


class FeeScheduleError(ValueError):
    """A fee schedule or an override that cannot be used; the message names the key and what is allowed."""


@dataclass(frozen=True, slots=True)
class FeeSchedule:
    """The per-contract fee items (USD) of one broker and product, with where the figures come from."""

    name: str
    broker: str
    product: str
    source: str
    commission: float
    exchange: float
    clearing: float
    orf: float
    finra_taf: float
    cat: float
    notes: str = ""

    def __post_init__(self) -> None:
        for item in ITEMS:
            value = getattr(self, item)
            if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value) or value < 0:
                raise FeeScheduleError(
                    f"fee item {item} of schedule {self.name}: {value!r} is not a non-negative USD amount"
                )

    def items(self) -> dict[str, float]:
        """The per-contract items, USD, in statement order."""
        return {item: float(getattr(self, item)) for item in ITEMS}

    @property
    def items_total(self) -> float:
        """The exact sum of the items per contract (sub-cent)."""
        return round(sum(self.items().values()), 6)

    @property
    def per_contract(self) -> float:
        """What the engine charges per contract per leg fill: the items' sum rounded up to the cent."""
        return math.ceil(round(self.items_total * 100, 6)) / 100

    def with_overrides(self, overrides: Mapping[str, float]) -> FeeSchedule:
        """This schedule with some items replaced (``{"commission": 0.5}``); an unknown item is refused."""
        unknown = sorted(set(overrides) - set(ITEMS))
        if unknown:
            raise FeeScheduleError(f"unknown fee item(s) {', '.join(unknown)}; the items are {', '.join(ITEMS)}")
        if not overrides:
            return self
        changed = ", ".join(f"{k}={overrides[k]}" for k in ITEMS if k in overrides)
        notes = f"{self.notes} Overridden by the config: {changed}.".strip()
        changes: dict[str, Any] = {k: overrides[k] for k in ITEMS if k in overrides}
        return replace(self, **changes, notes=notes)

    def describe(self) -> str:
        """One line for the fill assumptions: the schedule, the charge per contract and its items."""
        items = ", ".join(f"{item} {value:.5g}" for item, value in self.items().items() if value)
        return (
            f"{self.name} ({self.broker}, {self.product}): ${self.per_contract:.2f} per contract on every leg fill"
            f" (items {items}; sum {self.items_total:.5f}, rounded up to the cent); expiry settlement pays none"
        )

    def to_dict(self) -> dict:
        return {
            "schedule": self.name,
            "broker": self.broker,
            "product": self.product,
            "source": self.source,
            "notes": self.notes,
            "per_contract_items": self.items(),
            "items_total_per_contract": self.items_total,
            "charged_per_contract": self.per_contract,
        }


_ALPACA_SOURCE = "Alpaca, Regulatory Fees (docs.alpaca.markets), read 2026-12"
_ALPACA_NOTES = (
    "No commission and no exchange fee on options; OCC, ORF, TAF (sells only, charged here on every contract)"
    " and CAT ($0.000046 x 100 shares) pass through. SEC Section 31 fee on sale proceeds not modelled."
)


def _alpaca(underlying: str) -> FeeSchedule:
    """Alpaca's options schedule: the same pass-through fees whatever the underlying."""
    return FeeSchedule(
        name=f"alpaca-{underlying.lower()}",
        broker="Alpaca",
        product=f"{underlying} options",
        source=_ALPACA_SOURCE,
        commission=0.0,
        exchange=0.0,
        clearing=0.02,
        orf=0.02685,
        finra_taf=0.00279,
        cat=0.0046,
        notes=_ALPACA_NOTES,
    )


SCHEDULES: Mapping[str, FeeSchedule] = MappingProxyType(
    {
        "ib-spxw": FeeSchedule(
            name="ib-spxw",
            broker="Interactive Brokers (IBKR Pro, Tiered)",
            product="SPXW (Cboe, cash-settled S&P 500 weeklies)",
            source="IBKR Commissions: Options, US Tiered, and its SPX (weekly) surcharge table; read 2026-12",
            commission=0.65,
            exchange=0.58,
            clearing=0.02,
            orf=0.02685,
            finra_taf=0.00279,
            cat=0.0,
            notes=(
                "Commission tier: up to 10,000 contracts a month, premium $0.10 or more. Exchange: Cboe's"
                " proprietary index option fee for SPXW at a premium of $1.00 or more ($0.49 below). TAF is on"
                " sells only, charged here on every contract. CAT not on the page read (override cat to add it)."
                " SEC Section 31 fee on sale proceeds and the $1.00 order minimum not modelled."
            ),
        ),
        "alpaca-spy": _alpaca("SPY"),
        "alpaca-qqq": _alpaca("QQQ"),
    }
)

DEFAULT_SCHEDULE = "ib-spxw"


def fee_schedule(name: str = DEFAULT_SCHEDULE, overrides: Mapping[str, float] | None = None) -> FeeSchedule:
    """The named schedule with the config's overrides applied; an unknown name or item is refused."""
    if name not in SCHEDULES:
        raise FeeScheduleError(f"unknown fee schedule {name!r}; the schedules are {', '.join(SCHEDULES)}")
    return SCHEDULES[name].with_overrides(overrides or {})
