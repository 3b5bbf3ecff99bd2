"""A compressed session: the paper node runs on the simulator's replayed time, never against a real broker.

A replayed 0DTE day must run in minutes, and the node's strategies, kernel, EOD flatten and lock must see the
replayed day's times, or the 15:45 flatten would never come (or come at once). Nautilus gives a live node a
``LiveClock`` and each component its own clock of the same class. While the node is built,
``replayed_time_kernel`` makes that class a ``TestClock`` (``nautilus_internals.live_kernel_clock``); the
``SessionDriver`` then owns time: each step it moves every clock of the node to the next replayed minute,
firing the timers due on the way in time order, and then tells the simulator to publish that minute. The
same strategy and risk code runs unchanged; only where time comes from differs.

Only the simulator's session may drive a node this way: ``replayed_time_kernel`` refuses unless the run
declares the simulator and its URL is on loopback (design §14: "only then does the node's session window follow
the simulator's declared session").
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlparse

from odte_nautilus.adapters.alpaca.config import LOOPBACK_HOSTS
from odte_nautilus.nautilus_internals import live_kernel_clock
from odte_nautilus.risk.time_units import MINUTE_NS

if TYPE_CHECKING:
    from nautilus_trader.common.component import TestClock
    from nautilus_trader.live.node import TradingNode


class ReplayedSession(Protocol):
    """What the driver needs of a broker simulator (``odte_nautilus.sim.alpaca.AlpacaSimulator``)."""

    @property
    def now_ns(self) -> int: ...
    @property
    def finished(self) -> bool: ...
    def advance_to(self, ts_ns: int) -> None: ...


@contextmanager
def replayed_time_kernel(simulator_url: str) -> Iterator[None]:
    """Build a ``TradingNode`` inside this block to give it clocks the driver moves (simulator only)."""
    host = urlparse(simulator_url).hostname or ""
    if host not in LOOPBACK_HOSTS:
        raise RuntimeError(f"replayed time is for the simulator on loopback only, not {simulator_url}")
    with live_kernel_clock():
        yield


def node_clocks(node: TradingNode) -> list[TestClock]:
    """The kernel's clock (the engines') and every component's own clock (strategies, actors)."""
    trader = node.kernel.trader
    components = [*trader.strategies(), *trader.actors(), *trader.exec_algorithms()]
    return [node.kernel.clock, *(c.clock for c in components)]


def advance_clocks(clocks: list[TestClock], to_ns: int) -> int:
    """Move every clock to ``to_ns``, firing each timer due on the way in time order; returns how many fired.

    Clocks move together to each due instant before its handlers run, so a timer's callback never sees
    another component's clock behind or ahead of it, and a timer a callback sets is fired in its turn.
    """
    fired = 0
    while True:
        due = [c.next_time_ns(name) for c in clocks for name in c.timer_names]
        at = min((t for t in due if t <= to_ns), default=None)
        if at is None:
            break
        fired += _move(clocks, at)
    return fired + _move(clocks, to_ns)


def _move(clocks: list[TestClock], to_ns: int) -> int:
    """All clocks to ``to_ns`` first, then the handlers that came due, in time order."""
    handlers = [handler for clock in clocks for handler in clock.advance_time(to_ns)]
    for handler in sorted(handlers, key=lambda h: h.event.ts_event):
        handler.handle()
    return len(handlers)


SETTLE_POLL_S = 0.002
SETTLE_FIRST_S = 0.005  # loopback delivery of the minute's messages, before the node's queues are read
SETTLE_LIMIT_S = 2.0  # a minute never waits longer for the node (an order the broker lost must not stall it)


class SessionDriver:
    """Replays the simulator's session into the node a minute at a time.

    After each minute the driver waits until the node has settled (``settled()``: its engines' queues empty,
    no order in flight), so the node has acted on a minute before the next one comes, whatever the pace:
    the replay is as deterministic as a backtest's. Then it pauses ``seconds_per_minute`` of wall time.
    """

    def __init__(
        self,
        session: ReplayedSession,
        clocks: Callable[[], list[TestClock]],
        seconds_per_minute: float = 1.0,
        on_minute: Callable[[int], None] | None = None,
        settled: Callable[[], bool] = lambda: True,
        delivered: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._session = session
        self._clocks = clocks
        self._pause = seconds_per_minute
        self._on_minute = on_minute
        self._settled = settled
        self._delivered = delivered
        self.minutes = 0
        self.unsettled = 0  # minutes the node had not settled within SETTLE_LIMIT_S

    def start_at(self, ts_ns: int) -> None:
        """Set every clock of the node to the replay's start (before the node starts its components)."""
        for clock in self._clocks():
            clock.set_time(ts_ns)

    async def run(self) -> None:
        """Until the simulator's session is over: clocks to the next minute, then that minute's market."""
        now = self._session.now_ns
        while not self._session.finished:
            now = now - now % MINUTE_NS + MINUTE_NS
            advance_clocks(self._clocks(), now)
            await asyncio.to_thread(self._session.advance_to, now)
            if self._delivered is not None:
                await self._delivered()  # the minute has reached the node's engines (a broker client's barrier)
            await self._settle()
            self.minutes += 1
            if self._on_minute is not None:
                self._on_minute(now)
            await asyncio.sleep(self._pause)

    async def _settle(self) -> None:
        await asyncio.sleep(SETTLE_FIRST_S)
        waited = SETTLE_FIRST_S
        quiet = 0
        while quiet < 2:  # two quiet polls in a row: a fill's events may still be on their way after one
            quiet = quiet + 1 if self._settled() else 0
            if waited >= SETTLE_LIMIT_S:
                self.unsettled += 1
                return
            await asyncio.sleep(SETTLE_POLL_S)
            waited += SETTLE_POLL_S
