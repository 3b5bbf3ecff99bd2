"""``TwsSimulator``: the TWS socket server on loopback, its clock, its control API, and the Python handle.

The server (asyncio streams on an ephemeral port of 127.0.0.1, plus the control API served by uvicorn on a
second one) runs in a background thread with its own event loop. Everything that changes the simulated
account runs on that loop, so the public methods called from another thread (``advance_to``, ``positions``,
``disconnect_clients`` ...) hand their work to the loop and wait for it.

Each clock step replays one instant of the catalog: ticks and bars go to the connections that subscribed,
then the account releases what faults held back and checks every resting order against the new quotes. At
the close working orders are cancelled, the options settle in cash, and ``finished`` turns true. Dropping
the clients (``disconnect_clients``, ``faults.disconnect_at``) closes every socket and keeps listening:
orders, positions and executions live on, and a client that reconnects asks for them.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from collections.abc import Callable, Coroutine
from datetime import date
from decimal import Decimal
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import uvicorn

from odte_nautilus.risk.time_units import MINUTE_NS
from odte_nautilus.sim.clock import SimClock
from odte_nautilus.sim.ib.control import Controls, build_app
from odte_nautilus.sim.ib.faults import Faults
from odte_nautilus.sim.ib.session import Connection
from odte_nautilus.sim.ib.venue import Venue
from odte_nautilus.sim.replay import Market

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
PAPER_ACCOUNT = "DU1234567"
COMPRESSED_TICK_SECONDS = 0.01  # how often compressed time is brought up to the wall clock
CALL_TIMEOUT_SECONDS = 60.0


class TwsSimulator:
    """A TWS / IB Gateway on loopback replaying one catalog session of SPX and its SPXW options."""

    def __init__(
        self,
        catalog_path: str | Path,
        underlying: str = "SPX",
        session: date | None = None,
        speed: float | None = None,
        faults: Faults | None = None,
        accounts: tuple[str, ...] = (PAPER_ACCOUNT,),
        cash: float = 1_000_000.0,
        port: int = 0,
        control_port: int = 0,
    ) -> None:
        """``accounts`` are the managed accounts the gateway reports (the first trades; ``U...`` looks live,
        for the paper guards' tests); ``port`` and ``control_port`` 0 take free ones."""
        self.market = Market(catalog_path, underlying, session)
        self._faults = faults if faults is not None else Faults()
        self._clock = SimClock(self.market.session, speed)
        self._venue = Venue(self.market, self._faults, self._clock, list(accounts), Decimal(str(cash)))
        self._port, self._control_port = port, control_port
        self._server: asyncio.Server | None = None
        self._control: uvicorn.Server | None = None
        self._controlling: asyncio.Task | None = None
        self._ticking: asyncio.Task | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[Connection] = set()  # every socket, also those not through the handshake
        self.finished = False

    # -- lifecycle -------------------------------------------------------------------------------------

    def start(self, run_clock: bool = True) -> Self:
        """Serve in a background thread; returns once both ports listen. A compressed clock starts running
        too, unless ``run_clock`` is false (then ``run_clock()`` starts it, say once the node is up)."""
        if self._loop is not None:
            raise RuntimeError("the simulator is already started")
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="ib-sim", daemon=True)
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
        self._call(self._shutdown())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=CALL_TIMEOUT_SECONDS)
        self._loop.close()
        self._loop = self._thread = None

    def __enter__(self) -> Self:
        """Start, unless already started (``with sim.start(run_clock=False):`` holds the clock)."""
        return self if self._loop is not None else self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    # -- where clients connect -------------------------------------------------------------------------

    @property
    def host(self) -> str:
        return HOST

    @property
    def port(self) -> int:
        return self._port

    @property
    def control_url(self) -> str:
        return f"http://{HOST}:{self._control_port}"

    @property
    def account(self) -> str:
        return self._venue.accounts[0]

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

    # -- faults ----------------------------------------------------------------------------------------

    @property
    def faults(self) -> Faults:
        """The run's faults: change their fields at any time (the object itself is shared, not replaceable)."""
        return self._faults

    def disconnect_clients(self) -> None:
        """Drop every client socket now; the simulator keeps listening and remembers everything."""
        self._call(self._on_loop(self._venue.drop_all))

    # -- for assertions --------------------------------------------------------------------------------

    def positions(self) -> dict[str, int]:
        """Local symbol -> signed contracts held."""
        return self._call(self._on_loop(self._positions))

    def orders(self) -> list[dict]:
        """Every order, oldest first: id, client, status, action, quantities, prices, legs."""
        return self._call(self._on_loop(self._orders))

    def executions(self) -> list[dict]:
        """Every execution, legs and combos, in the order they happened."""
        return self._call(self._on_loop(self._executions))

    def clients(self) -> list[int]:
        """The client ids connected now."""
        return self._call(self._on_loop(lambda: [c.client_id for c in self._venue.connections]))

    @property
    def cash(self) -> Decimal:
        return self._call(self._on_loop(lambda: self._venue.broker.cash))

    def _positions(self) -> dict[str, int]:
        return {h.contract.local_symbol: h.qty for h in self._venue.broker.holdings.values()}

    def _orders(self) -> list[dict]:
        return [
            {
                "order_id": o.order_id,
                "client_id": o.client_id,
                "perm_id": o.perm_id,
                "status": o.status,
                "reported": not o.held,
                "action": o.action,
                "qty": o.qty,
                "filled": o.filled,
                "order_type": o.order_type,
                "limit": None if o.limit is None else str(o.limit),
                "avg_price": str(o.avg_price),
                "legs": [
                    {
                        "local_symbol": leg.contract.local_symbol,
                        "con_id": leg.contract.con_id,
                        "ratio": leg.ratio,
                        "action": leg.action,
                    }
                    for leg in o.legs
                ],
            }
            for o in self._venue.broker.orders.values()
        ]

    def _executions(self) -> list[dict]:
        return [
            {
                "exec_id": e.exec_id,
                "order_id": e.order_id,
                "client_id": e.client_id,
                "sec_type": e.contract.sec_type,
                "local_symbol": e.contract.local_symbol,
                "con_id": e.contract.con_id,
                "side": e.side,
                "shares": e.shares,
                "price": str(e.price),
                "commission": str(e.commission),
                "ts_ns": e.ts_ns,
            }
            for e in self._venue.broker.executions
        ]

    # -- on the loop -----------------------------------------------------------------------------------

    def _call(self, work: Coroutine[Any, Any, Any]) -> Any:
        if self._loop is None:
            work.close()
            raise RuntimeError("the simulator is not started: call start() or use it as a context manager")
        return asyncio.run_coroutine_threadsafe(work, self._loop).result(CALL_TIMEOUT_SECONDS)

    @staticmethod
    async def _on_loop(read: Callable[[], Any]) -> Any:
        return read()

    async def _serve(self) -> None:
        self._server = await asyncio.start_server(self._accept, HOST, self._port)
        self._port = self._server.sockets[0].getsockname()[1]
        controls = Controls(
            clock=self._control_clock,
            advance=self._control_advance if self._clock.speed is None else None,
            positions=self._positions,
            orders=self._orders,
            executions=self._executions,
            disconnect=self._venue.drop_all,
            faults=self._faults,
        )
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((HOST, self._control_port))
        self._control_port = listener.getsockname()[1]
        config = uvicorn.Config(build_app(controls), log_level="warning", access_log=False, lifespan="off")
        self._control = uvicorn.Server(config)
        self._controlling = asyncio.create_task(self._control.serve(sockets=[listener]))
        while not self._control.started:
            if self._controlling.done():
                self._controlling.result()
                raise RuntimeError("the simulator's control API stopped before it listened")
            await asyncio.sleep(0.005)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        connection = Connection(self._venue, reader, writer)
        self._connections.add(connection)
        try:
            await connection.serve()
        finally:
            self._connections.discard(connection)

    async def _shutdown(self) -> None:
        if self._ticking is not None:
            self._ticking.cancel()
            self._ticking = None
        if self._server is not None:
            self._server.close()
            for connection in list(self._connections):
                connection.close()
            await self._server.wait_closed()
            self._server = None
        if self._control is not None and self._controlling is not None:
            self._control.should_exit = True
            await self._controlling
            self._control = self._controlling = None

    def _control_clock(self) -> dict:
        session = self.market.session
        return {
            "now_ns": self._clock.now_ns,
            "open_ns": session.open_ns,
            "close_ns": session.close_ns,
            "finished": self.finished,
            "manual": self._clock.speed is None,
            "underlying": self.market.underlying,
            "trading_date": session.trading_date.isoformat(),
            "catalog": str(self.market.catalog.resolve()),
            "port": self._port,
            "accounts": list(self._venue.accounts),
        }

    async def _advance(self, target: int) -> None:
        """Replay every step up to ``target``, then stand at ``target``; at the close, settle and finish."""
        while (ts := self.market.next_ts) is not None and ts <= target:
            self._move_to(ts)
            for step in self.market.advance(ts):
                self._venue.on_step(step)
            self._venue.broker.on_step()
            await asyncio.sleep(0)  # let the sockets write between steps
        self._move_to(target)
        if target >= self.session_close_ns and not self.finished:
            bar = self.market.last_bar
            self._venue.broker.expire(bar.close if bar is not None else None)
            self.finished = True

    async def _control_advance(self, ts_ns: int) -> None:
        await self._advance(min(ts_ns, self.session_close_ns))

    def _move_to(self, ts: int) -> None:
        """Set the clock, dropping the clients at each ``disconnect_at`` it passes."""
        before = self._clock.now_ns
        self._clock.now_ns = max(before, ts)
        if any(before < at <= ts for at in self._faults.disconnect_at):
            self._venue.drop_all()

    async def _start_ticking(self) -> None:
        self._clock.start()
        self._ticking = asyncio.create_task(self._tick())
        self._ticking.add_done_callback(_report_failure)

    async def _tick(self) -> None:
        """Compressed time: bring the simulated clock up to the wall clock until the session is over."""
        while not self.finished:
            await self._advance(self._clock.target())
            await asyncio.sleep(COMPRESSED_TICK_SECONDS)


def _report_failure(task: asyncio.Task) -> None:
    """A compressed clock that dies must say so: the node would wait for a close that never comes."""
    if not task.cancelled() and task.exception() is not None:
        log.error("the simulator's compressed clock stopped", exc_info=task.exception())
