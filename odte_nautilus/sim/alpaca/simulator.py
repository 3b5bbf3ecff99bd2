"""``AlpacaSimulator``: the server on loopback, its clock, and the Python handle tests and the node hold.

The server (uvicorn serving the FastAPI app of ``rest``, REST and websockets on one ephemeral port of
127.0.0.1) runs in a background thread with its own event loop (``sim.loop``). Everything that changes the
simulated broker runs on that loop, so the public methods called from another thread (``advance_to``,
``positions``, ``restart`` ...) hand their work to the loop and wait for it.

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
import uuid
from datetime import date
from decimal import Decimal
from pathlib import Path

import uvicorn

from odte_nautilus.sim.alpaca.broker import Broker
from odte_nautilus.sim.alpaca.faults import Faults
from odte_nautilus.sim.alpaca.model import BrokerState, order_wire
from odte_nautilus.sim.alpaca.ratelimit import RateLimiter
from odte_nautilus.sim.alpaca.rest import Venue, build_app
from odte_nautilus.sim.alpaca.streams import DataHub, TradeHub, option_quote, underlying_bar, underlying_quote
from odte_nautilus.sim.alpaca.symbols import alpaca_symbol
from odte_nautilus.sim.loop import HOST, ReplayingSimulator, serve_http
from odte_nautilus.sim.replay import Market, Step

OPTION_CHANNELS = ("trades", "quotes")
STOCK_CHANNELS = ("trades", "quotes", "bars")


class AlpacaSimulator(ReplayingSimulator):
    """An Alpaca paper account on loopback, replaying one catalog session (see the package docstring)."""

    thread_name = "alpaca-sim"

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
        super().__init__(Market(catalog_path, underlying, session, key=alpaca_symbol), speed)
        self._faults = faults if faults is not None else Faults()
        self._key, self._secret = key, secret
        self._limiter = RateLimiter(rate_limit)
        self._state_json = BrokerState(str(uuid.uuid4()), account_number, Decimal(str(cash))).to_json()
        self._venue: Venue | None = None
        self._server: uvicorn.Server | None = None
        self._serving: asyncio.Task | None = None
        self._port = port

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
        app = build_app(self._venue)
        options = {"ws": "websockets-sansio", "timeout_graceful_shutdown": 1}
        self._server, self._serving, self._port = await serve_http(app, self._port, **options)

    async def _shutdown(self) -> None:
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

    def _check_orders(self) -> None:
        self._live.broker.on_quotes()
        self._live.trades.flush()

    def _settle(self, index_close: Decimal | None) -> None:
        self._live.broker.expire(index_close)
        self._live.trades.flush()

    async def _passing(self, before: int, after: int) -> None:
        """Fire the scheduled faults the clock passes."""
        if any(before < t <= after for t in self._faults.drop_streams_at):
            self._drop_streams()
        if any(before < t <= after for t in self._faults.restart_at):
            await self._restart()

    def _replay(self, step: Step) -> None:
        venue, symbol = self._live, self.market.underlying
        if step.bar is not None:
            venue.stocks.publish("bars", [(symbol, underlying_bar(symbol, step.bar))])
            venue.stocks.publish("quotes", [(symbol, underlying_quote(symbol, step.bar))])
        venue.options.publish("quotes", ((s, option_quote(s, q)) for s, q in step.quotes.items()))
