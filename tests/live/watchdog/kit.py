"""A node stand-in holding a fly through its own IB client id, and the watchdog aimed at the same simulator.

The watchdog is tested against the real ib_async over the TWS simulator's socket; the "node" it guards is the
smallest thing it can observe: another client that bought a fly as one BAG order and beats its heartbeat
from the loop it runs on. Stopping the beat is what a hung node looks like from outside.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import ib_async as ibi

from odte_nautilus.live.alerts import Alerter
from odte_nautilus.live.heartbeat import HEARTBEAT_FILE, HeartbeatTask, start_heartbeat
from odte_nautilus.live.settings import LiveSettings, load_settings
from odte_nautilus.live.watchdog import Watchdog
from odte_nautilus.live.watchdog_flatten import FlattenConfig
from odte_nautilus.risk.session import trading_date
from odte_nautilus.risk.time_units import NS_PER_SECOND
from tests.adapters.ib_sim.kit import eventually
from tests.live.kit import REPO

FAST = FlattenConfig(
    cancel_timeout_seconds=3.0,
    settle_seconds=0.2,
    fill_timeout_seconds=1.0,
    quote_timeout_seconds=1.0,
    poll_seconds=0.02,
)


def fast_settings() -> LiveSettings:
    """configs/paper.yaml with a heartbeat every 0.1 s and a node silent for 1 s taken for hung."""
    settings = load_settings(REPO / "configs" / "paper.yaml")
    ib = settings.ib.model_copy(update={"heartbeat_seconds": 0.1, "heartbeat_timeout_seconds": 1.0})
    return settings.model_copy(update={"ib": ib})


def watchdog(settings: LiveSettings, state: Path, host: str, port: int, account: str) -> Watchdog:
    return Watchdog(
        settings, state, host=host, port=port, simulator=True, account=account, env={}, flatten=FAST,
        check_seconds=0.1, alerter=Alerter([]),
    )  # fmt: skip


class Node:
    """The stand-in: client id ``ib.client_id``, a fly bought as one BAG, its heartbeat in ``state``."""

    def __init__(self, ib: ibi.IB, legs: list[ibi.Contract], state: Path) -> None:
        self.ib = ib
        self.legs = legs
        self.heartbeat_path = state / HEARTBEAT_FILE
        self.heartbeat: HeartbeatTask | None = None

    def positions(self) -> dict[str, int]:
        return {p.contract.localSymbol: round(p.position) for p in self.ib.positions() if p.position}

    def beat(self, loop: asyncio.AbstractEventLoop, every_seconds: float, session_ns: int = 0) -> None:
        self.heartbeat = start_heartbeat(loop, self.heartbeat_path, self.positions, lambda: session_ns, every_seconds)

    def hang(self) -> None:
        assert self.heartbeat is not None
        self.heartbeat.stop()


@contextmanager
def node_with_fly(host: str, port: int, state: Path, client_id: int) -> Iterator[Node]:
    """Connect as the node and buy a short iron fly at the money (a credit) as one BAG at market."""
    ib = ibi.IB()
    ib.connect(host, port, clientId=client_id, timeout=5.0, raiseSyncErrors=True)
    node = None
    try:
        node = Node(ib, buy_fly(ib, *at_the_money(ib)), state)
        eventually(ib, lambda: len(node.positions()) == 4, "the node's positions")
        yield node
    finally:
        if node is not None and node.heartbeat is not None:
            node.heartbeat.stop()
        ib.disconnect()


def at_the_money(ib: ibi.IB) -> tuple[date, int]:
    """The gateway's trading day and the strike nearest the index's last price."""
    day = trading_date(int(ib.reqCurrentTime().timestamp()) * NS_PER_SECOND)
    [spx] = ib.reqTickers(*ib.qualifyContracts(ibi.Index("SPX", "CBOE")))
    return day, round(spx.last / 5) * 5


def buy_fly(ib: ibi.IB, day: date, strike: int, wing: int = 10) -> list[ibi.Contract]:
    """SELL the straddle, BUY the wings: (call, put, call wing, put wing), bought as one combo."""
    legs = ib.qualifyContracts(
        option(day, "C", strike),
        option(day, "P", strike),
        option(day, "C", strike + wing),
        option(day, "P", strike - wing),
    )
    combo = [
        ibi.ComboLeg(conId=c.conId, ratio=1, action=a, exchange="SMART")
        for c, a in zip(legs, ("SELL", "SELL", "BUY", "BUY"), strict=True)
    ]
    bag = ibi.Bag(symbol="SPX", exchange="SMART", currency="USD", comboLegs=combo)
    entry = ib.placeOrder(bag, ibi.MarketOrder("BUY", 1, tif="DAY"))
    eventually(ib, lambda: entry.orderStatus.status == "Filled", "the fly's fill")
    return legs


def option(day: date, right: str, strike: int) -> ibi.Option:
    return ibi.Option(
        "SPX", f"{day:%Y%m%d}", strike, right, "SMART", multiplier="100", currency="USD", tradingClass="SPXW"
    )
