"""``odte backtest``: both strategies, governed by the kernel, over a catalog, into a run folder.

Nautilus's own ``BacktestEngine`` runs the days one after another in streaming mode (one day's options,
quotes and index bars read at a time by ``data.feed``, so a progress bar can count days), in a fresh engine
every ``DAYS_PER_ENGINE`` days, so that a long run's days stay as fast as its first and its memory flat; the
engine gate and the risk book are attached to each engine's kernel before any strategy starts. Set-up and
reads cost the run's own sessions, never the whole catalog's: the sessions are listed, checked and read
for the run's date range only (docs/decisions/0010). After the run the recorder
writes ``fills.csv`` and ``positions.csv``, the book has written ``decisions.jsonl``, and the independent
invariant audit replays the engine's fills before ``summary.json`` and ``report.html`` are written.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from nautilus_trader.backtest.engine import BacktestEngine, BacktestEngineConfig
from nautilus_trader.backtest.models import PerContractFeeModel
from nautilus_trader.cache.config import CacheConfig
from nautilus_trader.config import ImportableStrategyConfig, LoggingConfig, StrategyFactory
from nautilus_trader.model.currencies import USD
from nautilus_trader.model.enums import AccountType, OmsType
from nautilus_trader.model.identifiers import TraderId, Venue
from nautilus_trader.model.objects import Money
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from odte_nautilus.data.catalog_check import checked_key, validate_catalog
from odte_nautilus.data.catalog_io import CatalogSession, catalog_sessions, read_underlyings
from odte_nautilus.data.feed import session_feed
from odte_nautilus.data.sidecar import load_open_interest
from odte_nautilus.fees import DEFAULT_SCHEDULE, FeeSchedule, fee_schedule
from odte_nautilus.leg_fill_pricer import LegFillPricer
from odte_nautilus.recorder import RunRecorder
from odte_nautilus.reports import AuditRules, write_run_outputs
from odte_nautilus.reports.frames import DECISIONS_FILE
from odte_nautilus.risk.book import RiskBook
from odte_nautilus.risk.policy import PolicyError, load_policy
from odte_nautilus.risk.time_units import MINUTE_NS
from odte_nautilus.runtime import attach, detach

log = logging.getLogger(__name__)
STATE_FILE = "state.sqlite"

DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "configs" / "backtest.yaml"
DAYS_PER_ENGINE = 5
"""Days one ``BacktestEngine`` replays before the run goes on in a fresh one. Nautilus keeps every instrument,
matching engine, bus topic and closed position of a run, and some of its work grows with them: each order
command iterates every matching engine, each subscription matches every topic. A fresh engine every 5 days
keeps a long run's days as fast as its first and its memory flat. What crosses the boundary: the risk book
and its durable state, the run recorder, and each strategy's ``carry_over`` (docs/decisions/0013)."""
QUOTES_KEPT = 1
"""Quotes the cache keeps per instrument. Every reader (strategies, gate, leg pricer) asks for the latest
one; Nautilus's default of 10,000 kept every quote of every expired 0DTE option for the rest of the run,
about 63k quotes a day: a one-run year grew 14 MB a day to 7.7 GB (2.4 MB a day with one kept, the
simulated exchange's matching engines, until ``DAYS_PER_ENGINE``)."""

FILL_ASSUMPTIONS = {
    "orders": "limit orders at the far touch of the package (crossing the spread), rounded to the tick grid",
    "package fills": "Nautilus fills a package against its aggregated spread quote; each leg inside its own quote, "
    "on its tick grid, the legs summing exactly to the package price",
    "fees": "per contract per leg fill, by the run's fee schedule (see Fees)",
    "settlement": "SPXW cash-settled at the 16:00 index level (13:00 on early closes)",
    "flatten": "every package is closed at close - 15 min; working orders cancelled first",
}


def fill_assumptions(schedule: FeeSchedule) -> dict[str, str]:
    """The run's fill assumptions, the fees line naming the fee schedule and its charge per contract."""
    return {**FILL_ASSUMPTIONS, "fees": schedule.describe()}


class BacktestConfigError(ValueError):
    """A backtest config that cannot be run; the message names the file and the key."""


class LeftOpenError(RuntimeError):
    """An engine's last day ended with a position or package still open: its successor would not know it."""


