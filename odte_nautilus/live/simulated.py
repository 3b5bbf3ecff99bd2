"""``odte live --broker alpaca-sim``: the paper node against the project's Alpaca simulator, one compressed session.

Nothing to start and no credentials: the simulator (a real HTTP and websocket server on loopback, replaying a
sample SPY or QQQ session) and the paper node run in this process, the node talking to the simulator through
the real alpaca-py clients. With ``--sim-url`` the simulator runs in its own process (``odte sim alpaca``)
and the node drives it over its control API (``remote_session.py``), so the broker outlives a node killed
mid-session, and the node started again with ``--resume`` continues the run folder and its durable state.
The same guards as against a real paper account run first (the simulator is declared, so its loopback URL
passes). The session is replayed a minute at a time (``session_clock.py``); when it is over the node stops
and the run folder is written as after a backtest (``fills.csv``, ``positions.csv``, ``decisions.jsonl``,
``summary.json``, ``report.html``), the independent audit included.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from nautilus_trader.live.node import TradingNode

from odte_nautilus.adapters.alpaca.symbols import ALPACA
from odte_nautilus.data.catalog_io import catalog_sessions
from odte_nautilus.live.alerts import attach_alerts
from odte_nautilus.live.control import serve_control
from odte_nautilus.live.guards import require
from odte_nautilus.live.node import BrokerUrls, PaperNode, alpaca_fees, build_paper_node, write_run_folder
from odte_nautilus.live.preflight import Credentials, broker_checks, local_checks, paper_client
from odte_nautilus.live.remote_session import RemoteSession, RemoteSessionError
from odte_nautilus.live.session_clock import ReplayedSession, SessionDriver, node_clocks, replayed_time_kernel
from odte_nautilus.live.settings import LiveSettings
from odte_nautilus.live.sim_broker import (
    SIM_ACCOUNT,
    SIM_KEY,
    SIM_SECRET,
    SIM_SEED,
    alpaca_open_interest,
    sample_catalog,
)
from odte_nautilus.nautilus_internals import data_client, exec_client
from odte_nautilus.reports.daily import report_after_flatten
from odte_nautilus.runtime import detach
from odte_nautilus.sim.alpaca import AlpacaSimulator

SIM_ASSUMPTIONS = {
    "broker": "the project's Alpaca simulator on loopback, through the real alpaca-py clients",
    "orders": "one mleg order per package at its signed net limit (credit negative)",
    "fills": "an mleg limit fills at the package's far touch, every leg at its own far side",
    "session": "a sample session replayed a minute at a time; the node's clocks follow the replay",
}


@dataclass(frozen=True)
class SimulatedRun:
    run_dir: Path
    summary: dict
    minutes: int
    session: date


def run_simulated_session(
    settings: LiveSettings,
    config_path: Path,
    run_dir: Path,
    *,
    underlying: str,
    catalog_root: Path,
    seconds_per_minute: float = 0.5,
    env: dict[str, str] | None = None,
    on_minute: Callable[[int], None] | None = None,
    sim_url: str | None = None,
    control_port: int | None = None,
    seed: int = SIM_SEED,
) -> SimulatedRun:
    """One session against the simulator: started here (``sim_url`` None), or one already running in another
    process (``odte sim alpaca``), which the node drives over its control API from where it stands: the
    broker outlives the node, and a node started again (``--resume``, the same run folder and state)
    continues the session."""
    if sim_url is not None:
        remote = RemoteSession(sim_url, SIM_KEY, SIM_SECRET)
        if remote.state.underlying != underlying:
            raise RemoteSessionError(
                f"the simulator at {remote.url} replays {remote.state.underlying}, not {underlying}"
            )
        catalog = remote.state.catalog
        minutes = _drive(
            settings,
            config_path,
            run_dir,
            remote,
            remote.urls,
            underlying,
            catalog,
            seconds_per_minute,
            env,
            on_minute,
            control_port,
        )
        return _finish(run_dir, underlying, catalog, minutes, remote.state.trading_date)
    catalog = sample_catalog(catalog_root, underlying, seed)
    with AlpacaSimulator(
        catalog, underlying=underlying, key=SIM_KEY, secret=SIM_SECRET, account_number=SIM_ACCOUNT
    ) as sim:
        urls = BrokerUrls(sim.rest_url, sim.trade_stream_url, sim.option_stream_url, sim.stock_stream_url)
        minutes = _drive(
            settings,
            config_path,
            run_dir,
            sim,
            urls,
            underlying,
            catalog,
            seconds_per_minute,
            env,
            on_minute,
            control_port,
        )
        session = sim.market.session.trading_date
    return _finish(run_dir, underlying, catalog, minutes, session)


def _drive(
    settings: LiveSettings,
    config_path: Path,
    run_dir: Path,
    session: ReplayedSession,
    urls: BrokerUrls,
    underlying: str,
    catalog: Path,
    seconds_per_minute: float,
    env: dict[str, str] | None,
    on_minute: Callable[[int], None] | None,
    control_port: int | None,
) -> tuple[PaperNode, int]:
    """The guards, then the node built on replayed clocks and driven from the simulator's current time."""
    settings = pointed_at(settings, urls)
    environment = {**(env or {}), settings.alpaca.key_env: SIM_KEY, settings.alpaca.secret_env: SIM_SECRET}
    credentials = Credentials.from_env(settings, environment)
    require(local_checks(config_path, settings, environment, simulator=True))
    require(broker_checks(paper_client(SIM_KEY, SIM_SECRET, urls.rest), settings, underlying))
    with replayed_time_kernel(urls.rest):
        paper = build_paper_node(
            settings,
            credentials,
            urls,
            underlying=underlying,
            run_dir=run_dir,
            state_dir=run_dir / "state",
            account_id=SIM_ACCOUNT,
            open_interest=alpaca_open_interest(catalog),
            simulator=True,
            open_check_seconds=max(1.0, 5 * seconds_per_minute),
        )

    def settled() -> bool:
        return node_settled(paper.node, ALPACA)

    driver = SessionDriver(session, lambda: node_clocks(paper.node), seconds_per_minute, on_minute, settled)
    driver.start_at(session.now_ns)
    attach_alerts(paper, settings, environment)
    with serve_control(paper, settings, env=environment, port=control_port):
        run_until_session_end(paper, driver)
    return paper, driver.minutes


