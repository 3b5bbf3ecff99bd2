"""The domain vocabulary of the pure core, in the seeds' own words.

Nothing here imports Nautilus (DESIGN decision 2): the kernel, the stops, the package state machine and
the durable state all speak in these plain values, so they are fast, property-testable and survive the
Nautilus v2 port. The glue in ``odte_nautilus`` and ``strategies`` translates Nautilus objects into them.

Sign conventions (the same as Nautilus's spreads, DESIGN decision 5):
- a leg's ``ratio`` is signed: positive = long that contract, negative = short;
- a package price is signed per package: positive = debit paid, negative = credit received.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import date
from enum import StrEnum

CONTRACT_MULTIPLIER = 100


class OptionRight(StrEnum):
    CALL = "C"
    PUT = "P"


class PackageState(StrEnum):
    """Seed 000's four-state execution state machine; ``can_enter()`` is true only from FLAT."""

    FLAT = "FLAT"
    PENDING_ENTRY = "PENDING_ENTRY"
    OPEN = "OPEN"
    PENDING_EXIT = "PENDING_EXIT"


class ExitKind(StrEnum):
    """Why a package (or part of it) is being closed.

    Every exit carries one explicitly: the orphaned-contracts incident of seed 000 came from inferring the
    kind of an exit from the state machine's state instead.
    """

    TAKE_PROFIT_PARTIAL = "take_profit_partial"
    TAKE_PROFIT_FULL = "take_profit_full"
    STOP_PREMIUM = "stop_premium"
    STOP_UNDERLYING_MOVE = "stop_underlying_move"
    STOP_NO_PROGRESS = "stop_no_progress"
    STOP_IV_CRUSH = "stop_iv_crush"
    STOP_IV_EXPANSION = "stop_iv_expansion"
    EOD_FLATTEN = "eod_flatten"
    KILL_SWITCH = "kill_switch"
    MANUAL = "manual"
    SETTLEMENT = "settlement"

    @property
    def closes_everything(self) -> bool:
        """Only a partial take-profit leaves contracts open on purpose."""
        return self is not ExitKind.TAKE_PROFIT_PARTIAL


class IntentKind(StrEnum):
    ENTRY = "entry"  # risk-increasing: must pass every rule
    EXIT = "exit"  # risk-reducing: always allowed unless it would itself create risk (DESIGN 15)


@dataclass(frozen=True, slots=True)
class Contract:
    """One option contract, as much of it as the risk rules need."""

    instrument_id: str
    underlying: str
    right: OptionRight
    strike: float
    expiry_ns: int
    multiplier: int = CONTRACT_MULTIPLIER


@dataclass(frozen=True, slots=True)
class Leg:
    contract: Contract
    ratio: int  # signed contracts per package: + long, - short


@dataclass(frozen=True, slots=True)
class Holding:
    """A net position in one contract as the account (the engine) sees it."""

    contract: Contract
    quantity: int  # signed contracts


def package_payoff_extremes(legs: tuple[Leg, ...]) -> tuple[float, float]:
    """Lowest and highest expiry payoff (per package, in points) of a set of legs.

    The payoff is piecewise linear in the underlying with kinks at the strikes, so its extremes lie at zero,
    at a strike, or at infinity (then ``-inf``/``inf``, decided by the slope beyond the last strike). One sweep
    over the sorted strikes: this runs inside every kernel check, so it must stay cheap.
    """
    points = sorted((leg.contract.strike, leg.ratio, leg.contract.right is OptionRight.CALL) for leg in legs)
    value = slope = 0.0  # payoff and slope at spot 0: only puts pay there
    for strike, ratio, is_call in points:
        if not is_call:
            value += ratio * strike
            slope -= ratio
    low = high = value
    spot = 0.0
    for strike, ratio, _ in points:
        value += slope * (strike - spot)
        spot = strike
        if value < low:
            low = value
        elif value > high:
            high = value
        slope += ratio  # every leg's slope rises by its ratio at its strike (a put's from -ratio to 0)
    if slope < 0:
        low = -math.inf
    elif slope > 0:
        high = math.inf
    return low, high


def max_loss(legs: tuple[Leg, ...], price: float, quantity: int) -> float:
    """The open risk of a package in dollars: its maximum loss at expiry (DESIGN decision 7).

    ``price`` is signed per package (debit > 0, credit < 0). An iron butterfly gives
    wing width x 100 x qty - credit; a long strangle gives its debit; a naked short call gives ``inf``.
    This is the one place open risk is computed.
    """
    if not legs or quantity <= 0:
        return 0.0
    low, _ = package_payoff_extremes(legs)
    multiplier = legs[0].contract.multiplier
    return max(0.0, (price - low) * multiplier * quantity)


