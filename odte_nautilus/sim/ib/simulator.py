"""``TwsSimulator``: the TWS socket server on loopback, its clock, its control API, and the Python handle.

The server (asyncio streams on an ephemeral port of 127.0.0.1, plus the control API served by uvicorn on a
second one) runs in a background thread with its own event loop (``sim.loop``, as the Alpaca simulator's).
Everything that changes the simulated account runs on that loop, so the public methods called from another
thread (``advance_to``, ``positions``, ``disconnect_clients`` ...) hand their work to the loop and wait.

Each clock step replays one instant of the catalog: ticks and bars go to the connections that subscribed,
then the account releases what faults held back and checks every resting order against the new quotes. At
the close working orders are cancelled, the options settle in cash, and ``finished`` turns true. Dropping
the clients (``disconnect_clients``, ``faults.disconnect_at``) closes every socket and keeps listening:
orders, positions and executions live on, and a client that reconnects asks for them.
"""

from __future__ import annotations

import asyncio
import socket
from datetime import date
from decimal import Decimal
from pathlib import Path

import uvicorn

from odte_nautilus.sim.ib.control import Controls, build_app
from odte_nautilus.sim.ib.faults import Faults
from odte_nautilus.sim.ib.session import Connection
from odte_nautilus.sim.ib.venue import Venue
from odte_nautilus.sim.loop import HOST, ReplayingSimulator, serve_http
from odte_nautilus.sim.replay import Market, Step

PAPER_ACCOUNT = "DU1234567"


class TwsSimulator(ReplayingSimulator):
    """A TWS / IB Gateway on loopback replaying one catalog session of SPX and its SPXW options."""

    thread_name = "tws-sim"

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
        super().__init__(Market(catalog_path, underlying, session), speed)
        self._faults = faults if faults is not None else Faults()
        self._venue = Venue(self.market, self._faults, self._clock, list(accounts), Decimal(str(cash)))
        self._port, self._control_port = port, control_port
        self._server: asyncio.Server | None = None
        self._control: uvicorn.Server | None = None
        self._controlling: asyncio.Task | None = None
        self._connections: set[Connection] = set()  # every socket, also those not through the handshake

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
        self._control, self._controlling, self._control_port = await serve_http(build_app(controls), self._control_port)

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

    def _replay(self, step: Step) -> None:
        self._venue.on_step(step)

    def _check_orders(self) -> None:
        self._venue.broker.on_step()

    def _settle(self, index_close: Decimal | None) -> None:
        self._venue.broker.expire(index_close)

    async def _passing(self, before: int, after: int) -> None:
        """Drop the clients at each ``disconnect_at`` the clock passes."""
        if any(before < at <= after for at in self._faults.disconnect_at):
            self._venue.drop_all()
