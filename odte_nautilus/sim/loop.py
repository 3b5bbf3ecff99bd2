"""What every broker simulator does around its own protocol: a loop thread, the replay and the clock.

A simulator serves from an asyncio event loop in a background thread, so the node and the tests (in the
main thread) reach it only through ``_call``, which hands a coroutine to that loop and waits for it. Its
session is replayed step by step (``sim.replay``), on a manual clock moved by ``advance_to`` or a compressed
one that follows the wall clock (``sim.clock``): every step stamped up to the new time is replayed in order,
then the resting orders are checked against it, and at the close the day is settled and ``finished`` turns
true. What a broker publishes, how it checks and settles, and which faults fire on the way are its own
(the abstract methods below).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Coroutine
from datetime import date
from decimal import Decimal
from types import TracebackType
from typing import Any, Self

import uvicorn
from fastapi import FastAPI

from odte_nautilus.risk.time_units import MINUTE_NS
from odte_nautilus.sim.clock import SimClock
from odte_nautilus.sim.replay import Market, Step

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
COMPRESSED_TICK_SECONDS = 0.01  # how often compressed time is brought up to the wall clock
CALL_TIMEOUT_SECONDS = 60.0


class ReplayingSimulator(ABC):
    """A broker on loopback replaying one catalog session (see the module docstring)."""

    thread_name = "broker-sim"

    def __init__(self, market: Market, speed: float | None) -> None:
        self.market = market
        self._clock = SimClock(market.session, speed)
        self._ticking: asyncio.Task | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self.finished = False

    # -- lifecycle -------------------------------------------------------------------------------------

    def start(self, run_clock: bool = True) -> Self:
        """Serve in a background thread; returns once it listens. A compressed clock starts running too,
        unless ``run_clock`` is false (then ``run_clock()`` starts it, say once the node is up)."""
        if self._loop is not None:
            raise RuntimeError("the simulator is already started")
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=self.thread_name, daemon=True)
        self._thread.start()
        self._call(self._serve())
        if run_clock and self._clock.speed is not None:
            self.run_clock()
        return self

    def run_clock(self) -> None:
        """Compressed clock: from now on simulated time follows the wall clock at ``speed``."""
        if self._clock.speed is None:
            raise RuntimeError("the clock is manual: move it with advance_to or step_minute")
        if self._ticking is None:
            self._call(self._start_ticking())

    def stop(self) -> None:
        if self._loop is None or self._thread is None:
            return
        self._call(self._stop())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=CALL_TIMEOUT_SECONDS)
        self._loop.close()
        self._loop = self._thread = None

    def __enter__(self) -> Self:
        """Start, unless already started (``with sim.start(run_clock=False):`` holds the clock)."""
        return self if self._loop is not None else self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    # -- time ------------------------------------------------------------------------------------------

    @property
    def now_ns(self) -> int:
        return self._clock.now_ns

    @property
    def trading_date(self) -> date:
        return self.market.session.trading_date

    @property
    def session_open_ns(self) -> int:
        return self.market.session.open_ns

    @property
    def session_close_ns(self) -> int:
        return self.market.session.close_ns

    def advance_to(self, ts_ns: int) -> None:
        """Manual clock: replay everything stamped up to ``ts_ns`` (capped at the close)."""
        if self._clock.speed is not None:
            raise RuntimeError("the clock is compressed: time follows the wall clock, not advance_to")
        self._call(self._advance(min(ts_ns, self.session_close_ns)))

    def step_minute(self) -> None:
        self.advance_to(self.now_ns + MINUTE_NS)

    # -- what each broker does -------------------------------------------------------------------------

    @abstractmethod
    async def _serve(self) -> None:
        """Listen (on the loop); return once clients can connect."""

    @abstractmethod
    async def _shutdown(self) -> None:
        """Stop listening and drop every client."""

    @abstractmethod
    def _replay(self, step: Step) -> None:
        """Publish one replayed step's data to the clients that subscribed."""

    @abstractmethod
    def _check_orders(self) -> None:
        """An instant has been replayed: check the resting orders against it."""

    @abstractmethod
    def _settle(self, index_close: Decimal | None) -> None:
        """The close: end the day's orders and settle the options against the underlying's last close."""

    async def _passing(self, before: int, after: int) -> None:  # noqa: B027 - a hook most brokers keep empty
        """The clock moves from ``before`` to ``after``: fire the faults scheduled in between."""

    # -- on the loop -----------------------------------------------------------------------------------

    def _call(self, work: Coroutine[Any, Any, Any]) -> Any:
        if self._loop is None:
            work.close()
            raise RuntimeError("the simulator is not started: call start() or use it as a context manager")
        return asyncio.run_coroutine_threadsafe(work, self._loop).result(CALL_TIMEOUT_SECONDS)

    @staticmethod
    async def _on_loop(read: Callable[[], Any]) -> Any:
        return read()

    async def _stop(self) -> None:
        if self._ticking is not None:
            self._ticking.cancel()
            self._ticking = None
        await self._shutdown()

    async def _advance(self, target: int) -> None:
        """Replay every step up to ``target``, then stand at ``target``; at the close, settle and finish."""
        while (ts := self.market.next_ts) is not None and ts <= target:
            await self._move_to(ts)
            for step in self.market.advance(ts):
                self._replay(step)
            self._check_orders()
        await self._move_to(target)
        if target >= self.session_close_ns and not self.finished:
            bar = self.market.last_bar
            self._settle(bar.close if bar is not None else None)
            self.finished = True

    async def _control_advance(self, ts_ns: int) -> None:
        """``POST /sim/v1/advance``: ``advance_to`` for a client in another process (on the loop)."""
        await self._advance(min(ts_ns, self.session_close_ns))

    async def _move_to(self, ts: int) -> None:
        before = self._clock.now_ns
        if ts <= before:
            return
        self._clock.now_ns = ts
        await self._passing(before, ts)

    async def _start_ticking(self) -> None:
        self._clock.start()
        self._ticking = asyncio.create_task(self._tick())
        self._ticking.add_done_callback(_report_failure)

    async def _tick(self) -> None:
        """Compressed time: bring the simulated clock up to the wall clock until the session is over."""
        while not self.finished:
            await self._advance(self._clock.target())
            await asyncio.sleep(COMPRESSED_TICK_SECONDS)


async def serve_http(app: FastAPI, port: int, **options: Any) -> tuple[uvicorn.Server, asyncio.Task, int]:
    """Serve ``app`` with uvicorn on ``HOST:port`` (0: a free one); returns once it listens, with the port.

    IPPROTO_TCP is named, or asyncio leaves Nagle on for accepted sockets (it checks the protocol) and every
    answer whose body follows its headers waits ~40 ms for the client's delayed ACK."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((HOST, port))
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off", **options)
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve(sockets=[listener]))
    while not server.started:
        if serving.done():
            serving.result()  # raises why it could not serve
            raise RuntimeError("the simulator's server stopped before it listened")
        await asyncio.sleep(0.005)
    return server, serving, listener.getsockname()[1]


def _report_failure(task: asyncio.Task) -> None:
    """A compressed clock that dies must say so: the node would wait for a close that never comes."""
    if not task.cancelled() and task.exception() is not None:
        log.error("the simulator's compressed clock stopped", exc_info=task.exception())