@dataclass(frozen=True, slots=True)
class Intent:
    """What a strategy (or a manual command) wants to do, before it becomes an order."""

    kind: IntentKind
    strategy_id: str
    symbol: str  # the underlying, e.g. "SPX"
    package_id: str
    legs: tuple[Leg, ...]  # signed per-package legs *of this order* (a buy of the leg is positive)
    quantity: int  # packages
    price: float  # signed per package: debit > 0, credit < 0
    ts_ns: int
    exit_kind: ExitKind | None = None

    @property
    def is_entry(self) -> bool:
        return self.kind is IntentKind.ENTRY

    @property
    def is_long_premium(self) -> bool:
        """Long-only in seed 000's sense: the package holds no short leg."""
        return all(leg.ratio > 0 for leg in self.legs)

    @property
    def open_risk(self) -> float:
        return max_loss(self.legs, self.price, self.quantity)

    def resized(self, quantity: int) -> Intent:
        return replace(self, quantity=quantity)

    def leg_deltas(self) -> dict[str, int]:
        """Signed change in contracts per instrument if this order fills completely."""
        deltas: dict[str, int] = {}
        for leg in self.legs:
            cid = leg.contract.instrument_id
            deltas[cid] = deltas.get(cid, 0) + leg.ratio * self.quantity
        return deltas


@dataclass(frozen=True, slots=True)
class PackageView:
    """A package as the kernel sees it: who holds it, in which state, how much risk and P&L."""

    package_id: str
    strategy_id: str
    symbol: str
    state: PackageState
    legs: tuple[Leg, ...]  # signed per-package legs as held (+ long)
    quantity: int  # packages currently held (entry order quantity while PENDING_ENTRY)
    open_risk: float  # dollars, from max_loss()
    unrealized_pnl: float = 0.0

    @property
    def is_live(self) -> bool:
        return self.state is not PackageState.FLAT

    @property
    def is_long_premium(self) -> bool:
        return all(leg.ratio > 0 for leg in self.legs)


def holdings_of_packages(packages: tuple[PackageView, ...]) -> dict[str, Holding]:
    """The net leg positions that held packages (OPEN or PENDING_EXIT) put in the account."""
    out: dict[str, Holding] = {}
    for p in packages:
        if p.state not in (PackageState.OPEN, PackageState.PENDING_EXIT):
            continue
        for leg in p.legs:
            cid = leg.contract.instrument_id
            prev = out[cid].quantity if cid in out else 0
            out[cid] = Holding(leg.contract, prev + leg.ratio * p.quantity)
    return {k: v for k, v in out.items() if v.quantity != 0}


@dataclass(frozen=True, slots=True)
class SessionWindow:
    """One trading day's times (UTC ns). ``flatten_ns`` = close - 15 min (DESIGN decision 9)."""

    trading_date: date
    open_ns: int
    close_ns: int
    flatten_ns: int
    early_close: bool = False


@dataclass(frozen=True, slots=True)
class AccountMode:
    """Seed 003's paper-only safeguards, as observed by the live guards (always paper in a backtest)."""

    is_paper_account: bool = True
    broker_paper_mode: bool = True


@dataclass(slots=True)
class RiskState:
    """Everything the kernel reads to decide. The kernel never mutates it.

    ``day_pnl`` and ``strategy_pnl`` are the day's realized P&L; unrealized P&L comes from the packages.
    """

    now_ns: int
    session: SessionWindow | None  # None: not a trading day
    nav: float  # start-of-day net asset value, for the drawdown ladder
    holdings: dict[str, Holding] = field(default_factory=dict)  # the account's net leg positions
    packages: tuple[PackageView, ...] = ()
    realized_pnl: float = 0.0
    strategy_realized_pnl: dict[str, float] = field(default_factory=dict)
    loss_streak: int = 0
    trades_today: int = 0
    entry_times_ns: dict[str, tuple[int, ...]] = field(default_factory=dict)  # per strategy, ascending
    day_locked: bool = False
    lock_reason: str = ""
    kill_switch: bool = False
    global_breaker: bool = False  # RISK-OFF: manual reset only
    strategy_breakers: frozenset[str] = frozenset()  # auto-reset next trading day
    disabled_strategies: frozenset[str] = frozenset()
    account: AccountMode = AccountMode()

    def live_packages(self, strategy_id: str | None = None, symbol: str | None = None) -> list[PackageView]:
        return [
            p
            for p in self.packages
            if p.is_live
            and (strategy_id is None or p.strategy_id == strategy_id)
            and (symbol is None or p.symbol == symbol)
        ]

    def day_pnl(self, strategy_id: str | None = None) -> float:
        """Realized plus unrealized P&L of the day, globally or for one strategy."""
        if strategy_id is None:
            realized = self.realized_pnl
        else:
            realized = self.strategy_realized_pnl.get(strategy_id, 0.0)
        return realized + sum(p.unrealized_pnl for p in self.live_packages(strategy_id))