class FeesConfig(BaseModel):
    """``fees: {schedule: ib-spxw, overrides: {commission: 0.5}}``: a named schedule, some items replaced."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schedule: str = DEFAULT_SCHEDULE
    overrides: dict[str, float] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _resolves(self) -> FeesConfig:
        self.resolve()  # an unknown schedule or item, or a negative amount, is refused with the config
        return self

    def resolve(self) -> FeeSchedule:
        return fee_schedule(self.schedule, self.overrides)


class BacktestConfig(BaseModel):
    """The backtest config file (``configs/backtest.yaml``): catalog, dates, strategies, risk, fills."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    catalog: Path = Path("catalog")
    start: date | None = None
    end: date | None = None
    risk_profile: str = "multi_strategy_paper"
    starting_balance: float = Field(default=100_000.0, gt=0)
    fees: FeesConfig = Field(default_factory=FeesConfig)
    venue: str = "CBOE"
    strategies: list[dict[str, Any]] = Field(min_length=1)

    def importable(self) -> list[ImportableStrategyConfig]:
        return [ImportableStrategyConfig(**s) for s in self.strategies]


def load_backtest_config(path: str | Path = DEFAULT_CONFIG, **overrides: Any) -> BacktestConfig:
    """Read and check a backtest config, and the risk profile it names, before anything runs.

    Every problem is a ``BacktestConfigError`` naming the file, the key and the reason; a bad risk profile
    is refused here too (its own file and key first, then the config that named it).
    """
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise BacktestConfigError(f"{path}: cannot read the backtest config: {exc}") from exc
    if not isinstance(raw, dict):
        raise BacktestConfigError(f"{path}: expected a mapping of keys at the top level, got {type(raw).__name__}")
    raw.update({k: v for k, v in overrides.items() if v is not None})
    try:
        config = BacktestConfig.model_validate(raw)
        config.importable()
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise BacktestConfigError(f"{path}: {key}: {first['msg'].removeprefix('Value error, ')}") from None
    except (TypeError, ValueError) as exc:
        raise BacktestConfigError(f"{path}: strategies: {exc}") from None
    try:
        load_policy(config.risk_profile)
    except PolicyError as exc:
        raise BacktestConfigError(f"{exc} (the risk_profile of {path})") from None
    return config


@dataclass(frozen=True)
class RunResult:
    run_dir: Path
    summary: dict
    days: int
    quotes: int  # option quotes replayed: those of the strikes within the strategies' reach (data/feed.py)


def selected_sessions(config: BacktestConfig) -> list[CatalogSession]:
    sessions = catalog_sessions(config.catalog, config.start, config.end)
    if not sessions:
        raise BacktestConfigError(
            f"{config.catalog}: no trading sessions with option quotes between {config.start} and {config.end}"
        )
    return sessions


def run_backtest(
    config: BacktestConfig,
    run_dir: str | Path,
    on_day: Callable[[date, int], None] | None = None,
    strategies: Callable[[], list] | None = None,
) -> RunResult:
    """Run the config's strategies (or those ``strategies`` builds) over the catalog into ``run_dir``.

    ``strategies`` is called once per engine (``DAYS_PER_ENGINE``): Nautilus strategies belong to one engine.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    sessions = selected_sessions(config)
    definitions = validate_catalog(config.catalog, sessions).definitions
    policy = load_policy(config.risk_profile)
    fees = config.fees.resolve()
    underlyings = read_underlyings(config.catalog)
    indexes = [underlyings[u] for u in sorted({s.spec.underlying_id for s in sessions})]  # every engine has all
    build = strategies or (lambda: [StrategyFactory.create(c) for c in config.importable()])
    book = RiskBook(policy, *_fresh_risk_files(run_dir), nav=config.starting_balance, durable=False, exclusive=True)
    recorder = RunRecorder()
    quotes = 0
    earlier: list = []
    try:
        for start in range(0, len(sessions), DAYS_PER_ENGINE):
            span = sessions[start : start + DAYS_PER_ENGINE]
            engine = _engine(config, fees, indexes)
            attach(
                engine.kernel,
                book,
                recorder,
                open_interest=lambda d: load_open_interest(config.catalog, d),
                cache_holds_every_quote=True,  # the engine caches every quote it replays
            )
            try:
                LegFillPricer(engine.kernel).install()
                earlier = _carried(build(), earlier)
                for strategy in earlier:
                    engine.add_strategy(strategy)
                reach = strike_reach(earlier)
                for part in span:
                    quotes += _run_day(engine, config.catalog, part, reach, definitions.get(checked_key(part)))
                    if on_day is not None:
                        on_day(part.session.trading_date, quotes)
                engine.end()
                if start + DAYS_PER_ENGINE < len(sessions):
                    _require_flat(engine, book, span[-1])
            finally:
                detach(engine.kernel)
            engine.dispose()
    finally:
        book.close()
    recorder.write(run_dir)
    windows = [w for w in (book.calendar.session_window(s.session.trading_date) for s in sessions) if w is not None]
    rules = AuditRules.from_policy(policy, windows)
    summary, _ = write_run_outputs(run_dir, rules, fill_assumptions(fees), fees, catalog=config.catalog)
    return RunResult(run_dir, summary, len(sessions), quotes)


def _engine(config: BacktestConfig, fees: FeeSchedule, underlyings: list) -> BacktestEngine:
    """A fresh engine with the run's venue, fee model and index instruments; options come day by day."""
    engine = BacktestEngine(
        BacktestEngineConfig(
            trader_id=TraderId("ODTE-BACKTEST"),
            logging=LoggingConfig(log_level="ERROR", bypass_logging=True),
            cache=CacheConfig(tick_capacity=QUOTES_KEPT),
            run_analysis=False,
        )
    )
    engine.add_venue(
        venue=Venue(config.venue),
        oms_type=OmsType.NETTING,
        account_type=AccountType.MARGIN,
        base_currency=USD,
        starting_balances=[Money(config.starting_balance, USD)],
        fee_model=PerContractFeeModel(Money(fees.per_contract, USD)),
    )
    for underlying in underlyings:
        engine.add_instrument(underlying)
    return engine


