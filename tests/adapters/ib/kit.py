"""The IB paper node (Nautilus's own IB client, the project's execution client) against the TWS simulator.

The same ``SimulatedNode`` as the Alpaca node's tests (``tests/live/kit.py``): built as ``odte live --broker
ib-sim`` builds it, on replayed clocks, run in a background thread and moved a minute at a time by the test,
with a ``ManualTrader`` on it to send packages by hand. The simulator's ``faults`` script IB's races.
"""

from __future__ import annotations

from pathlib import Path

from odte_nautilus.adapters.ib.config import IB
from odte_nautilus.data.sidecar import load_open_interest
from odte_nautilus.live.ib_node import build_ib_node
from odte_nautilus.live.node import PaperNode
from odte_nautilus.live.session_clock import replayed_time_kernel
from odte_nautilus.live.settings import LiveSettings
from odte_nautilus.sim.ib import Faults, TwsSimulator
from tests.live.kit import ManualTrader, SimulatedNode

ACCOUNT = "DU1234567"


class IbNode(SimulatedNode):
    """The paper node on the TWS simulator (SPXW)."""

    client = IB

    def __init__(self, catalog: Path, run_dir: Path, settings: LiveSettings, faults: Faults | None = None) -> None:
        super().__init__(catalog, run_dir, settings)
        self.faults = faults or Faults()

    def open_simulator(self) -> TwsSimulator:
        return TwsSimulator(self.catalog, accounts=(ACCOUNT,), faults=self.faults).__enter__()

    def build(self, sim: TwsSimulator) -> PaperNode:
        with replayed_time_kernel(f"tcp://{sim.host}:{sim.port}"):
            return build_ib_node(
                self.settings,
                host=sim.host,
                port=sim.port,
                account=ACCOUNT,
                session=sim.trading_date,
                run_dir=self.run_dir,
                state_dir=self.run_dir / "state",
                open_interest=lambda day: load_open_interest(self.catalog, day),
                open_check_seconds=1.0,
            )

    def manual_trader(self) -> ManualTrader:
        return ManualTrader("^SPX.CBOE-1-MINUTE-LAST-EXTERNAL", strike_step=5, wing=25)

    # -- what the node and the broker hold ----------------------------------------------------------------

    def node_positions(self) -> dict[str, int]:
        """The node's open positions per leg, keyed as the simulator keys them (IB's local symbol)."""

        def held() -> dict[str, int]:
            assert self.paper is not None
            out = {}
            for position in self.paper.node.kernel.cache.positions_open():
                out[position.instrument_id.symbol.value] = int(position.signed_qty)
            return out

        return self.on_loop(held)

    def broker_positions(self) -> dict[str, int]:
        return {symbol: qty for symbol, qty in self.sim.positions().items() if qty}
