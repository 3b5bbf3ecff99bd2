"""Nautilus 1.231's own IB client (the official ibapi, not ib_async) against the simulator: it connects,
loads the SPX index and the day's SPXW chain through its instrument provider, gets quotes and minute bars,
and places a BAG combo. No TradingNode is built: an IB node connects at build and retries forever.

Nautilus runs its own event loop in a thread of its own (ib_async keeps the test thread's).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from decimal import Decimal
from typing import Any

from ibapi.contract import ComboLeg
from ibapi.order import Order as IBOrder
from nautilus_trader.adapters.interactive_brokers.client import InteractiveBrokersClient
from nautilus_trader.adapters.interactive_brokers.common import IBContract
from nautilus_trader.adapters.interactive_brokers.config import (
    InteractiveBrokersInstrumentProviderConfig,
    SymbologyMethod,
)
from nautilus_trader.adapters.interactive_brokers.providers import InteractiveBrokersInstrumentProvider
from nautilus_trader.cache.cache import Cache
from nautilus_trader.common.component import LiveClock, MessageBus
from nautilus_trader.model.data import Bar, BarType, QuoteTick
from nautilus_trader.model.identifiers import InstrumentId, TraderId

from odte_nautilus.risk.time_units import MINUTE_NS
from odte_nautilus.sim.ib import TwsSimulator
from tests.adapters.ib_sim.kit import atm_strike

WAIT_S = 10.0


class Nautilus:
    """An ``InteractiveBrokersClient`` and its instrument provider, connected to the simulator."""

    def __init__(self, sim: TwsSimulator, client_id: int = 21) -> None:
        self.sim = sim
        self.clock = LiveClock()
        self.msgbus = MessageBus(TraderId("SIM-001"), self.clock)
        self.cache = Cache()
        self.data: list[Any] = []
        self.msgbus.register("DataEngine.process", self.data.append)
        self.client = InteractiveBrokersClient(
            asyncio.get_running_loop(), self.msgbus, self.cache, self.clock, sim.host, sim.port, client_id
        )
        chain = IBContract(
            secType="IND",
            symbol="SPX",
            exchange="CBOE",
            build_options_chain=True,
            lastTradeDateOrContractMonth=f"{sim.trading_date:%Y%m%d}",
        )
        config = InteractiveBrokersInstrumentProviderConfig(
            symbology_method=SymbologyMethod.IB_SIMPLIFIED, load_contracts=frozenset([chain])
        )
        self.provider = InteractiveBrokersInstrumentProvider(self.client, self.clock, config)

    async def start(self) -> None:
        self.client.start()
        await self.client.wait_until_ready(int(WAIT_S))
        await self.provider.initialize()
        for instrument in self.provider.get_all().values():
            self.cache.add_instrument(instrument)

    def of(self, kind: type) -> list:
        """The data of one kind the client has handed to the data engine so far."""
        return [d for d in self.data if isinstance(d, kind)]

    async def step(self) -> None:
        await asyncio.to_thread(self.sim.step_minute)

    async def until(self, check: Callable[[], object], what: str) -> None:
        try:
            async with asyncio.timeout(WAIT_S):
                while not check():
                    await asyncio.sleep(0.01)
        except TimeoutError:
            raise AssertionError(f"timed out after {WAIT_S} s waiting for {what}") from None

    async def barrier(self) -> None:
        """A request answered after everything sent before it (TWS answers a socket in order): once it is,
        the simulator has read every earlier request, say the subscription a step must feed."""
        await self.client.get_contract_details(IBContract(secType="IND", symbol="SPX", exchange="CBOE"))

    def stop(self) -> None:
        self.client.stop()


def run(sim: TwsSimulator, body: Callable[[Nautilus], Coroutine[Any, Any, None]]) -> None:
    """Run ``body`` with a connected Nautilus client on a loop in its own thread; re-raise what it raised."""
    failure: list[BaseException] = []

    async def main() -> None:
        nautilus = Nautilus(sim)
        try:
            await nautilus.start()
            await body(nautilus)
        finally:
            nautilus.stop()
            await asyncio.sleep(0.2)  # let the client's tasks wind down before the loop closes

    def thread() -> None:
        try:
            asyncio.run(main())
        except BaseException as error:
            failure.append(error)

    worker = threading.Thread(target=thread, daemon=True)
    worker.start()
    worker.join(timeout=60)
    assert not worker.is_alive(), "the Nautilus client did not finish"
    if failure:
        raise failure[0]


def option_id(sim: TwsSimulator, right: str, strike: int) -> InstrumentId:
    return InstrumentId.from_str(f"SPXW  {sim.trading_date:%y%m%d}{right}{strike * 1000:08d}.CBOE")


def test_nautilus_loads_the_index_and_the_chain_of_the_replayed_expiry(sim):
    async def body(n: Nautilus) -> None:
        ids = {str(i) for i in n.provider.get_all()}
        assert ids == {"^SPX.CBOE"} | set(sim.market.contracts)
        assert n.client.accounts() == {"DU1234567"}
        call = n.provider.find(option_id(sim, "C", atm_strike(sim)))
        assert call is not None and call.underlying == "^SPX" and call.multiplier == 100
        assert call.expiration_ns == sim.session_close_ns and str(call.price_increment) == "0.05"

    run(sim, body)


def test_nautilus_gets_quotes_at_once_and_minute_bars_as_they_are_replayed(sim):
    async def body(n: Nautilus) -> None:
        call_id = option_id(sim, "C", atm_strike(sim))
        await n.client.subscribe_market_data(call_id, n.provider.contract[call_id], "")
        await n.until(lambda: n.of(QuoteTick), "the first quote")
        latest = sim.market.latest[str(call_id)]
        first = n.of(QuoteTick)[-1]
        assert (first.bid_price.as_decimal(), first.ask_price.as_decimal()) == (latest.bid, latest.ask)

        bar_type = BarType.from_str("^SPX.CBOE-1-MINUTE-LAST-EXTERNAL")
        spx = InstrumentId.from_str("^SPX.CBOE")
        await n.client.subscribe_historical_bars(bar_type, n.provider.contract[spx], False, False, {})
        await n.barrier()
        for _ in range(2):
            await n.step()
            replayed = sim.market.last_bar
            assert replayed is not None

            def published(close: Decimal = replayed.close) -> bool:
                return bool(n.of(Bar)) and n.of(Bar)[-1].close.as_decimal() == close

            await n.until(published, "the bar")
            assert n.of(Bar)[-1].ts_event == replayed.ts - MINUTE_NS  # IB dates a bar at its open
            latest = sim.market.latest[str(call_id)]
            assert n.of(QuoteTick)[-1].bid_price.as_decimal() == latest.bid

    run(sim, body)


def test_nautilus_places_a_bag_combo_that_fills_leg_by_leg(sim):
    async def body(n: Nautilus) -> None:
        k = atm_strike(sim)
        wanted = [(option_id(sim, "C", k), "SELL"), (option_id(sim, "P", k), "SELL")]
        wanted += [(option_id(sim, "C", k + 10), "BUY"), (option_id(sim, "P", k - 10), "BUY")]
        legs = [ComboLeg() for _ in wanted]
        for leg, (iid, action) in zip(legs, wanted, strict=True):
            leg.conId, leg.ratio, leg.action, leg.exchange = n.provider.contract[iid].conId, 1, action, "SMART"
        quotes = [sim.market.latest[str(iid)] for iid, _ in wanted]
        credit = quotes[0].bid + quotes[1].bid - quotes[2].ask - quotes[3].ask
        executions: list[dict] = []
        statuses: list[str] = []
        n.client.subscribe_event(f"execDetails-{sim.account}", lambda **kw: executions.append(kw))
        n.client.subscribe_event(f"orderStatus-{sim.account}", lambda **kw: statuses.append(kw["order_status"]))
        order = IBOrder()
        order.orderId = n.client.next_order_id()
        order.action, order.totalQuantity, order.orderType = "BUY", Decimal(1), "LMT"
        order.lmtPrice, order.tif, order.account, order.orderRef = float(-credit), "DAY", sim.account, "O-1"
        order.contract = IBContract(secType="BAG", symbol="SPX", exchange="SMART", currency="USD", comboLegs=legs)
        n.client.place_order(order)
        await n.until(lambda: "Filled" in statuses and len(executions) == 4, "the fill")
        assert sorted(e["contract"].secType for e in executions) == ["OPT"] * 4  # the BAG's has no commission
        assert {e["execution"].orderRef for e in executions} == {f"O-1:{order.orderId}"}
        assert sum(Decimal(str(e["commission_report"].commissionAndFees)) for e in executions) == Decimal("2.60")
        held = sim.positions()
        assert sorted(held.values()) == [-1, -1, 1, 1]

    run(sim, body)
