"""Strategy-level engine kit: one scripted trading day of SPX and a small SPXW chain, and the real strategies on it.

A test says what the market does - where the index is from which minute, what a few contracts quote from
which minute - and runs Theta Harvester / Gamma Scalper in a real ``BacktestEngine`` set up like ``odte
backtest`` (CBOE venue, MARGIN, NETTING, $0.65 per contract) with a ``RiskBook`` attached through
``odte_nautilus.runtime.attach``. It then asserts on what a trader would check: the engine's positions and
orders, the recorder's leg fills and packages, the risk book's durable state and the decisions journal.

Instruments are built by ``odte_nautilus.data.instruments`` so the ids are the catalog's
(``^SPX.CBOE``, ``SPXW  240723C05565000.CBOE``) and the engine cash-settles the options against the index's
1-minute LAST bars, as in a real backtest.

Timing of the scripted day: an index bar closes on every minute (``HH:MM:00``, 09:31 to 16:00), the
options quote at ``HH:MM:30`` from 09:59 to 15:59. A strategy plans on a bar and prices its order on the
next leg quote, so a package planned at the 10:00 bar fills at 10:00:30.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import pandas as pd
from nautilus_trader.backtest.engine import BacktestEngine, BacktestEngineConfig
from nautilus_trader.backtest.models import PerContractFeeModel
from nautilus_trader.config import LoggingConfig, StrategyConfig
from nautilus_trader.model.currencies import USD
from nautilus_trader.model.data import Bar, BarType, QuoteTick
from nautilus_trader.model.enums import AccountType, OmsType, OrderSide
from nautilus_trader.model.identifiers import InstrumentId, Venue
from nautilus_trader.model.instruments import OptionContract
from nautilus_trader.model.objects import Money, Price, Quantity
from nautilus_trader.trading.strategy import Strategy

from odte_nautilus.data.instruments import session_option, underlying_instrument
from odte_nautilus.data.underlyings import underlying_spec
from odte_nautilus.leg_fill_pricer import LegFillPricer
from odte_nautilus.recorder import LegFill, PackageRecord, RunRecorder
from odte_nautilus.risk.book import RiskBook
from odte_nautilus.risk.model import Contract, Leg, OptionRight
from odte_nautilus.risk.policy import load_policy
from odte_nautilus.risk.session import NEW_YORK
from odte_nautilus.risk.time_units import MINUTE_NS, NS_PER_SECOND
from odte_nautilus.runtime import attach, detach
from odte_nautilus.strategies.gamma_scalper import GammaScalper, GammaScalperConfig
from odte_nautilus.strategies.theta_harvester import ThetaHarvester, ThetaHarvesterConfig
from tests.kit import trading_session

SPX = underlying_spec("SPX")
DAY = date(2024, 7, 23)  # a regular Tuesday session: open 09:30, flatten 15:45, close 16:00
SESSION = trading_session(DAY)
OPEN_LEVEL = 5550.0
STRIKES = tuple(range(5520, 5585, 5))
FEE = 0.65
BAR_TYPE = BarType.from_str(SPX.bar_type)
_QUOTE_OFFSET = 30 * NS_PER_SECOND

Key = tuple[str, int]  # ("C", 5565)


def at(hhmm: str) -> int:
    """UTC nanoseconds of a New York wall-clock minute on the scripted day."""
    t = datetime.combine(DAY, datetime.strptime(hhmm, "%H:%M").time(), NEW_YORK)
    return int(t.timestamp()) * NS_PER_SECOND


def quoted_at(hhmm: str) -> int:
    """When the options quote in minute ``hhmm``."""
    return at(hhmm) + _QUOTE_OFFSET


def opening_quote(right: str, strike: int) -> tuple[float, float]:
    """A contract's (bid, ask) until a script changes it: intrinsic at the open plus a time value that falls
    0.20 a point away from the money (8.00 at the money, floor 0.40), one tick either side of that mid
    (0.10 on the $0.10 tier from 3.00, 0.05 below). The strangle legs 15 points out quote 4.90/5.10."""
    intrinsic = max(OPEN_LEVEL - strike, 0.0) if right == "C" else max(strike - OPEN_LEVEL, 0.0)
    mid = round(intrinsic + max(0.4, 8.0 - 0.2 * abs(strike - OPEN_LEVEL)), 2)
    half = 0.10 if mid >= 3.0 else 0.05
    return round(mid - half, 2), round(mid + half, 2)


def C(strike: int) -> Key:
    return ("C", strike)


def P(strike: int) -> Key:
    return ("P", strike)


def option_id(key: Key) -> str:
    right, strike = key
    return SPX.option_id(DAY, OptionRight(right), strike)


def leg(key: Key, ratio: int) -> Leg:
    """A leg of the scripted chain in the risk core's vocabulary (for asking a RiskBook directly)."""
    right, strike = key
    return Leg(Contract(option_id(key), SPX.symbol, OptionRight(right), float(strike), SESSION.close_ns), ratio)


