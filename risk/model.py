"""The domain vocabulary of the pure core, in the seeds' own words.

Nothing here imports Nautilus (design §2): the kernel, the stops, the package state machine and
the durable state all speak in these plain values, so they are fast, property-testable and survive the
Nautilus v2 port. The glue in ``odte_nautilus`` and ``strategies`` translates Nautilus objects into them.

Sign conventions (the same as Nautilus's spreads, design §5):
- a leg's ``ratio`` is signed: positive = long that contract, negative = short;
- a package price is signed per package: positive = debit paid, negative = credit received.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from enum import StrEnum
from functools import lru_cache
from typing import TYPE_CHECKING, NamedTuple

from odte_nautilus.risk.rate_limits import merged_entry_times
from odte_nautilus.risk.session import SessionWindow

if TYPE_CHECKING:
    from odte_nautilus.risk.exposure import ScopeExposure, WorkingOrder

CONTRACT_MULTIPLIER = 100


class OptionRight(StrEnum):
    CALL = "C"
    PUT = "P"


_CALL = OptionRight.CALL


class PackageState(StrEnum):
    """Seed 000's four-state execution state machine; ``can_enter()`` is true only from FLAT."""

    FLAT = "FLAT"
    PENDING_ENTRY = "PENDING_ENTRY"
    OPEN = "OPEN"
    PENDING_EXIT = "PENDING_EXIT"


_FLAT = PackageState.FLAT


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
    # The exit rules that fit each structure (risk/exits.py): a loss in the structure's own terms (a multiple
    # of a fly's credit, a share of a strangle's debit), a fly's underlying near a breakeven, a fly's
    # scheduled close, a strangle whose move has not come in time.
    STOP_LOSS = "stop_loss"
    STOP_BREAKEVEN = "stop_breakeven"
    TIME_EXIT = "time_exit"
    STOP_NO_MOVE = "stop_no_move"
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
    EXIT = "exit"  # risk-reducing: always allowed unless it would itself create risk (design §15)


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
    points = sorted([(leg.contract.strike, leg.ratio, leg.contract.right is _CALL) for leg in legs])
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
    """The open risk of a package in dollars: its maximum loss at expiry (design §7).

    ``price`` is signed per package (debit > 0, credit < 0). An iron butterfly gives
    wing width x 100 x qty - credit; a long strangle gives its debit; a naked short call gives ``inf``.
    This and ``PackageShape.max_loss`` (the same formula on a precomputed lowest payoff) are the one
    place open risk is computed.
    """
    if not legs or quantity <= 0:
        return 0.0
    low, _ = package_payoff_extremes(legs)
    return _loss_below(low, legs[0].contract.multiplier, price, quantity)


def _loss_below(low: float, multiplier: int, price: float, quantity: int) -> float:
    """What ``quantity`` packages bought at ``price`` lose if the payoff ends at its lowest, ``low``."""
    return max(0.0, (price - low) * multiplier * quantity)


CoverGroup = tuple[str, int, OptionRight]
"""(underlying, expiry_ns, right): a long contract covers a short one of the same group (design §6)."""

LegKey = tuple[int, frozenset[tuple[str, int]]]
"""How many legs and which (instrument, signed ratio) pairs: two packages hold the same legs iff equal."""


def leg_key(legs: tuple[Leg, ...]) -> LegKey:
    """The duplicate-position key of a package's legs (seed 003: 'no duplicate positions')."""
    return len(legs), frozenset([(leg.contract.instrument_id, leg.ratio) for leg in legs])


