"""A paper node against the in-process Alpaca simulator, run in a thread and moved a minute at a time by the test.

``odte live --broker alpaca-sim`` replays a whole session at its own pace; a control test needs the node held
at a moment (a package open, an entry about to go) while it acts through HTTP. So the kit builds the node as
``live/simulated.py`` does (the same ``build_paper_node`` on replayed clocks, the simulator on loopback), runs
it in a background thread, and replays minutes only when the test asks (``advance``, ``run_until``), each
minute waiting for the node to settle as the ``SessionDriver`` does.
"""

from __future__ import annotations

import asyncio
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, Self

from nautilus_trader.config import StrategyConfig
from nautilus_trader.model.data import Bar, BarType
from nautilus_trader.model.enums import OptionKind, OrderSide, TimeInForce
from nautilus_trader.model.events import OrderDenied
from nautilus_trader.model.instruments import OptionContract
from nautilus_trader.model.objects import Price, Quantity
from nautilus_trader.model.orders import LimitOrder
from nautilus_trader.trading.strategy import Strategy

from odte_nautilus.adapters.alpaca.symbols import ALPACA
from odte_nautilus.live.node import BrokerUrls, PaperNode, build_paper_node
from odte_nautilus.live.preflight import Credentials
from odte_nautilus.live.session_clock import SETTLE_LIMIT_S, advance_clocks, node_clocks, replayed_time_kernel
from odte_nautilus.live.settings import LiveSettings, load_settings
from odte_nautilus.live.sim_broker import SIM_ACCOUNT, SIM_KEY, SIM_SECRET, alpaca_open_interest, sample_catalog
from odte_nautilus.live.simulated import end_leftover_tasks, node_settled, pointed_at
from odte_nautilus.packages import option_spread
from odte_nautilus.risk.journal import read
from odte_nautilus.risk.session import NEW_YORK
from odte_nautilus.risk.time_units import MINUTE_NS, NS_PER_SECOND
from odte_nautilus.runtime import detach
from odte_nautilus.sim.alpaca import AlpacaSimulator

REPO = Path(__file__).resolve().parents[2]
CALL, PUT = OptionKind.CALL, OptionKind.PUT
START_TIMEOUT_S = 60.0


def paper_settings(root: Path) -> LiveSettings:
    """``configs/paper.yaml`` with its logs under ``root`` and the control API on a free port."""
    settings = load_settings(REPO / "configs" / "paper.yaml")
    control = settings.control.model_copy(update={"port": 0})
    return settings.model_copy(update={"logs_dir": root / "logs", "control": control})