@dataclass
class Market:
    """A scripted day: the index level and option quotes as step functions of the New York minute.

    ``index("10:05", 5562)`` holds the index at 5562 from the 10:05 bar on; ``quote("10:03", {C(5565): (2.9,
    3.1)})`` quotes the call at 2.90/3.10 from the 10:03 quotes on. Unscripted contracts keep their opening quote.
    """

    levels: dict[str, float] = field(default_factory=lambda: {"09:30": OPEN_LEVEL})
    quotes: dict[str, dict[Key, tuple[float, float]]] = field(default_factory=dict)

    def index(self, hhmm: str, level: float) -> Market:
        self.levels[hhmm] = level
        return self

    def quote(self, hhmm: str, book: dict[Key, tuple[float, float]]) -> Market:
        self.quotes.setdefault(hhmm, {}).update(book)
        return self

    def level_at(self, hhmm: str) -> float:
        return self.levels[max(k for k in self.levels if k <= hhmm)]

    def bars(self) -> list[Bar]:
        out = []
        for hhmm in _minutes("09:31", "16:00"):
            px = Price(self.level_at(hhmm), 2)
            out.append(Bar(BAR_TYPE, px, px, px, px, Quantity.from_int(0), at(hhmm), at(hhmm)))
        return out

    def option_quotes(self, options: dict[Key, OptionContract]) -> list[QuoteTick]:
        book = {key: opening_quote(*key) for key in options}
        out = []
        for hhmm in _minutes("09:59", "15:59"):
            book.update(self.quotes.get(hhmm, {}))
            ts = quoted_at(hhmm)
            for key, instrument in options.items():
                bid, ask = book[key]
                out.append(
                    QuoteTick(
                        instrument.id,
                        Price(bid, 2),
                        Price(ask, 2),
                        Quantity.from_int(50),
                        Quantity.from_int(50),
                        ts,
                        ts,
                    )
                )
        return out


def _minutes(first: str, last: str) -> list[str]:
    return [t.strftime("%H:%M") for t in pd.date_range(f"{DAY} {first}", f"{DAY} {last}", freq="1min")]


def theta_harvester(cls: type[ThetaHarvester] = ThetaHarvester, **overrides) -> ThetaHarvester:
    """The Theta Harvester (strategy id ThetaHarvester-001, or a test subclass under that id). Minute data:
    no 100 ms timer (``configs/backtest.yaml`` does the same); the hard stops run on every package quote."""
    config = {"strategy_id": "ThetaHarvester", "order_id_tag": "001", "hard_stop_timer": False, **overrides}
    return cls(ThetaHarvesterConfig(**config))


def gamma_scalper(cls: type[GammaScalper] = GammaScalper, **overrides) -> GammaScalper:
    """The Gamma Scalper (strategy id GammaScalper-002). With ``PUT_HEAVY_OPEN_INTEREST`` its GEX signal is
    strongly negative all day, so it buys the strangle at its first bar; ``strength_sizes`` sizes it."""
    config = {"strategy_id": "GammaScalper", "order_id_tag": "002", "hard_stop_timer": False, **overrides}
    return cls(GammaScalperConfig(**config))


PUT_HEAVY_OPEN_INTEREST = {option_id(P(k)): 20_000 for k in STRIKES}
"""Open interest on the puts only: dealers short gamma everywhere (negative GEX, the Gamma Scalper's signal)."""


@dataclass(repr=False)
class DayRun:
    """One scripted day run: the engine (kept for its cache), the book, the recorder and the strategies."""

    engine: BacktestEngine
    book: RiskBook
    recorder: RunRecorder
    strategies: list[Strategy]
    folder: Path
    order_events: list = field(default_factory=list)  # every order event on the bus, in the order it was published

    @property
    def cache(self):
        return self.engine.kernel.cache

    def positions(self) -> dict[str, float]:
        """Open positions by instrument id, signed."""
        return {p.instrument_id.value: p.signed_qty for p in self.cache.positions_open()}

    def fills(self, role: str | None = None, package_id: str | None = None) -> list[LegFill]:
        return [
            f
            for f in self.recorder.fills
            if (role is None or f.role == role) and (package_id is None or f.package_id == package_id)
        ]

    def packages(self) -> list[PackageRecord]:
        return list(self.recorder.packages)

    def journal(self, kind: str) -> list[dict]:
        """The decisions journal's lines of one kind ("decision", "lock", "breaker"...), in order."""
        lines = (json.loads(line) for line in self.book.journal.path.read_text().splitlines())
        return [d for d in lines if d["kind"] == kind]

    def decisions(self) -> list[dict]:
        return self.journal("decision")

    def run(self, until: str | None = None) -> DayRun:
        """Run to ``until`` (New York "HH:MM"; the engine can be run on from there) or past the 16:00 expiry."""
        end = at(until) if until is not None else SESSION.close_ns + 2 * MINUTE_NS
        self.engine.run(end=pd.Timestamp(end, tz="UTC"), streaming=True)
        if until is None:
            self.engine.end()
        return self

    def close(self) -> None:
        detach(self.engine.kernel)
        self.book.close()
        self.engine.dispose()


