"""``odte live --broker ib-sim``: the IB paper node against the project's TWS simulator, one compressed session.

Nothing to start and no gateway: the simulator (a TWS-protocol server on loopback replaying a sample SPX
session, ``odte_nautilus/sim/ib``) and the node run in this process, the node talking to it through
Nautilus's own IB client exactly as to IB Gateway. With ``--sim-url`` the simulator runs in its own process
(``odte sim ib``) and the node drives it over its control API (``remote_session.py``) and connects to the
TWS port its clock names, so the broker outlives a node killed mid-session, and the node started again with
``--resume`` continues the run folder and its durable state. The same guards as against a real paper gateway run first
(the simulator is declared, so its loopback port passes; its managed accounts must still be paper). The
session is replayed a minute at a time on the node's replayed clocks (``session_clock.py``), the node beats
its heartbeat for the watchdog, and when the session is over the run folder is written and audited as after
a backtest, the fill check included (the simulator's catalog is the backtest's).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from nautilus_trader.common.component import TestClock

from odte_nautilus.adapters.ib.config import IB
from odte_nautilus.adapters.ib.data import OdteInteractiveBrokersDataClient
from odte_nautilus.data.catalog_io import catalog_sessions
from odte_nautilus.data.sidecar import load_open_interest
from odte_nautilus.data.symbology import index_symbol
from odte_nautilus.live.alerts import attach_alerts
from odte_nautilus.live.control import serve_control
from odte_nautilus.live.guards import require
from odte_nautilus.live.ib_node import build_ib_node, ib_fees, start_node_heartbeat
from odte_nautilus.live.ib_preflight import run_ib_preflight
from odte_nautilus.live.node import PaperNode, write_run_folder
from odte_nautilus.live.remote_session import RemoteSession, RemoteSessionError
from odte_nautilus.live.session_clock import ReplayedSession, SessionDriver, node_clocks, replayed_time_kernel
from odte_nautilus.live.settings import LiveSettings
from odte_nautilus.live.sim_broker import sample_catalog
from odte_nautilus.live.simulated import SimulatedRun, node_settled, run_until_session_end
from odte_nautilus.nautilus_internals import data_client
from odte_nautilus.reports.daily import report_after_flatten
from odte_nautilus.sim.ib import Faults, TwsSimulator

SIM_IB_ACCOUNT = "DU1234567"
SIM_UNDERLYING = "SPX"
SIM_IB_SEED = 14
"""The sample seed of the session: a day on which both strategies trade on SPXW (a fly and two strangles; on
seed 11, the Alpaca session's seed, the Gamma Scalper stands aside on SPX)."""
SIM_ASSUMPTIONS = {
    "broker": "the project's TWS simulator on loopback, through Nautilus's own IB client",
    "orders": "one BAG combo per package at its signed net limit (credit negative)",
    "fills": "a BAG limit fills at the package's far touch, every leg at its own far side",
    "session": "a sample session replayed a minute at a time; the node's clocks follow the replay",
}


def run_ib_simulated_session(
    settings: LiveSettings,
    config_path: Path,
    run_dir: Path,
    *,
    catalog_root: Path,
    seconds_per_minute: float = 0.5,
    env: Mapping[str, str] | None = None,
    on_minute: Callable[[int], None] | None = None,
    control_port: int | None = None,
    seed: int = SIM_IB_SEED,
    faults: Faults | None = None,
    sim_url: str | None = None,
) -> SimulatedRun:
    """One SPX session: against a TWS simulator started here (``sim_url`` None, with ``faults``), or one
    already running in another process (``odte sim ib``; its faults are set through its control API), which
    the node drives from where it stands: the broker outlives the node, and a node started again
    (``--resume``, the same run folder and state) continues the session."""
    if sim_url is not None:
        if faults is not None:
            raise ValueError("a simulator in another process takes its faults through PATCH /sim/v1/faults")
        remote = RemoteSession(sim_url)
        state = remote.state
        if state.tws_port is None or state.underlying != index_symbol(SIM_UNDERLYING):
            raise RemoteSessionError(f"the simulator at {remote.url} is not the TWS simulator of an SPX session")
        where = Gateway(remote.host, state.tws_port, state.trading_date, state.catalog)
        driven = _drive(settings, config_path, run_dir, remote, where, seconds_per_minute, env, on_minute, control_port)
        return _finish(run_dir, where, driven)
    catalog = sample_catalog(catalog_root, SIM_UNDERLYING, seed)
    with TwsSimulator(catalog, accounts=(SIM_IB_ACCOUNT,), faults=faults) as sim:
        where = Gateway(sim.host, sim.port, sim.trading_date, catalog)
        driven = _drive(settings, config_path, run_dir, sim, where, seconds_per_minute, env, on_minute, control_port)
    return _finish(run_dir, where, driven)


@dataclass(frozen=True)
class Gateway:
    """Where the node connects and what the simulator replays, in this process or another."""

    host: str
    port: int
    session: date
    catalog: Path


def _drive(
    settings: LiveSettings,
    config_path: Path,
    run_dir: Path,
    replay: ReplayedSession,
    gateway: Gateway,
    seconds_per_minute: float,
    env: Mapping[str, str] | None,
    on_minute: Callable[[int], None] | None,
    control_port: int | None,
) -> tuple[PaperNode, int]:
    """The guards, then the node built on replayed clocks and driven from the simulator's current time."""
    environment = {**(env or {}), settings.ib.account_env: SIM_IB_ACCOUNT}
    require(run_ib_preflight(config_path, environment, simulator=True, port=gateway.port))
    with replayed_time_kernel(f"tcp://{gateway.host}:{gateway.port}"):
        paper = build_ib_node(
            settings,
            host=gateway.host,
            port=gateway.port,
            account=SIM_IB_ACCOUNT,
            session=gateway.session,
            run_dir=run_dir,
            state_dir=run_dir / "state",
            open_interest=lambda day: load_open_interest(gateway.catalog, day),
            open_check_seconds=max(1.0, 5 * seconds_per_minute),
        )

    def settled() -> bool:
        return node_settled(paper.node, IB)

    data = data_client(paper.node.kernel, IB)
    assert isinstance(data, OdteInteractiveBrokersDataClient)

    def clocks() -> list[TestClock]:
        return node_clocks(paper.node)

    driver = SessionDriver(replay, clocks, seconds_per_minute, on_minute, settled, data.delivered)
    driver.start_at(replay.now_ns)
    heartbeat = start_node_heartbeat(paper, settings, run_dir / "state")
    attach_alerts(paper, settings, environment)
    try:
        with serve_control(paper, settings, env=environment, port=control_port):
            run_until_session_end(paper, driver)
    finally:
        heartbeat.stop()
    return paper, driver.minutes


def _finish(run_dir: Path, gateway: Gateway, driven: tuple[PaperNode, int]) -> SimulatedRun:
    paper, minutes = driven
    days = [part.session.trading_date for part in catalog_sessions(gateway.catalog)]
    try:
        summary = write_run_folder(paper, run_dir, days, ib_fees(), SIM_ASSUMPTIONS, catalog=gateway.catalog)
    finally:
        report_after_flatten(run_dir, gateway.session)
    return SimulatedRun(run_dir, summary, minutes, gateway.session)