class PackageShape(NamedTuple):
    """What a package's legs add up to, whatever its size: the per-intent facts of a kernel check.

    An ``Intent`` computes its shape once, when it is built, so that a check - which sits in the engine's
    command path (design §3) - does no payoff sweep, grouping or set building of legs: it only
    multiplies these by the (possibly resized) quantity. Immutable, like the intent.
    """

    long_premium: bool  # no short leg (seed 000's long-only sense)
    leg_key: LegKey
    net: tuple[tuple[str, int], ...]  # per instrument, in leg order: the summed signed ratio
    instruments: frozenset[str]  # the instruments of ``net``
    cover: tuple[tuple[CoverGroup, int], ...]  # per cover group, in leg order: the summed signed ratio
    self_covered: bool  # no cover group sums short: the package adds at least as many longs as shorts to each
    payoff_low: float  # lowest expiry payoff per package, in points (``package_payoff_extremes``)
    multiplier: int  # 0 when there are no legs: such a package trades, and risks, nothing

    @classmethod
    def of(cls, legs: tuple[Leg, ...]) -> PackageShape:
        if not legs:
            return cls(True, leg_key(legs), (), frozenset(), (), True, 0.0, 0)
        net: dict[str, int] = {}
        cover: dict[CoverGroup, int] = {}
        long_premium = True
        for leg in legs:
            ct, ratio = leg.contract, leg.ratio
            net[ct.instrument_id] = net.get(ct.instrument_id, 0) + ratio
            group = (ct.underlying, ct.expiry_ns, ct.right)
            cover[group] = cover.get(group, 0) + ratio
            if ratio <= 0:
                long_premium = False
        low, _ = package_payoff_extremes(legs)
        return cls(
            long_premium,
            leg_key(legs),
            tuple(net.items()),
            frozenset(net),
            tuple(cover.items()),
            min(cover.values()) >= 0,
            low,
            legs[0].contract.multiplier,
        )

    def max_loss(self, price: float, quantity: int) -> float:
        """``max_loss(legs, price, quantity)`` of these legs, without sweeping them again."""
        if not self.multiplier or quantity <= 0:
            return 0.0
        return _loss_below(self.payoff_low, self.multiplier, price, quantity)


# Orders repeat the same few packages all day; their legs' shape is computed once (design §3: an
# intent is built for every order in the engine's command path).
shape_of = lru_cache(maxsize=4096)(PackageShape.of)


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
    # Derived when the intent is built (never passed, never compared): see PackageShape.
    shape: PackageShape = field(init=False, repr=False, compare=False)
    _open_risk: float = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        shape = shape_of(self.legs)
        object.__setattr__(self, "shape", shape)
        object.__setattr__(self, "_open_risk", shape.max_loss(self.price, self.quantity))

    @property
    def is_entry(self) -> bool:
        return self.kind is IntentKind.ENTRY

    @property
    def is_long_premium(self) -> bool:
        """Long-only in seed 000's sense: the package holds no short leg."""
        return self.shape.long_premium

    @property
    def open_risk(self) -> float:
        """``max_loss(legs, price, quantity)``, computed when the intent was built."""
        return self._open_risk

    def resized(self, quantity: int) -> Intent:
        return replace(self, quantity=quantity)

    def leg_deltas(self) -> dict[str, int]:
        """Signed change in contracts per instrument if this order fills completely."""
        quantity = self.quantity
        return {iid: ratio * quantity for iid, ratio in self.shape.net}


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
class AccountMode:
    """Seed 003's paper-only safeguards, as observed by the live guards (always paper in a backtest)."""

    is_paper_account: bool = True
    broker_paper_mode: bool = True


class PackageFacts(NamedTuple):
    """What the live packages add up to for one strategy on one symbol. None of it depends on an order's size."""

    live: list[PackageView]  # every live (not FLAT) package, any strategy
    book: list[PackageView]  # the live packages of the strategy on the symbol
    live_risk: float  # open risk of ``live``
    book_risk: float  # open risk of ``book``
    day_pnl: float  # RiskState.day_pnl()
    strategy_pnl: float  # RiskState.day_pnl(strategy_id)
    book_by_legs: dict[LegKey, PackageView]  # ``book``'s first package holding each set of legs
    book_by_premium: dict[bool, PackageView]  # ``book``'s first long-premium (True) / short-premium package


