"""The paper ``TradingNode``: the backtest's strategies, kernel and gate, on a broker's adapter.

``assemble_node`` builds the node the same way for every broker (Alpaca here in ``build_paper_node``,
Interactive Brokers in ``ib_node.py``), for a real paper account and for the simulator: the broker's data and
execution clients, the strategies of ``configs/paper.yaml`` pointed at the run's underlying,
and the runtime (engine gate, node guard, risk book on a durable SQLite file, run recorder) attached before
anything starts. The only differences for the simulator are its loopback URLs and, for a compressed session,
the clocks (``session_clock.py``).

The broker's EOD differs from the profile's: Alpaca liquidates expiring SPY/QQQ options from about 15:15 ET,
so the node flattens ``flatten_minutes_before_close`` before the close (default 50: 15:10 ET), and the day
lock follows that flatten.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from nautilus_trader.common.actor import Actor
from nautilus_trader.config import (
    LiveDataClientConfig,
    LiveExecClientConfig,
    LiveExecEngineConfig,
    LoggingConfig,
    TradingNodeConfig,
)
from nautilus_trader.live.factories import LiveDataClientFactory, LiveExecClientFactory
from nautilus_trader.live.node import TradingNode

from odte_nautilus.adapters.alpaca.config import AlpacaDataClientConfig, AlpacaExecClientConfig
from odte_nautilus.adapters.alpaca.factories import (
    AlpacaLiveDataClientFactory,
    AlpacaLiveExecClientFactory,
    get_cached_alpaca_rest,
)
from odte_nautilus.adapters.alpaca.symbols import ALPACA
from odte_nautilus.fees import FeeSchedule, fee_schedule
from odte_nautilus.live.broker_watch import BrokerWatch, BrokerWatchConfig
from odte_nautilus.live.preflight import Credentials
from odte_nautilus.live.settings import LiveSettings
from odte_nautilus.nautilus_internals import enable_live_spread_quotes
from odte_nautilus.recorder import RunRecorder
from odte_nautilus.reports import AuditRules, write_run_outputs
from odte_nautilus.risk.book import RiskBook
from odte_nautilus.risk.policy import RiskPolicy, load_policy
from odte_nautilus.runtime import Runtime, attach

TRADER_ID = "ODTE-PAPER"
STATE_FILE = "paper.sqlite"
PAPER_LOG = "paper_trading"  # Nautilus writes logs/paper_trading.log


@dataclass(frozen=True)
class BrokerUrls:
    rest: str
    trade_stream: str
    option_stream: str
    stock_stream: str
    data: str | None = None  # market-data REST (latest quotes); None: the trading REST host serves it (simulator)

    @classmethod
    def from_settings(cls, settings: LiveSettings) -> BrokerUrls:
        a = settings.alpaca
        return cls(a.base_url, a.trade_stream_url, a.option_stream_url, a.stock_stream_url, a.data_url)


@dataclass
class PaperNode:
    node: TradingNode
    runtime: Runtime
    policy: RiskPolicy

    @property
    def book(self) -> RiskBook:
        return self.runtime.book

    @property
    def recorder(self) -> RunRecorder:
        return self.runtime.recorder


def broker_policy(settings: LiveSettings) -> RiskPolicy:
    """The risk profile with this broker's flatten time (the day lock follows the flatten)."""
    policy = load_policy(settings.risk_profile)
    eod = policy.eod.model_copy(update={"flatten_minutes_before_close": settings.flatten_minutes_before_close})
    return policy.model_copy(update={"eod": eod})


@dataclass(frozen=True)
class NodeClients:
    """One broker's side of the node: its client configs and factories under one key, the venue its strategies
    trade, and the actors that need the built node (the broker watch of Alpaca's REST budget)."""

    key: str
    venue: str
    data_config: LiveDataClientConfig
    exec_config: LiveExecClientConfig
    data_factory: type[LiveDataClientFactory]
    exec_factory: type[LiveExecClientFactory]
    actors: Callable[[RiskBook], list[Actor]] = lambda book: []


