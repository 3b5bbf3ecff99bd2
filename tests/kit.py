"""The project's small test kit: builders for contracts, packages, intents and risk states.

Modelled on Nautilus's ``TestInstrumentProvider``/``TestEventStubs``: tests say *what* situation they
need in one line instead of repeating set-up.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime

from odte_nautilus.data.symbology import option_id
from odte_nautilus.risk.model import (
    Contract,
    Holding,
    Intent,
    IntentKind,
    Leg,
    OptionRight,
    PackageState,
    PackageView,
    RiskState,
    holdings_of_packages,
    max_loss,
)
from odte_nautilus.risk.session import NEW_YORK, SessionWindow, TradingCalendar
from odte_nautilus.risk.time_units import MINUTE_NS, NS_PER_SECOND

DAY = date(2024, 3, 15)


def ny_ns(hh: int, mm: int, ss: int = 0, day: date = DAY) -> int:
    """UTC nanoseconds of a New York wall-clock time."""
    return int(datetime(day.year, day.month, day.day, hh, mm, ss, tzinfo=NEW_YORK).timestamp() * NS_PER_SECOND)


def trading_session(day: date) -> SessionWindow:
    """The exchange session of a day a test knows to be a trading day (``session_window`` without the None)."""
    found = TradingCalendar().session_window(day)
    assert found is not None, f"{day} is not a trading day"
    return found


def session(day: date = DAY, close: tuple[int, int] = (16, 0)) -> SessionWindow:
    close_ns = ny_ns(*close, day=day)
    return SessionWindow(
        trading_date=day,
        open_ns=ny_ns(9, 30, day=day),
        close_ns=close_ns,
        flatten_ns=close_ns - 15 * MINUTE_NS,
        early_close=close != (16, 0),
    )


def contract(right: str, strike: float, underlying: str = "SPX", day: date = DAY) -> Contract:
    r = OptionRight(right)
    root = "SPXW" if underlying == "SPX" else underlying
    return Contract(option_id(root, day, r, strike, "CBOE"), underlying, r, float(strike), ny_ns(16, 0, day=day))


def iron_butterfly(center: float = 5100, wing: float = 20, underlying: str = "SPX") -> tuple[Leg, ...]:
    """Short ATM straddle with long wings: the Theta Harvester's package."""
    return (
        Leg(contract("C", center, underlying), -1),
        Leg(contract("P", center, underlying), -1),
        Leg(contract("C", center + wing, underlying), 1),
        Leg(contract("P", center - wing, underlying), 1),
    )


def short_straddle(center: float = 5100, underlying: str = "SPX") -> tuple[Leg, ...]:
    """Naked: exists only so tests can show it is refused."""
    return (Leg(contract("C", center, underlying), -1), Leg(contract("P", center, underlying), -1))


def long_strangle(call: float = 5120, put: float = 5080, underlying: str = "SPX") -> tuple[Leg, ...]:
    """The Gamma Scalper's package."""
    return (Leg(contract("C", call, underlying), 1), Leg(contract("P", put, underlying), 1))


def reversed_legs(legs: tuple[Leg, ...]) -> tuple[Leg, ...]:
    return tuple(Leg(leg.contract, -leg.ratio) for leg in legs)


def entry(
    legs: tuple[Leg, ...] | None = None,
    *,
    strategy: str = "GammaScalper-001",
    symbol: str = "SPX",
    package: str = "P-1",
    qty: int = 1,
    price: float = 3.0,
    ts_ns: int | None = None,
) -> Intent:
    return Intent(
        kind=IntentKind.ENTRY,
        strategy_id=strategy,
        symbol=symbol,
        package_id=package,
        legs=legs if legs is not None else long_strangle(underlying=symbol),
        quantity=qty,
        price=price,
        ts_ns=ts_ns if ts_ns is not None else ny_ns(10, 0),
    )


def fly_entry(**kw) -> Intent:
    kw.setdefault("strategy", "ThetaHarvester-001")
    kw.setdefault("price", -12.0)
    return entry(iron_butterfly(underlying=kw.get("symbol", "SPX")), **kw)


def exit_of(intent: Intent, exit_kind, qty: int | None = None, price: float | None = None) -> Intent:
    return replace(
        intent,
        kind=IntentKind.EXIT,
        legs=reversed_legs(intent.legs),
        quantity=qty if qty is not None else intent.quantity,
        price=-(price if price is not None else intent.price),
        exit_kind=exit_kind,
    )


def package_view(
    intent: Intent, state: PackageState = PackageState.OPEN, unrealized: float = 0.0, qty: int | None = None
) -> PackageView:
    q = qty if qty is not None else intent.quantity
    return PackageView(
        package_id=intent.package_id,
        strategy_id=intent.strategy_id,
        symbol=intent.symbol,
        state=state,
        legs=intent.legs,
        quantity=q,
        open_risk=max_loss(intent.legs, intent.price, q),
        unrealized_pnl=unrealized,
    )


def holdings_of(*packages: PackageView) -> dict[str, Holding]:
    """The account's net leg positions implied by OPEN/PENDING_EXIT packages."""
    return holdings_of_packages(packages)


def state(*packages: PackageView, now_ns: int | None = None, nav: float = 100_000.0, **kw) -> RiskState:
    """A risk state at 10:00 New York on a normal session, holding the given packages."""
    kw.setdefault("holdings", holdings_of(*packages))
    return RiskState(
        now_ns=now_ns if now_ns is not None else ny_ns(10, 0),
        session=kw.pop("session", session()),
        nav=nav,
        packages=tuple(packages),
        **kw,
    )