class StateIndex:
    """What a ``RiskState`` adds up to, computed once per snapshot (``RiskState.index``).

    The kernel's rules read these totals instead of walking the packages and holdings on every check
    (design §3: the check sits in the engine's command path). The lists and dicts are shared with
    every check of the snapshot and must be treated as read-only.
    """

    __slots__ = (
        "packages",
        "holdings",
        "strategy_holdings",
        "working",
        "entry_times_ns",
        "realized_pnl",
        "strategy_realized_pnl",
        "live",
        "live_by_id",
        "live_risk",
        "unrealized",
        "losers",
        "entry_times",
        "scopes",
        "_facts",
    )

    def __init__(self, state: RiskState) -> None:
        # The fields of the snapshot this index was derived from (RiskState.index compares them).
        self.packages = packages = state.packages
        self.holdings = state.holdings
        self.strategy_holdings = state.strategy_holdings
        self.working = state.working
        self.entry_times_ns = entry_times_ns = state.entry_times_ns
        self.realized_pnl = state.realized_pnl
        self.strategy_realized_pnl = state.strategy_realized_pnl
        # Open risk and unrealized P&L are added up with sum(), as RiskState.day_pnl does: Python's sum of
        # floats is compensated, so a plain running total could differ from it in the last bits.
        self.live = live = [p for p in packages if p.state is not _FLAT]  # RiskState.live_packages()
        self.live_by_id = {p.package_id: p for p in reversed(live)}  # the first live package of each id
        self.live_risk = sum([p.open_risk for p in live])
        self.unrealized = sum([p.unrealized_pnl for p in live])
        self.losers = tuple([p for p in live if not p.unrealized_pnl >= 0])  # a NaN mark is not known to win
        self.entry_times = merged_entry_times(entry_times_ns.values())  # every strategy's, ascending
        # Worst-case exposure per scope (None: the account; else a strategy id), filled by the rules on first use.
        self.scopes: dict[str | None, ScopeExposure] = {}
        self._facts: dict[tuple[str, str], PackageFacts] = {}

    def package_facts(self, strategy_id: str, symbol: str) -> PackageFacts:
        """The facts the kernel's rules share for one strategy on one symbol, gathered on first use.

        Day P&L is ``RiskState.day_pnl``'s definition (realized + live unrealized), summed in the same
        order so the numbers are identical; a test holds the two together.
        """
        facts = self._facts.get((strategy_id, symbol))
        if facts is None:
            mine = [p for p in self.live if p.strategy_id == strategy_id]
            book = [p for p in mine if p.symbol == symbol]
            by_legs: dict[LegKey, PackageView] = {}
            by_premium: dict[bool, PackageView] = {}
            for p in book:
                by_legs.setdefault(leg_key(p.legs), p)
                by_premium.setdefault(p.is_long_premium, p)
            facts = self._facts[strategy_id, symbol] = PackageFacts(
                self.live,
                book,
                self.live_risk,
                sum([p.open_risk for p in book]),
                self.realized_pnl + self.unrealized,
                self.strategy_realized_pnl.get(strategy_id, 0.0) + sum([p.unrealized_pnl for p in mine]),
                by_legs,
                by_premium,
            )
        return facts


@dataclass(slots=True)
class RiskState:
    """Everything the kernel reads to decide: a snapshot. The kernel never mutates what it reads.

    ``day_pnl`` and ``strategy_pnl`` are the day's realized P&L; unrealized P&L comes from the packages.

    The risk book builds one per check; its ``index`` is derived on first use and reused by every later
    check of the same snapshot. So once checked, a state must not be changed in place: build a new one
    (or ``dataclasses.replace`` it). Reassigning a field the index reads (``packages``, ``holdings``,
    ``entry_times_ns``, ``realized_pnl``, ``strategy_realized_pnl``) is noticed and re-indexes; what it
    does not see is a dict of them mutated in place. Flags the index does not read (``day_locked``,
    ``kill_switch``...) are read afresh by every check.
    """

    now_ns: int
    session: SessionWindow | None  # None: not a trading day
    nav: float  # start-of-day net asset value, for the drawdown ladder
    holdings: dict[str, Holding] = field(default_factory=dict)  # the account's net leg positions
    # Each strategy's own net leg positions; None: a single-book world where the account's are the strategy's.
    strategy_holdings: dict[str, dict[str, Holding]] | None = None
    working: tuple[WorkingOrder, ...] = ()  # every order of the node that may still fill (not the one checked)
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
    _index: StateIndex | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def index(self) -> StateIndex:
        """The snapshot's derived totals, computed once (see the class docstring)."""
        index = self._index
        if (
            index is None
            or index.packages is not self.packages
            or index.holdings is not self.holdings
            or index.strategy_holdings is not self.strategy_holdings
            or index.working is not self.working
            or index.entry_times_ns is not self.entry_times_ns
            or index.realized_pnl is not self.realized_pnl
            or index.strategy_realized_pnl is not self.strategy_realized_pnl
        ):
            index = self._index = StateIndex(self)
        return index

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
        realized = self.realized_pnl if strategy_id is None else self.strategy_realized_pnl.get(strategy_id, 0.0)
        return realized + sum(p.unrealized_pnl for p in self.live_packages(strategy_id))
