"""Random broker event orderings through the execution client: the node's positions end equal to the broker's.

Issue 10's property: whatever the broker does with its trade updates - sends them twice, late, out of order,
drops the socket mid-order, fills part now and the rest later, lets a cancel race a fill - the node books every
contract once and never one the broker does not hold. Each example is a random script of entries, exits,
cancels and minute steps against the real simulator through the real alpaca-py clients, with the faults
switched on and off between steps; after it the node's positions must equal the broker's, and no order may have
booked more packages than it asked for.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nautilus_trader.model.enums import OrderSide
from nautilus_trader.model.orders import LimitOrder

from odte_nautilus.orders import cancel_command
from odte_nautilus.risk.time_units import MINUTE_NS
from odte_nautilus.sim.alpaca import AlpacaSimulator
from tests.adapters.alpaca.kit import KEY, SECRET, Harness, eventually

FAULTS = st.fixed_dictionaries(
    {
        "partial_fill": st.sampled_from([None, 0.5]),
        "duplicate_next": st.integers(0, 3),
        "delay_next": st.integers(0, 3),
        "drop": st.booleans(),
    }
)
ACTIONS = st.sampled_from(["enter", "enter_resting", "exit", "cancel", "step"])
SCRIPT = st.lists(st.tuples(ACTIONS, st.integers(1, 2), FAULTS), min_size=2, max_size=7)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(script=SCRIPT)
def test_any_ordering_of_broker_events_leaves_the_nodes_positions_equal_to_the_brokers(spy_catalog: Path, script):
    with AlpacaSimulator(spy_catalog, underlying="SPY", key=KEY, secret=SECRET) as sim:
        asyncio.run(_play(sim, script))


async def _play(sim: AlpacaSimulator, script: list[tuple[str, int, dict]]) -> None:
    h = Harness(sim, asyncio.get_running_loop(), poll_secs=0.2)
    try:
        await h.connect()
        await asyncio.to_thread(sim.advance_to, sim.session_open_ns + 30 * MINUTE_NS)
        fly = h.iron_fly()
        orders: list[LimitOrder] = []
        for action, qty, faults in script:
            sim.faults.partial_fill = faults["partial_fill"]
            sim.faults.duplicate_next = faults["duplicate_next"]
            sim.faults.delay_next = faults["delay_next"]
            if faults["drop"]:
                sim.drop_streams()
            if action in ("enter", "enter_resting"):
                touch = h.far_touch(fly, OrderSide.BUY)
                price = touch if action == "enter" else round(touch - 0.30, 2)  # resting below the market
                orders.append(await h.submit(fly, OrderSide.BUY, qty, price))
            elif action == "exit" and (held := max((abs(q) for q in sim.positions().values()), default=0)):
                orders.append(await h.submit(fly, OrderSide.SELL, min(qty, held), h.far_touch(fly, OrderSide.SELL)))
            elif action == "cancel" and orders and not orders[-1].is_closed:
                # a cancel that may race the order's fill
                await h.exec._cancel_order(cancel_command(orders[-1], h.clock.timestamp_ns()))
            else:
                await asyncio.to_thread(sim.step_minute)
        sim.faults.partial_fill, sim.faults.duplicate_next, sim.faults.delay_next = None, 0, 0
        await asyncio.to_thread(sim.step_minute)  # releases any held update; a resting order may fill
        await eventually(
            lambda: h.held() == sim.positions(), timeout=10.0, what="the node to hold what the broker holds"
        )
        for order in orders:
            assert order.filled_qty <= order.quantity, f"{order.client_order_id} booked more than it asked for"
    finally:
        await h.disconnect()