def build_paper_node(
    settings: LiveSettings,
    credentials: Credentials,
    urls: BrokerUrls,
    *,
    underlying: str,
    run_dir: Path,
    state_dir: Path,
    account_id: str | None = None,
    open_interest: Callable[[date], dict[str, int]] | None = None,
    simulator: bool = False,
    open_check_seconds: float = 60.0,
) -> PaperNode:
    """A built (not yet running) paper node on Alpaca with the risk gate on its command path."""
    underlyings = (underlying,)
    exec_config = AlpacaExecClientConfig(
        api_key=credentials.key,
        api_secret=credentials.secret,
        base_url_http=urls.rest,
        trade_stream_url=urls.trade_stream,
        account_id=account_id,
        underlyings=underlyings,
        max_requests_per_minute=settings.alpaca.max_requests_per_minute,
        fee_schedule=alpaca_fees(underlying).name,
    )
    data_config = AlpacaDataClientConfig(
        api_key=credentials.key,
        api_secret=credentials.secret,
        base_url_http=urls.rest,
        data_url_http=urls.data,
        option_stream_url=urls.option_stream,
        stock_stream_url=urls.stock_stream,
        underlyings=underlyings,
        max_requests_per_minute=settings.alpaca.max_requests_per_minute,
    )

    def broker_watch(book: RiskBook) -> list[Actor]:
        every = settings.reconcile_every_seconds
        watch = BrokerWatchConfig(every_seconds=every, base_url=urls.rest, simulator=simulator)
        rest = get_cached_alpaca_rest(exec_config)  # the account's one REST budget, shared with the adapter
        return [BrokerWatch(watch, book, rest)]

    clients = NodeClients(
        ALPACA,
        ALPACA,
        data_config,
        exec_config,
        AlpacaLiveDataClientFactory,
        AlpacaLiveExecClientFactory,
        broker_watch,
    )
    return assemble_node(
        settings,
        clients,
        underlying=underlying,
        run_dir=run_dir,
        state_dir=state_dir,
        open_interest=open_interest,
        open_check_seconds=open_check_seconds,
    )


def assemble_node(
    settings: LiveSettings,
    clients: NodeClients,
    *,
    underlying: str,
    run_dir: Path,
    state_dir: Path,
    open_interest: Callable[[date], dict[str, int]] | None = None,
    open_check_seconds: float = 60.0,
) -> PaperNode:
    """The node of any broker: the strategies of the config, the runtime (engine gate, node guard, durable risk
    book, run recorder) attached before anything starts, and the broker's own actors."""
    run_dir.mkdir(parents=True, exist_ok=True)
    state_dir.mkdir(parents=True, exist_ok=True)
    settings.logs_dir.mkdir(parents=True, exist_ok=True)
    policy = broker_policy(settings)
    config = TradingNodeConfig(
        trader_id=TRADER_ID,
        logging=LoggingConfig(
            log_level="INFO",
            log_level_file="DEBUG",  # seed 003: the paper log at DEBUG
            log_directory=str(settings.logs_dir),
            log_file_name=PAPER_LOG,
            log_colors=False,
        ),
        # Nautilus re-reads open orders from the broker and books a missed fill or cancel (broker_watch.py).
        exec_engine=LiveExecEngineConfig(reconciliation=True, open_check_interval_secs=open_check_seconds),
        data_clients={clients.key: clients.data_config},
        exec_clients={clients.key: clients.exec_config},
        strategies=settings.importable(underlying, venue=clients.venue),
    )
    node = TradingNode(config=config)
    node.add_data_client_factory(clients.key, clients.data_factory)
    node.add_exec_client_factory(clients.key, clients.exec_factory)
    node.build()
    enable_live_spread_quotes(node.kernel.data_engine, node.kernel.cache, node.kernel.msgbus)
    book = RiskBook(
        policy, state_dir / STATE_FILE, run_dir / "decisions.jsonl", nav=settings.starting_balance, durable=True
    )
    runtime = attach(node.kernel, book, RunRecorder(append_to=run_dir), open_interest=open_interest)  # durable rows
    for actor in clients.actors(book):
        node.kernel.trader.add_actor(actor)
    return PaperNode(node, runtime, policy)


def alpaca_fees(underlying: str) -> FeeSchedule:
    """Alpaca's published fee schedule for the underlying's options (``fees.py``)."""
    return fee_schedule(f"alpaca-{underlying.lower()}")


def write_run_folder(
    paper: PaperNode,
    run_dir: Path,
    days: list[date],
    fees: FeeSchedule,
    assumptions: Mapping[str, str],
    catalog: Path | None = None,
) -> dict:
    """The run folder of a paper session, as after a backtest: files, summary, report, and the audit (with
    the fill check when the session replayed a catalog); raises ``AuditFailed`` after writing, as a backtest."""
    paper.recorder.write(run_dir)
    flatten = paper.policy.eod.flatten_minutes_before_close
    windows = [w for w in (paper.book.calendar.session_window(d, flatten) for d in days) if w is not None]
    rules = AuditRules.from_policy(paper.policy, windows)
    # A broker stamps its fills with its own clock, at which that minute's quotes are already out.
    summary, _ = write_run_outputs(run_dir, rules, assumptions, fees, catalog=catalog, quote_delay_ns=0)
    return summary
