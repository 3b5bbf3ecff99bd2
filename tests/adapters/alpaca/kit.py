"""The adapter's clients against the simulator, wired as a node wires them but with Nautilus's test kit.

A ``Harness`` holds a message bus, a cache, a live clock, Nautilus's own ``ExecutionEngine`` and ``Portfolio``
(so orders move through their real state machine and leg fills open positions, as in a node) and the
adapter's data and execution clients on the test's event loop, pointed at the simulator on 127.0.0.1 with the
real alpaca-py clients underneath. Every order event the engine publishes, and every datum the data client
sends, is recorded for the test to read.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from decimal import Decimal

from nautilus_trader.common.component import LiveClock, MessageBus
from nautilus_trader.common.factories import OrderFactory
from nautilus_trader.config import ExecEngineConfig, InstrumentProviderConfig
from nautilus_trader.core.uuid import UUID4
from nautilus_trader.execution.engine import ExecutionEngine
from nautilus_trader.execution.messages import SubmitOrder
from nautilus_trader.model.enums import OrderSide, TimeInForce
from nautilus_trader.model.events import OrderFilled
from nautilus_trader.model.identifiers import (
    InstrumentId,
    StrategyId,
    TraderId,
    generic_spread_id_to_list,
    new_generic_spread_id,
)
from nautilus_trader.model.objects import Price, Quantity
from nautilus_trader.model.orders import LimitOrder
from nautilus_trader.portfolio.portfolio import Portfolio
from nautilus_trader.test_kit.stubs.component import TestComponentStubs

from odte_nautilus.adapters.alpaca.config import AlpacaDataClientConfig, AlpacaExecClientConfig
from odte_nautilus.adapters.alpaca.data import AlpacaDataClient
from odte_nautilus.adapters.alpaca.execution import AlpacaExecutionClient
from odte_nautilus.adapters.alpaca.http import AlpacaRest, TokenBucket, trading_client
from odte_nautilus.adapters.alpaca.providers import AlpacaInstrumentProvider
from odte_nautilus.adapters.alpaca.symbols import alpaca_symbol, instrument_id
from odte_nautilus.nautilus_internals import is_leg_fill
from odte_nautilus.sim.alpaca import AlpacaSimulator

KEY, SECRET = "adapter-key", "adapter-secret"
STRATEGY = StrategyId("ThetaHarvester-001")


async def eventually(check: Callable[[], object], timeout: float = 5.0, what: str = "the condition") -> object:
    """Yield to the loop until ``check`` is truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := check():
            return result
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


class Harness:
    def __init__(
        self, sim: AlpacaSimulator, loop: asyncio.AbstractEventLoop, page_size: int = 1000, poll_secs: float = 0.5
    ) -> None:
        self.sim = sim
        self.clock = LiveClock()
        self.trader_id = TraderId("ODTE-PAPER")
        self.msgbus = MessageBus(self.trader_id, self.clock)
        self.cache = TestComponentStubs.cache()
        self.portfolio = Portfolio(self.msgbus, self.cache, self.clock)
        self.engine = ExecutionEngine(self.msgbus, self.cache, self.clock, ExecEngineConfig())
        self.events: list = []
        self.data: list = []
        self.msgbus.subscribe("events.order.*", self.events.append)
        self.msgbus.register("DataEngine.process", self._on_data)
        self.rest = AlpacaRest(trading_client(KEY, SECRET, sim.rest_url, 5.0), TokenBucket(200), 3, 0.01)
        self.provider = AlpacaInstrumentProvider(
            self.rest, ("SPY",), InstrumentProviderConfig(load_all=True), page_size=page_size
        )
        self.exec = AlpacaExecutionClient(
            loop,
            self.rest,
            self.msgbus,
            self.cache,
            self.clock,
            self.provider,
            AlpacaExecClientConfig(
                api_key=KEY,
                api_secret=SECRET,
                base_url_http=sim.rest_url,
                trade_stream_url=sim.trade_stream_url,
                account_id="PA0SIM0001",
                poll_interval_secs=poll_secs,
                retry_delay_secs=0.01,
            ),
        )
        self.engine.register_client(self.exec)
        self.data_client = AlpacaDataClient(
            loop,
            self.msgbus,
            self.cache,
            self.clock,
            self.provider,
            AlpacaDataClientConfig(
                api_key=KEY,
                api_secret=SECRET,
                base_url_http=sim.rest_url,
                option_stream_url=sim.option_stream_url,
                stock_stream_url=sim.stock_stream_url,
            ),
        )
        self.factory = OrderFactory(self.trader_id, STRATEGY, self.clock)

    def _on_data(self, datum: object) -> None:
        self.data.append(datum)
        if hasattr(datum, "id") and not hasattr(datum, "bid_price"):  # an instrument
            self.cache.add_instrument(datum)

    async def connect(self) -> None:
        await self.exec._connect()
        self.engine.start()
        await eventually(lambda: self.sim.stream_clients()["trade_updates"], what="trade_updates to listen")

    async def disconnect(self) -> None:
        await self.exec._disconnect()
        await self.data_client._disconnect()

    # -- packages --------------------------------------------------------------------------------------

    def atm(self) -> int:
        bar = self.sim.market.last_bar
        assert bar is not None, "step the simulator first"
        return round(float(bar.close))

    def option(self, right: str, strike: int) -> InstrumentId:
        day = self.sim.market.session.trading_date
        return instrument_id(f"SPY{day:%y%m%d}{right}{strike * 1000:08d}")

    def iron_fly(self, wing: int = 5) -> InstrumentId:
        """A short iron butterfly as the Theta Harvester holds it: +wings, -body (bought at a credit)."""
        k = self.atm()
        legs = [(self.option("C", k), -1), (self.option("P", k), -1)]
        legs += [(self.option("C", k + wing), 1), (self.option("P", k - wing), 1)]
        return new_generic_spread_id(legs)

    def far_touch(self, spread: InstrumentId, side: OrderSide) -> float:
        """What crossing costs per package, in the convention of ``side`` (packages.far_touch, from the wire):
        a buyer takes the asks of the + legs and the bids of the - legs, a seller the opposite."""
        total = Decimal(0)
        for leg, ratio in generic_spread_id_to_list(spread):
            quote = self.sim.market.latest[alpaca_symbol(leg)]
            take_ask = (ratio > 0) == (side == OrderSide.BUY)
            total += ratio * (quote.ask if take_ask else quote.bid)
        return float(total)

    async def submit(self, spread: InstrumentId, side: OrderSide, qty: int, price: float) -> LimitOrder:
        if self.cache.instrument(spread) is None:
            await self.provider.load_async(spread)
            self.cache.add_instrument(self.provider.find(spread))
        order = self.factory.limit(spread, side, Quantity.from_int(qty), Price(price, 2), TimeInForce.DAY)
        command = SubmitOrder(self.trader_id, STRATEGY, order, UUID4(), self.clock.timestamp_ns())
        self.cache.add_order(order, None, self.exec.id)
        await self.exec._submit_order(command)
        return order

    def fills(self) -> list[OrderFilled]:
        return [e for e in self.events if isinstance(e, OrderFilled)]

    def leg_fills(self) -> list[OrderFilled]:
        return [f for f in self.fills() if is_leg_fill(f.client_order_id.value)]

    def held(self) -> dict[str, int]:
        """The node's positions per Alpaca symbol, as the simulator's ``positions()`` reports the broker's."""
        out: dict[str, int] = {}
        for position in self.cache.positions_open():
            symbol = position.instrument_id.symbol.value.replace(" ", "")
            out[symbol] = out.get(symbol, 0) + int(position.signed_qty)
        return out
