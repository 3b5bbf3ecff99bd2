"""Issue 12: "a disconnect and reconnect mid-order" against the whole IB paper node.

The gateway drops the node's socket while the node's fly is working, and the fly fills while nobody listens
(the simulator's account moves; the reports fall due with no client to send them to). Nautilus 1.231's IB
client notices the lost socket (a 1 s watchdog), waits 5 s, reconnects on its own and then only
resubscribes its market data: it asks for no executions, orders or positions, and the execution engine's
open-order check asks IB for *open* orders, where a filled order is absent. Alone, it left the node with a
working order the broker had filled and none of the legs the broker holds (with ``open_check_open_only``
off it even marked the order REJECTED "not found at the venue": seed 000's phantom). The project's execution
client reads IB's executions on every reconnect (``adapters/ib/execution.py``): the fill is booked, each leg
at IB's own price and the package at its legs' average.
"""

from __future__ import annotations

import time
from pathlib import Path

from nautilus_trader.model.enums import OrderStatus

from odte_nautilus.sim.ib import Faults
from tests.adapters.ib.conftest import idle_settings
from tests.adapters.ib.kit import IbNode
from tests.adapters.ib.test_node_races import _broker_leg_prices, _leg_prices, _marketable_fly, _status

RECONNECT_S = 20.0  # Nautilus's IB client: a 1 s watchdog, 5 s before it reconnects, then its start-up
BOOKED_S = 10.0  # once reconnected, IB's executions are read and booked at once


def _until(check, what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out after {timeout} s waiting for {what}"
        time.sleep(0.1)


def test_a_fly_filled_while_the_node_is_disconnected_is_booked_after_the_reconnect(catalog: Path, tmp_path: Path):
    faults = Faults(unreported_fills=1, unreported_steps=1)
    with IbNode(catalog, tmp_path / "run", idle_settings(tmp_path), faults) as node:
        node.advance(31)  # 10:01 ET: a bar, the chain's quotes
        _disconnected_while_it_fills(node)


def _disconnected_while_it_fills(node: IbNode) -> None:
    order = _marketable_fly(node)
    node.wait_settled()
    assert _status(node, order) == OrderStatus.ACCEPTED and node.broker_positions() != {}  # filled, not told
    node.sim.disconnect_clients()
    _until(lambda: node.sim.clients() == [], "the node's socket dropped", 5)
    node.sim.step_minute()  # the fill's reports fall due with nobody to hear them
    assert node.sim.orders()[0]["reported"] and node.node_positions() == {}
    _until(lambda: node.settings.ib.client_id in node.sim.clients(), "Nautilus's IB client back", RECONNECT_S)

    _until(lambda: _status(node, order) == OrderStatus.FILLED, "the fill booked after the reconnect", BOOKED_S)
    node.wait_settled()

    assert len(node.sim.orders()) == 1 and node.sim.orders()[0]["status"] == "Filled"  # no duplicate order
    assert len(node.broker_positions()) == 4
    assert _status(node, order) == OrderStatus.FILLED
    assert node.node_positions() == node.broker_positions()
    assert _leg_prices(node) == _broker_leg_prices(node)
