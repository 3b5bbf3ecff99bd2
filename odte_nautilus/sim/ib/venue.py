"""What every connection of the simulator shares: the replay, the contracts, the account, the faults, the
clock, and who is connected (an order's messages go to the connections of the client id that placed it).
"""

from __future__ import annotations

from decimal import Decimal

from odte_nautilus.sim.clock import SimClock
from odte_nautilus.sim.ib.broker import Broker
from odte_nautilus.sim.ib.contracts import Chain
from odte_nautilus.sim.ib.faults import Faults
from odte_nautilus.sim.ib.outgoing import Message
from odte_nautilus.sim.ib.session import Connection
from odte_nautilus.sim.ib.wire import SERVER_VERSION
from odte_nautilus.sim.replay import Market, Step


class Venue:
    server_version = SERVER_VERSION

    def __init__(self, market: Market, faults: Faults, clock: SimClock, accounts: list[str], cash: Decimal) -> None:
        if not accounts:
            raise ValueError("the simulator needs at least one managed account")
        self.market = market
        self.chain = Chain(market)
        self.faults = faults
        self.clock = clock
        self.accounts = accounts
        self.connections: list[Connection] = []
        self.broker = Broker(
            market, self.chain, faults, accounts[0], cash, self.now_ns, self.to_client, self.account_changed
        )

    def now_ns(self) -> int:
        return self.clock.now_ns

    def register(self, connection: Connection, client_id: int) -> bool:
        """Admit a client id not connected already (TWS refuses a second one with error 326)."""
        if any(c.client_id == client_id for c in self.connections):
            return False
        self.connections.append(connection)
        return True

    def forget(self, connection: Connection) -> None:
        if connection in self.connections:
            self.connections.remove(connection)

    def to_client(self, client_id: int, message: Message) -> None:
        for connection in self.connections:
            if connection.client_id == client_id:
                connection.send(message)

    def account_changed(self) -> None:
        for connection in self.connections:
            connection.account.changed()

    def on_step(self, step: Step) -> None:
        for connection in self.connections:
            connection.on_step(step)

    def drop_all(self) -> None:
        for connection in list(self.connections):
            connection.close()
        self.connections.clear()