def start_day(
    folder: Path,
    market: Market,
    strategies: Iterable[Strategy],
    profile: str = "multi_strategy_paper",
    open_interest: dict[str, int] | None = None,
    balance: float = 100_000.0,
    cache_holds_every_quote: bool = False,
) -> DayRun:
    """An engine set up as ``odte backtest`` sets one up, loaded with the scripted day, not yet run.

    ``open_interest`` is what the runtime serves the Gamma Scalper (default ``PUT_HEAVY_OPEN_INTEREST``).
    ``cache_holds_every_quote``: as ``odte backtest`` sets its runtime (off by default, as a live node's).
    """
    open_interest = PUT_HEAVY_OPEN_INTEREST if open_interest is None else open_interest
    engine = BacktestEngine(BacktestEngineConfig(logging=LoggingConfig(bypass_logging=True), run_analysis=False))
    engine.add_venue(
        venue=Venue(SPX.venue),
        oms_type=OmsType.NETTING,
        account_type=AccountType.MARGIN,
        base_currency=USD,
        starting_balances=[Money(balance, USD)],
        fee_model=PerContractFeeModel(Money(FEE, USD)),
    )
    engine.add_instrument(underlying_instrument(SPX, SESSION.open_ns))
    options = {(right, k): session_option(SPX, SESSION, OptionRight(right), k) for k in STRIKES for right in ("C", "P")}
    for option in options.values():
        engine.add_instrument(option)
    book = RiskBook(load_policy(profile), folder / "state.sqlite", folder / "decisions.jsonl", nav=balance)
    recorder = RunRecorder()
    attach(engine.kernel, book, recorder, lambda d: dict(open_interest), cache_holds_every_quote)
    LegFillPricer(engine.kernel).install()  # as odte backtest prices leg fills
    strategies = list(strategies)
    for strategy in strategies:
        engine.add_strategy(strategy)
    engine.add_data(market.bars())
    engine.add_data(market.option_quotes(options))
    day = DayRun(engine, book, recorder, strategies, folder)
    engine.kernel.msgbus.subscribe("events.order.*", day.order_events.append)
    return day


def run_day(folder: Path, market: Market, strategies: Iterable[Strategy], **kwargs) -> DayRun:
    """The whole scripted day, through the 16:00 expiry."""
    day = start_day(folder, market, strategies, **kwargs)
    day.run()
    return day


class Days:
    """The scripted days of one test, each in its own folder under ``folder``; all closed on exit.

    A test module's fixture: ``with Days(tmp_path) as days: yield days``, then ``days(market, strategies)``.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.opened: list[DayRun] = []

    def __call__(self, market: Market, strategies: Iterable[Strategy], **kwargs) -> DayRun:
        day = start_day(self.folder / f"day{len(self.opened)}", market, strategies, **kwargs)
        self.opened.append(day)
        return day

    def __enter__(self) -> Days:
        return self

    def __exit__(self, *exc) -> None:
        for day in self.opened:
            day.close()


class SendsAt(Strategy):
    """Sends one order at a New York time (a late or foreign entry attempt) and keeps what the engine answered."""

    def __init__(self, hhmm: str, build: Callable[[Strategy], object], strategy_id: str = "ThetaHarvester-009") -> None:
        name, tag = strategy_id.rsplit("-", 1)
        super().__init__(StrategyConfig(strategy_id=name, order_id_tag=tag))
        self.when = at(hhmm)
        self.build = build
        self.denied: list = []

    def on_start(self) -> None:
        self.clock.set_time_alert_ns("send", self.when, lambda event: self.submit_order(self.build(self)))

    def on_order_denied(self, event) -> None:
        self.denied.append(event)


def buy_call(strike: int, price: float) -> Callable[[Strategy], object]:
    """An order builder: buy one call of the scripted chain at a limit."""

    def build(strategy: Strategy):
        iid = InstrumentId.from_str(option_id(C(strike)))
        return strategy.order_factory.limit(iid, OrderSide.BUY, Quantity.from_int(1), Price(price, 2))

    return build
