"""The contract specifications of the underlyings we trade 0DTE: SPX (SPXW options), SPY and QQQ.

Every fact that differs between them — venue, id, option root, strike grid, tick grid, exercise style,
settlement, how wide the synthetic market quotes — lives in one ``UnderlyingSpec`` so the generator, the
importers, the schema checks and the live adapter read the same values (docs/market-facts.md, "Contract
specifications").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from odte_nautilus.data.symbology import index_symbol, option_id, underlying_bar_type
from odte_nautilus.data.ticks import PENNY_TICKS, SPXW_TICKS, TickScheme
from odte_nautilus.risk.model import CONTRACT_MULTIPLIER, OptionRight
from odte_nautilus.risk.session import TradingCalendar, ny_ns


class ExerciseStyle(StrEnum):
    EUROPEAN = "EUROPEAN"
    AMERICAN = "AMERICAN"  # early assignment risk on short ITM legs (SPY)


class Settlement(StrEnum):
    CASH = "CASH"  # SPXW: cash, PM, on the 16:00 index level
    PHYSICAL = "PHYSICAL"  # SPY: shares


@dataclass(frozen=True, slots=True)
class QuoteStyle:
    """How wide and how deep the synthetic market quotes (``chain`` uses it; real data brings its own).

    Full spread = ``base + per_dollar * price``, widened for far strikes and the last hour, capped at
    ``cap``; displayed size around ``size`` contracts.
    """

    base: float
    per_dollar: float
    cap: float
    size: float


@dataclass(frozen=True, slots=True)
class UnderlyingSpec:
    name: str  # what the CLI's --underlying takes
    symbol: str  # the underlying instrument's symbol, equal to every option's ``underlying`` field
    venue: str  # shared by the underlying and its options, so the backtester can settle them
    is_index: bool  # an IndexInstrument (never has volume) or an equity/ETF
    option_root: str  # the PM-settled trading class that lists a 0DTE series every session
    am_settled_roots: tuple[str, ...]  # monthly roots that settle on the opening print (never 0DTE-tradable)
    strike_step: float
    ticks: TickScheme
    exercise: ExerciseStyle
    settlement: Settlement
    exchange_mic: str | None
    sample_start_price: float  # where the synthetic market opens its first day
    quotes: QuoteStyle
    multiplier: int = CONTRACT_MULTIPLIER
    underlying_price_precision: int = 2
    rate: float = 0.045  # for Black-Scholes; a 0DTE price barely depends on it
    dividend_yield: float = 0.013

    @property
    def underlying_id(self) -> str:
        return f"{self.symbol}.{self.venue}"

    @property
    def bar_type(self) -> str:
        return underlying_bar_type(self.underlying_id)

    @property
    def roots(self) -> tuple[str, ...]:
        return (self.option_root, *self.am_settled_roots)

    def option_id(self, expiry: date, right: OptionRight | str, strike: float, root: str | None = None) -> str:
        return option_id(root or self.option_root, expiry, right, strike, self.venue)

    def expiration_ns(self, root: str, expiry: date) -> int:
        """When an option of ``root`` expiring on ``expiry`` stops: the rule vendors get wrong.

        PM-settled roots (SPXW, SPY) expire at the close of their expiry session — 13:00 New York on an
        early-close day, not the 16:00 Nautilus's Databento loader assumes. AM-settled monthlies (SPX)
        settle on the opening print (09:30) and last traded the session before: never 0DTE-tradable.
        """
        if root in self.am_settled_roots:
            return ny_ns(expiry, 9, 30)
        session = TradingCalendar().session_window(expiry)
        return session.close_ns if session is not None else ny_ns(expiry, 16, 0)


SPX = UnderlyingSpec(
    name="SPX",
    symbol=index_symbol("SPX"),
    venue="CBOE",
    is_index=True,
    option_root="SPXW",
    am_settled_roots=("SPX",),
    strike_step=5.0,
    ticks=SPXW_TICKS,
    exercise=ExerciseStyle.EUROPEAN,
    settlement=Settlement.CASH,
    exchange_mic="XCBO",
    sample_start_price=5550.0,
    quotes=QuoteStyle(base=0.05, per_dollar=0.012, cap=3.0, size=25.0),
)

SPY = UnderlyingSpec(
    name="SPY",
    symbol="SPY",
    # IB routes SPY options SMART; the ETF sits at the same venue so the backtester finds the underlying.
    venue="SMART",
    is_index=False,
    option_root="SPY",
    am_settled_roots=(),
    strike_step=1.0,
    ticks=PENNY_TICKS,
    exercise=ExerciseStyle.AMERICAN,
    settlement=Settlement.PHYSICAL,
    exchange_mic=None,
    sample_start_price=555.0,
    quotes=QuoteStyle(base=0.01, per_dollar=0.006, cap=0.30, size=250.0),
)

QQQ = UnderlyingSpec(
    # Alpaca trades no index options, so its paper node trades SPY, then QQQ (a 0DTE series every session too).
    # American, physically settled, penny ticks and $1 strikes like SPY (docs/market-facts.md); quoted like SPY.
    name="QQQ",
    symbol="QQQ",
    venue="SMART",
    is_index=False,
    option_root="QQQ",
    am_settled_roots=(),
    strike_step=1.0,
    ticks=PENNY_TICKS,
    exercise=ExerciseStyle.AMERICAN,
    settlement=Settlement.PHYSICAL,
    exchange_mic=None,
    sample_start_price=480.0,  # QQQ's level in July 2024, where the sample's default window starts
    quotes=QuoteStyle(base=0.01, per_dollar=0.006, cap=0.30, size=250.0),
)

UNDERLYINGS: dict[str, UnderlyingSpec] = {spec.name: spec for spec in (SPX, SPY, QQQ)}


def underlying_spec(name: str) -> UnderlyingSpec:
    """The spec for ``SPX``/``SPY``/``QQQ`` (also accepts an option root such as ``SPXW``)."""
    key = name.upper().lstrip("^")
    for spec in UNDERLYINGS.values():
        if key == spec.name or key in spec.roots:
            return spec
    raise ValueError(f"unknown underlying {name!r}: choose one of {', '.join(UNDERLYINGS)}")
