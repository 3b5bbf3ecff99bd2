"""The paper node on Interactive Brokers: SPXW 0DTE through Nautilus's own IB adapter.

The same strategies, kernel, gate, node guard and durable risk book as on Alpaca (``node.assemble_node``);
what differs is the broker side: Nautilus's IB data client and the project's IB execution client
(``adapters/ib``) sharing one API connection to a paper gateway (or the project's TWS simulator), the chain of
the session's expiry, the strategies sized for SPXW (``ib:`` in ``configs/paper.yaml``), and IB's fees.

Building a ``TradingNode`` with IB clients connects at once and retries for ever when nothing listens
(nautilus-1.231.md §11): ``odte live --broker ib`` builds it only after the guards connected once and read
the gateway's managed accounts (``ib_preflight``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

from odte_nautilus.adapters.ib.config import CHAIN_EXCHANGE, IB, ib_client_configs
from odte_nautilus.adapters.ib.factories import (
    OdteInteractiveBrokersDataClientFactory,
    OdteInteractiveBrokersExecClientFactory,
)
from odte_nautilus.data.symbology import index_symbol
from odte_nautilus.fees import FeeSchedule, fee_schedule
from odte_nautilus.live.heartbeat import HEARTBEAT_FILE, HeartbeatTask, start_heartbeat
from odte_nautilus.live.node import NodeClients, PaperNode, assemble_node
from odte_nautilus.live.settings import LiveSettings, on_ib

IB_FEES = "ib-spxw"


def build_ib_node(
    settings: LiveSettings,
    *,
    port: int,
    account: str,
    session: date,
    run_dir: Path,
    state_dir: Path,
    host: str | None = None,
    open_interest: Callable[[date], dict[str, int]] | None = None,
    open_check_seconds: float = 60.0,
) -> PaperNode:
    """A built (not yet running) paper node on IB; ``settings`` as read from the config (``on_ib`` applied here)."""
    settings = on_ib(settings)
    ib = settings.ib
    data, execution = ib_client_configs(host or ib.host, port, ib.client_id, account, session)
    factories = (OdteInteractiveBrokersDataClientFactory, OdteInteractiveBrokersExecClientFactory)
    clients = NodeClients(IB, CHAIN_EXCHANGE, data, execution, *factories)
    return assemble_node(
        settings,
        clients,
        underlying=index_symbol(settings.underlying),
        run_dir=run_dir,
        state_dir=state_dir,
        open_interest=open_interest,
        open_check_seconds=open_check_seconds,
    )


def ib_fees() -> FeeSchedule:
    """IBKR Pro's published schedule for SPXW (``fees.py``)."""
    return fee_schedule(IB_FEES)


def start_node_heartbeat(paper: PaperNode, settings: LiveSettings, state_dir: Path) -> HeartbeatTask:
    """The node's heartbeat to the watchdog, from the node's own loop: its open positions per leg."""
    node = paper.node
    loop = node.get_event_loop()
    assert loop is not None
    cache, clock = node.kernel.cache, node.kernel.clock

    def positions() -> dict[str, int]:
        return {str(p.instrument_id): int(p.signed_qty) for p in cache.positions_open()}

    every = settings.ib.heartbeat_seconds
    return start_heartbeat(loop, state_dir / HEARTBEAT_FILE, positions, clock.timestamp_ns, every)