class SimulatedNode:
    """One simulated session's node: ``start`` it, move it with ``advance``/``run_until``, ``stop`` it.

    A broker's kit says how to open its simulator (``open_simulator``), build the node on it (``build``) and
    which client name the node's settle check reads (``client``). ``run_dir`` and its ``state/`` may be reused by
    a second node (a restart: the same durable store).
    """

    client: str

    def __init__(self, catalog: Path, run_dir: Path, settings: LiveSettings) -> None:
        self.catalog = catalog
        self.run_dir = run_dir
        self.settings = settings
        self.sim: Any = None
        self.paper: PaperNode | None = None
        self.manual: ManualTrader
        self._thread: threading.Thread | None = None
        self.now_ns = 0

    def open_simulator(self) -> Any:
        raise NotImplementedError

    def build(self, sim: Any) -> PaperNode:
        raise NotImplementedError

    # -- lifecycle ----------------------------------------------------------------------------------

    def start(self) -> Self:
        sim = self.open_simulator()
        self.sim = sim
        self.now_ns = sim.now_ns
        with _no_running_loop():
            asyncio.set_event_loop(asyncio.new_event_loop())  # the node takes this thread's loop: a fresh one
            self.paper = paper = self._build(sim)
        self._thread = threading.Thread(target=paper.node.run, name="paper-node", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not paper.node.kernel.trader.is_running:
            assert time.monotonic() < deadline, "the paper node did not start"
            time.sleep(0.05)
        self.on_loop(lambda: None)
        return self

    def _build(self, sim: Any) -> PaperNode:
        paper = self.build(sim)
        self.manual = self.manual_trader()
        paper.node.trader.add_strategy(self.manual)
        paper.node.kernel._await_trader_residuals = _no_residual_wait  # type: ignore[method-assign]
        for clock in node_clocks(paper.node):
            clock.set_time(self.now_ns)
        return paper

    def stop(self) -> None:
        paper, sim = self.paper, self.sim
        if paper is not None:
            loop = paper.node.get_event_loop()
            if loop is not None and loop.is_running():
                asyncio.run_coroutine_threadsafe(paper.node.stop_async(), loop).result(timeout=30)
            if self._thread is not None:
                self._thread.join(timeout=30)
            if loop is not None:
                with _no_running_loop():
                    end_leftover_tasks(loop)  # Nautilus's executor workers end quietly
            paper.node.dispose()
            detach(paper.node.kernel)
            paper.book.close()
            self.paper = None
        if sim is not None:
            sim.__exit__(None, None, None)
            self.sim = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- time ---------------------------------------------------------------------------------------

    def advance(self, minutes: int = 1) -> None:
        """Replay ``minutes`` minutes, each as the session driver does: clocks, the market, then settle."""
        for _ in range(minutes):
            self.on_loop_async(self._minute, timeout=30)

    def run_until(self, hhmm: str, stop_when: Callable[[], bool] | None = None) -> bool:
        """Replay up to ``hhmm`` New York time; stop early (returns True) once ``stop_when()`` holds."""
        day = datetime.fromtimestamp(self.now_ns / NS_PER_SECOND, NEW_YORK).date()
        end = datetime.combine(day, datetime.strptime(hhmm, "%H:%M").time(), NEW_YORK)
        end_ns = int(end.timestamp()) * NS_PER_SECOND
        while self.now_ns < end_ns:
            self.advance()
            if stop_when is not None and stop_when():
                return True
        return False

    async def _minute(self) -> None:
        assert self.paper is not None and self.sim is not None
        now = self.now_ns - self.now_ns % MINUTE_NS + MINUTE_NS
        advance_clocks(node_clocks(self.paper.node), now)
        await asyncio.to_thread(self.sim.advance_to, now)
        self.now_ns = now
        await self.settle()

    async def settle(self) -> None:
        assert self.paper is not None
        waited, quiet = 0.0, 0
        await asyncio.sleep(0.01)
        while quiet < 3 and waited < SETTLE_LIMIT_S:
            quiet = quiet + 1 if node_settled(self.paper.node, self.client) else 0
            await asyncio.sleep(0.005)
            waited += 0.005

    # -- the node's loop ------------------------------------------------------------------------------

    def on_loop(self, fn: Callable[[], Any], timeout: float = 10) -> Any:
        """Run ``fn`` on the node's loop (Nautilus objects are not thread-safe) and return its result."""

        async def call() -> Any:
            return fn()

        return self.on_loop_async(call, timeout)

    def on_loop_async(self, make: Callable[[], Any], timeout: float = 10) -> Any:
        assert self.paper is not None
        loop = self.paper.node.get_event_loop()
        assert loop is not None
        return asyncio.run_coroutine_threadsafe(make(), loop).result(timeout=timeout)

    def wait_settled(self) -> None:
        self.on_loop_async(self.settle, timeout=30)

    # -- what happened --------------------------------------------------------------------------------

    def journal(self) -> list[dict[str, Any]]:
        return list(read(self.run_dir / "decisions.jsonl"))

    def held_packages(self) -> list[tuple[str, str]]:
        """(strategy, package) of every package holding contracts, as the strategies' ledgers say."""

        def held() -> list[tuple[str, str]]:
            assert self.paper is not None
            out = []
            for sid, strategy in self.paper.runtime.gate.strategies().items():
                for pid, package in getattr(strategy, "packages", {}).items():
                    if package.ledger.quantity:
                        out.append((sid, pid))
            return out

        return self.on_loop(held)

    def working_entries(self) -> list[str]:
        def working() -> list[str]:
            assert self.paper is not None
            snapshot = self.paper.runtime.gate.exposure.snapshot()
            return [w.order_id for w in snapshot.working if w.kind.value == "entry"]

        return self.on_loop(working)

    def manual_trader(self) -> ManualTrader:
        raise NotImplementedError


class LiveNode(SimulatedNode):
    """The paper node on the Alpaca simulator (SPY)."""

    client = ALPACA

    def open_simulator(self) -> AlpacaSimulator:
        return AlpacaSimulator(
            self.catalog, underlying="SPY", key=SIM_KEY, secret=SIM_SECRET, account_number=SIM_ACCOUNT
        ).__enter__()

    def build(self, sim: AlpacaSimulator) -> PaperNode:
        urls = BrokerUrls(sim.rest_url, sim.trade_stream_url, sim.option_stream_url, sim.stock_stream_url)
        with replayed_time_kernel(urls.rest):
            return build_paper_node(
                pointed_at(self.settings, urls),
                Credentials(SIM_KEY, SIM_SECRET, None),
                urls,
                underlying="SPY",
                run_dir=self.run_dir,
                state_dir=self.run_dir / "state",
                account_id=SIM_ACCOUNT,
                open_interest=alpaca_open_interest(self.catalog),
                simulator=True,
                open_check_seconds=1.0,
            )

    def manual_trader(self) -> ManualTrader:
        return ManualTrader("SPY.ALPACA-1-MINUTE-LAST-EXTERNAL", strike_step=1, wing=3)


@contextmanager
def _no_running_loop() -> Iterator[None]:
    """Nautilus builds a node (in the main thread: it sets signal handlers) on the thread's event loop, or on
    the loop running in it. Playwright's sync API keeps its own loop marked running in the test's thread;
    hidden while the node is built, the node gets a loop of its own, which its thread then runs."""
    running = asyncio._get_running_loop()
    asyncio._set_running_loop(None)
    try:
        yield
    finally:
        asyncio._set_running_loop(running)


async def _no_residual_wait() -> None:
    """A test node stops at once: Nautilus would wait ``timeout_post_stop`` (10 s) to log residual state."""


def shared_catalog(root: Path) -> Path:
    """The simulator's one-session SPY catalog, built once per test session under ``root``: seed 10's, on
    which only the Theta Harvester's fly trades (these tests follow that one package)."""
    return sample_catalog(root / "catalog" / "alpaca-sim", "SPY", seed=10)


def copy_state(run_dir: Path, into: Path) -> Path:
    shutil.copytree(run_dir / "state", into / "state")
    return into


class ManualTrader(Strategy):
    """A plain Nautilus strategy on the node, as a person trading by hand: it keeps no package ledger, so the
    gate books its packages (``node_books.py``). The test calls ``rest_iron_fly`` on the node's loop to leave
    an entry working (a limit below the market's credit, which the simulator will not fill)."""

    def __init__(self, bar_type: str, strike_step: int, wing: int) -> None:
        # The id maps to the profile's theta_harvester limits (risk/policy.py: strategy_key).
        super().__init__(StrategyConfig(strategy_id="ThetaHarvester-099", order_id_tag="099"))
        self.bar_type = BarType.from_str(bar_type)
        self.strike_step, self.wing = strike_step, wing
        self.spot: float | None = None
        self.orders: list[LimitOrder] = []
        self.denied: list[str] = []

    def on_start(self) -> None:
        self.subscribe_bars(self.bar_type)

    def on_bar(self, bar: Bar) -> None:
        self.spot = bar.close.as_double()

    def on_order_denied(self, event: OrderDenied) -> None:
        self.denied.append(event.reason)

    def rest_iron_fly(self, credit: float = 9.00, quantity: int = 1) -> LimitOrder:
        """Buy +wings -body at a credit the market does not pay: an entry that rests (a credit the market
        pays, as low as 0.05, is marketable and fills)."""
        assert self.spot is not None, "a bar first"
        k, w = round(self.spot / self.strike_step) * self.strike_step, self.wing
        legs = [(self.leg(CALL, k), -1), (self.leg(PUT, k), -1), (self.leg(CALL, k + w), 1), (self.leg(PUT, k - w), 1)]
        return self.submit_package(legs, "IRON_BUTTERFLY", Price(-credit, 2), quantity)

    def submit_package(
        self, legs: list[tuple[OptionContract, int]], structure: str, price: Price, quantity: int = 1
    ) -> LimitOrder:
        """Buy ``quantity`` packages of ``legs`` at the signed net ``price`` (credit negative), a DAY limit."""
        spread = option_spread(legs, structure)
        if self.cache.instrument(spread.id) is None:
            self.cache.add_instrument(spread)
        order = self.order_factory.limit(
            spread.id, OrderSide.BUY, Quantity.from_int(quantity), price, time_in_force=TimeInForce.DAY
        )
        self.orders.append(order)
        self.submit_order(order)
        return order

    def leg(self, kind: OptionKind, strike: float) -> OptionContract:
        """Today's listed contract of ``kind`` at ``strike`` (whatever the venue's symbology)."""
        for instrument in self.cache.instruments():
            if (
                isinstance(instrument, OptionContract)
                and instrument.option_kind == kind
                and instrument.strike_price.as_double() == strike
            ):
                return instrument
        raise LookupError(f"no {kind.name} at {strike} in the cache")

    def close_package(self, entry: LimitOrder) -> LimitOrder:
        """Sell what ``entry`` bought, at any price the market pays (a limit far through the far touch)."""
        spread = self.cache.instrument(entry.instrument_id)
        price = Price(-abs(spread.price_increment.as_double()) * 2000, 2)  # sell down to -100 a package
        order = self.order_factory.limit(
            entry.instrument_id, OrderSide.SELL, entry.filled_qty, price, time_in_force=TimeInForce.DAY
        )
        self.orders.append(order)
        self.submit_order(order)
        return order