def _require_flat(engine: BacktestEngine, book: RiskBook, last: CatalogSession) -> None:
    """An engine hands over to the next one only flat: a 0DTE position is closed by its expiry at the latest,
    so one still open means a settlement went missing, and a fresh engine would silently forget it."""
    held = [p.instrument_id.value for p in engine.cache.positions_open()]
    packages = [package_id for _, package_id in book.packages]
    if held or packages:
        raise LeftOpenError(
            f"{last.session.trading_date}: still open at the end of the day, where the run goes on in a fresh"
            f" engine: positions {held or 'none'}, packages {packages or 'none'}"
        )


def _carried(strategies: list, earlier: list) -> list:
    """The new engine's strategies, each told what the one of the same id on the engine before knew."""
    before = {strategy.id: strategy for strategy in earlier}
    for strategy in strategies:
        carry_over = getattr(strategy, "carry_over", None)
        if carry_over is not None and strategy.id in before:
            carry_over(before[strategy.id])
    return strategies


def _fresh_risk_files(run_dir: Path) -> tuple[Path, Path]:
    """The run's risk state and journal, those of an earlier run in the same folder deleted first.

    A backtest starts as a fresh account: a state file left in its folder would carry that run's day locks,
    breakers and trade counts into this one (which then traded nothing), and its journal would append to
    the old one. Every other file of the folder is rewritten whole at the end of the run.
    """
    state, journal = run_dir / STATE_FILE, run_dir / DECISIONS_FILE
    earlier = [path for path in (state, journal, *run_dir.glob(f"{STATE_FILE}-*")) if path.exists()]
    if earlier:
        log.warning(f"{run_dir}: replacing the earlier run in this folder")
    for path in earlier:
        path.unlink()
    return state, journal


def strike_reach(strategies: list) -> float | None:
    """The farthest any of the run's strategies reaches from spot (``None`` when one does not say: every
    strike is then replayed). Quotes beyond it are never read (``data/feed.py``)."""
    reaches: list[float | None] = [getattr(s, "strike_reach_points", lambda: None)() for s in strategies]
    known = [r for r in reaches if r is not None]
    return max(known) if known and len(known) == len(reaches) else None


def _run_day(
    engine: BacktestEngine, catalog: Path, part: CatalogSession, reach: float | None, definitions: str | None
) -> int:
    """Add one session's options, load its quotes and index bars, run it, and clear the data (streaming).

    The quotes go in unsorted, then the bars sorted: one stable sort of the day by ``ts_init`` instead of two.

    An option whose quotes are replayed goes to the venue too: it gets a matching engine, which fills its
    orders and settles it at expiry. One beyond every strategy's reach (``data/feed.py``), never quoted and
    never traded, goes to the cache only, where the chain and the GEX signal list it: Nautilus keeps every
    matching engine as long as the engine runs and iterates all of them whenever an order command is pending,
    so each such engine cost every later order a little more (docs/decisions/0013).
    """
    start, end = part.session.open_ns - MINUTE_NS, part.session.close_ns
    feed = session_feed(catalog, part, start, end, reach, definitions)
    for option in feed.options:
        if option.id.value in feed.quoted:
            engine.add_instrument(option)
        else:
            engine.cache.add_instrument(option)
    engine.add_data(feed.quotes, sort=False)
    engine.add_data(feed.bars)
    engine.run(end=pd.Timestamp(end + MINUTE_NS, tz="UTC"), streaming=True)
    engine.clear_data()
    return len(feed.quotes)
