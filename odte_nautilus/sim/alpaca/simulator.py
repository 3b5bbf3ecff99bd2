"""``AlpacaSimulator``: the server on loopback, its clock, and the Python handle tests and the node hold.

The server (uvicorn serving the FastAPI app of ``rest``, REST and websockets on one ephemeral port of
127.0.0.1) runs in a background thread with its own event loop. Everything that changes the simulated
broker runs on that loop, so the public methods called from another thread (``advance_to``, ``positions``,
``restart`` ...) hand their work to the loop and wait for it.

Each clock step replays one instant of the catalog: the underlying's bar and quote go to the stock stream,
the option quotes to the option streams, and then every resting order is checked against them. At the close
the day's orders expire and the options settle (``broker``); ``finished`` turns true.

A broker restart shuts the server down (every socket drops, requests in flight fail), rebuilds the broker
from its state written as JSON (orders, positions and cash survive; trade updates not yet delivered are
lost, as in a crash, and the clients must reconcile by REST), and serves again on the same port, where the
clients reconnect.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import uuid
from collections.abc import Callable, Coroutine
from datetime import date
from decimal import Decimal
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import uvicorn

from odte_nautilus.risk.time_units import MINUTE_NS
from odte_nautilus.sim.alpaca.broker import Broker
from odte_nautilus.sim.alpaca.faults import Faults
from odte_nautilus.sim.alpaca.model import BrokerState, order_wire
from odte_nautilus.sim.alpaca.ratelimit import RateLimiter
from odte_nautilus.sim.alpaca.rest import Venue, build_app
from odte_nautilus.sim.alpaca.streams import DataHub, TradeHub, option_quote, underlying_bar, underlying_quote
from odte_nautilus.sim.alpaca.symbols import alpaca_symbol
from odte_nautilus.sim.clock import SimClock
from odte_nautilus.sim.replay import Market, Step

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
COMPRESSED_TICK_SECONDS = 0.01  # how often compressed time is brought up to the wall clock
CALL_TIMEOUT_SECONDS = 60.0
OPTION_CHANNELS = ("trades", "quotes")
STOCK_CHANNELS = ("trades", "quotes", "bars")


class AlpacaSimulator:
    """An Alpaca paper account on loopback, replaying one catalog session (see the package docstring)."""

    def __init__(
        self,
        catalog_path: str | Path,
        underlying: str = "SPY",
        session: date | None = None,
        speed: float | None = None,
        faults: Faults | None = None,
        key: str = "sim-key",
        secret: str = "sim-secret",
        account_number: str = "PA0SIM0001",
        rate_limit: int = 200,
        cash: float = 100_000.0,
        port: int = 0,
    ) -> None:
        """``port`` 0 takes a free one (``rest_url`` says which); a restart keeps the port either way."""
        self.market = Market(catalog_path, underlying, session, key=alpaca_symbol)
        self._faults = faults if faults is not None else Faults()
        self._key, self._secret = key, secret
        self._clock = SimClock(self.market.session, speed)
        self._limiter = RateLimiter(rate_limit)
        self._state_json = BrokerState(str(uuid.uuid4()), account_number, Decimal(str(cash))).to_json()
        self._venue: Venue | None = None
        self._server: uvicorn.Server | None = None
        self._serving: asyncio.Task | None = None
        self._ticking: asyncio.Task | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._port = port
        self.finished = False

    # -- lifecycle -------------------------------------------------------------------------------------

    def start(self, run_clock: bool = True) -> Self:
        """Serve in a background thread; returns once the port is listening. A compressed clock starts
        running too, unless ``run_clock`` is false (then ``run_clock()`` starts it, say once the node is up)."""
        if self._loop is not None:
            raise RuntimeError("the simulator is already started")
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="alpaca-sim", daemon=True)
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
        self._call(self._shutdown(stop_ticking=True))
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
    def rest_url(self) -> str:
        return f"http://{HOST}:{self._port}"

    @property
    def trade_stream_url(self) -> str:
        return f"ws://{HOST}:{self._port}/stream"

    @property
    def option_stream_url(self) -> str:
        return f"ws://{HOST}:{self._port}/v1beta1/indicative"

    @property
    def stock_stream_url(self) -> str:
        return f"ws://{HOST}:{self._port}/v2/iex"

    # -- time ------------------------------------------------------------------------------------------

    @property
    def now_ns(self) -> int:
        return self._clock.now_ns

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

    def drop_streams(self) -> None:
        """Cut every websocket now; clients must reconnect."""
        self._call(self._on_loop(self._drop_streams))

    def restart(self) -> None:
        """Restart the broker: sockets drop, orders, positions and cash survive, the port stays."""
        self._call(self._restart())

    # -- for assertions --------------------------------------------------------------------------------

    def positions(self) -> dict[str, int]:
        """Alpaca symbol -> signed contracts held."""
        return self._call(self._on_loop(lambda: {s: p.qty for s, p in self._live.broker.state.positions.items()}))

    def orders(self) -> list[dict]:
        """Every order, oldest first, as the wire shows it (mleg parents with their legs)."""
        return self._call(self._on_loop(lambda: [order_wire(o) for o in self._live.broker.state.orders.values()]))

    def stream_clients(self) -> dict[str, int]:
        """Clients ready for data per stream: trade update listeners, data connections with a subscription."""

        def count() -> dict[str, int]:
            venue = self._live
            return {
                "trade_updates": venue.trades.clients,
                "options": venue.options.clients,
                "stocks": venue.stocks.clients,
            }

        return self._call(self._on_loop(count))

    # -- on the loop -----------------------------------------------------------------------------------

    @property
    def _live(self) -> Venue:
        if self._venue is None:
            raise RuntimeError("the simulator is not serving: call start()")
        return self._venue

    def _call(self, work: Coroutine[Any, Any, Any]) -> Any:
        if self._loop is None:
            work.close()
            raise RuntimeError("the simulator is not started: call start() or use it as a context manager")
        return asyncio.run_coroutine_threadsafe(work, self._loop).result(CALL_TIMEOUT_SECONDS)

    @staticmethod
    async def _on_loop(read: Callable[[], Any]) -> Any:
        return read()

    async def _serve(self) -> None:
        """A fresh broker (from the saved state) and fresh hubs, served on the port (ephemeral the first time)."""
        trades = TradeHub(self._key, self._secret, self._faults)
        broker = Broker(BrokerState.from_json(self._state_json), self.market, self._faults, self._now, trades.publish)
        self._venue = Venue(
            broker=broker,
            market=self.market,
            clock=self._clock,
            faults=self._faults,
            limiter=self._limiter,
            trades=trades,
            options=DataHub(self._key, self._secret, OPTION_CHANNELS),
            stocks=DataHub(self._key, self._secret, STOCK_CHANNELS),
            key=self._key,
            secret=self._secret,
            advance=self._control_advance if self._clock.speed is None else None,
            finished=lambda: self.finished,
        )
        # IPPROTO_TCP named, or asyncio leaves Nagle on for accepted sockets (it checks the protocol) and every
        # answer whose body follows its headers waits ~40 ms for the client's delayed ACK.
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((HOST, self._port))
        self._port = listener.getsockname()[1]
        config = uvicorn.Config(
            build_app(self._venue),
            log_level="warning",
            access_log=False,
            lifespan="off",
            ws="websockets-sansio",
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._serving = asyncio.create_task(self._server.serve(sockets=[listener]))
        while not self._server.started:
            if self._serving.done():
                self._serving.result()  # raises why it could not serve
                raise RuntimeError("the simulator's server stopped before it listened")
            await asyncio.sleep(0.005)

    async def _shutdown(self, stop_ticking: bool = False) -> None:
        if stop_ticking and self._ticking is not None:
            self._ticking.cancel()
            self._ticking = None
        if self._venue is not None:
            self._drop_streams()
        if self._server is not None and self._serving is not None:
            self._server.should_exit = True
            await self._serving
        if self._venue is not None:  # saved once no request can change it: an answered order survives
            self._state_json = self._venue.broker.state.to_json()
        self._server = self._serving = self._venue = None

    async def _restart(self) -> None:
        await self._shutdown()
        await self._serve()

    def _drop_streams(self) -> None:
        venue = self._live
        for hub in (venue.trades, venue.options, venue.stocks):
            hub.drop_all()

    def _now(self) -> int:
        return self._clock.now_ns

    async def _advance(self, target: int) -> None:
        """Replay every step up to ``target``, then stand at ``target``; at the close, expire and finish."""
        while (ts := self.market.next_ts) is not None and ts <= target:
            await self._move_to(ts)
            for step in self.market.advance(ts):
                self._publish(step)
            self._live.broker.on_quotes()
            self._live.trades.flush()
        await self._move_to(target)
        if target >= self.session_close_ns and not self.finished:
            bar = self.market.last_bar
            self._live.broker.expire(bar.close if bar is not None else None)
            self._live.trades.flush()
            self.finished = True

    async def _control_advance(self, ts_ns: int) -> None:
        """``POST /sim/v1/advance``: ``advance_to`` for a client in another process (on the server's loop)."""
        await self._advance(min(ts_ns, self.session_close_ns))

    async def _move_to(self, ts: int) -> None:
        """Set the clock, firing the scheduled faults it passes."""
        before = self._clock.now_ns
        if ts <= before:
            return
        self._clock.now_ns = ts
        if any(before < t <= ts for t in self._faults.drop_streams_at):
            self._drop_streams()
        if any(before < t <= ts for t in self._faults.restart_at):
            await self._restart()

    def _publish(self, step: Step) -> None:
        venue, symbol = self._live, self.market.underlying
        if step.bar is not None:
            venue.stocks.publish("bars", [(symbol, underlying_bar(symbol, step.bar))])
            venue.stocks.publish("quotes", [(symbol, underlying_quote(symbol, step.bar))])
        venue.options.publish("quotes", ((s, option_quote(s, q)) for s, q in step.quotes.items()))

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