def _finish(
    run_dir: Path, underlying: str, catalog: Path, driven: tuple[PaperNode, int], session: date
) -> SimulatedRun:
    paper, minutes = driven
    days = [part.session.trading_date for part in catalog_sessions(catalog)]
    try:
        summary = write_run_folder(paper, run_dir, days, alpaca_fees(underlying), SIM_ASSUMPTIONS, catalog=catalog)
    finally:
        report_after_flatten(run_dir, session)  # a day whose audit fails still gets its report
    return SimulatedRun(run_dir, summary, minutes, session)


def node_settled(node: TradingNode, client: str) -> bool:
    """Nothing left to do for the node: every engine queue empty, no subscription in progress (a leg's
    latest quote on its way), no cancel being confirmed against executions, no order waiting on the broker."""
    kernel = node.kernel
    data, risk, execution = kernel.data_engine, kernel.risk_engine, kernel.exec_engine
    queues = (data.data_qsize(), data.cmd_qsize(), risk.cmd_qsize(), risk.evt_qsize())
    pending = (execution.cmd_qsize(), execution.evt_qsize())
    subscribing = getattr(data_client(kernel, client), "busy", 0)
    confirming = getattr(exec_client(kernel, client), "confirming", 0)
    idle = not any(queues) and not any(pending) and not subscribing and not confirming
    return idle and kernel.cache.orders_inflight_count() == 0


def pointed_at(settings: LiveSettings, urls: BrokerUrls) -> LiveSettings:
    """The settings with the simulator's loopback URLs in place of Alpaca's hosts."""
    alpaca = settings.alpaca.model_copy(
        update={
            "base_url": urls.rest,
            "trade_stream_url": urls.trade_stream,
            "option_stream_url": urls.option_stream,
            "stock_stream_url": urls.stock_stream,
        }
    )
    return settings.model_copy(update={"alpaca": alpaca})


LEFTOVER_GRACE_SECONDS = 2.0  # a stopping client's own shutdown (IB's) finishes before the rest is cancelled


def end_leftover_tasks(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel what is still scheduled on a stopped node's loop and let it finish: a client's timers (IB's bar
    completion timeouts), the heartbeat, Nautilus's executor workers, none left to be destroyed pending."""
    if loop.is_running() or loop.is_closed():
        return
    tasks = [t for t in asyncio.all_tasks(loop) if not t.done()]
    if not tasks:
        return
    _, pending = loop.run_until_complete(asyncio.wait(tasks, timeout=LEFTOVER_GRACE_SECONDS))  # a client's stop
    for task in pending:
        task.cancel()
    loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))


def run_until_session_end(paper: PaperNode, driver: SessionDriver) -> None:
    node: TradingNode = paper.node
    loop = node.get_event_loop()
    assert loop is not None

    async def replay() -> None:
        while not node.kernel.trader.is_running:
            await asyncio.sleep(0.05)
        await driver.run()
        await asyncio.sleep(1.0)  # the last events of the session reach the node
        await node.stop_async()

    task = loop.create_task(replay())
    try:
        node.run()
    finally:
        if not task.done():
            task.cancel()
        end_leftover_tasks(loop)
        node.dispose()
        detach(node.kernel)
        paper.book.close()
    if task.done() and not task.cancelled() and task.exception() is not None:
        raise task.exception()  # type: ignore[misc]
