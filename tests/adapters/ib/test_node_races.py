"""IB's order races against the whole IB paper node: Nautilus's own IB client, the project's execution client,
the gate, the strategies' package ledgers, and the TWS simulator scripting what a real gateway does.

Each race must end as IB ends it: the node's positions equal to the broker's, the fills at the broker's real
prices, one order at the broker. Seed 000's phantom position (error 104 on a modify of an order that had
filled) is ``test_regression_phantom_position``; Nautilus's client alone closes the order on the Cancelled and
loses the fill (``test_nautilus_client_alone_books_the_phantom``: what the project's client is for).
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from nautilus_trader.adapters.interactive_brokers.execution import InteractiveBrokersExecutionClient
from nautilus_trader.model.enums import OrderStatus
from nautilus_trader.model.objects import Price

from odte_nautilus.adapters.ib.execution import OdteInteractiveBrokersExecutionClient
from odte_nautilus.sim.ib import Faults
from tests.adapters.ib.conftest import idle_settings
from tests.adapters.ib.kit import IbNode

CONFIRM_WAIT_S = 3.0  # the execution client holds a Cancelled this long (1 s) before it asks for executions


@pytest.fixture
def faults() -> Faults:
    return Faults()


@pytest.fixture
def node(catalog: Path, tmp_path: Path, faults: Faults) -> Iterator[IbNode]:
    live = IbNode(catalog, tmp_path / "run", idle_settings(tmp_path), faults).start()
    try:
        live.advance(31)  # 10:01 ET: a bar, the chain's quotes
        yield live
    finally:
        live.stop()


def _marketable_fly(node: IbNode):
    """A fly entry at a credit of 0.05: the market pays more, so it fills at once (at the far touch)."""
    return node.on_loop(lambda: node.manual.rest_iron_fly(credit=0.05))


def _status(node: IbNode, order) -> OrderStatus:
    def status() -> OrderStatus:
        assert node.paper is not None
        return node.paper.node.kernel.cache.order(order.client_order_id).status

    return node.on_loop(status)


def _settle_confirmations(node: IbNode) -> None:
    import time

    time.sleep(CONFIRM_WAIT_S)
    node.wait_settled()


def _leg_prices(node: IbNode) -> dict[str, Decimal]:
    """The prices of the node's leg fills, from its positions (one contract a leg): leg symbol -> price."""

    def fills() -> dict[str, Decimal]:
        assert node.paper is not None
        out = {}
        for position in node.paper.node.kernel.cache.positions():
            [fill] = position.events
            out[position.instrument_id.symbol.value] = Decimal(str(fill.last_px))
        return out

    return node.on_loop(fills)


def _broker_leg_prices(node: IbNode) -> dict[str, Decimal]:
    return {e["local_symbol"]: Decimal(e["price"]) for e in node.sim.executions() if e["sec_type"] == "OPT"}


def _events(node: IbNode, order) -> list[str]:
    def events() -> list[str]:
        assert node.paper is not None
        return [type(e).__name__ for e in node.paper.node.kernel.cache.order(order.client_order_id).events]

    return node.on_loop(events)


def _assert_booked_as_the_broker(node: IbNode, order) -> None:
    assert _status(node, order) == OrderStatus.FILLED
    assert "OrderCanceled" not in _events(node, order)  # no strategy was ever told its filled order was cancelled
    assert node.node_positions() == node.broker_positions() != {}
    assert len(node.sim.orders()) == 1  # one order ever reached the broker
    assert _leg_prices(node) == _broker_leg_prices(node)  # every leg at the broker's own price, none at 0


def test_regression_phantom_position(node: IbNode, faults: Faults):
    """Error 104: the modify of an order that filled at the exchange gets 104, a Cancelled, then the fill."""
    faults.unreported_fills = 1
    order = _marketable_fly(node)
    node.wait_settled()
    assert _status(node, order) == OrderStatus.ACCEPTED and node.broker_positions() != {}  # filled, not told
    node.on_loop(lambda: node.manual.modify_order(order, price=Price(-0.10, 2)))
    _settle_confirmations(node)
    _assert_booked_as_the_broker(node, order)


def test_cancel_racing_a_fill_ends_as_the_fill(node: IbNode, faults: Faults):
    """10148: the cancel's premature Cancelled, then "cannot be cancelled, state: Filled", then the executions."""
    faults.unreported_fills = 1
    order = _marketable_fly(node)
    node.wait_settled()
    node.on_loop(lambda: node.manual.cancel_order(order))
    _settle_confirmations(node)
    _assert_booked_as_the_broker(node, order)


@pytest.mark.parametrize(
    "script",
    [
        pytest.param({"duplicate_executions": 1}, id="duplicated"),
        pytest.param({"legs_only_executions": 1}, id="legs-only"),
        pytest.param({"late_executions": 1, "late_steps": 2}, id="late"),
    ],
)
def test_executions_duplicated_late_or_only_for_the_legs_book_each_leg_once(node: IbNode, faults: Faults, script):
    for name, value in script.items():
        setattr(faults, name, value)
    order = _marketable_fly(node)
    node.advance(3)  # late executions come two replayed steps after the status
    _settle_confirmations(node)
    _assert_booked_as_the_broker(node, order)
    assert all(abs(q) == 1 for q in node.node_positions().values())  # each leg once, not twice


def test_without_the_tentative_cancel_the_node_books_the_phantom(
    catalog: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nautilus's own handling of IB's Cancelled (the rule removed) tells the node the order was cancelled, and
    only later that it filled: a strategy acting on the cancel (entering again, as seed 000's bot did) doubles
    the position the broker already holds. (If Nautilus ever holds the cancel, this test says so.)"""
    nautilus = InteractiveBrokersExecutionClient._on_order_status
    monkeypatch.setattr(OdteInteractiveBrokersExecutionClient, "_on_order_status", nautilus)
    faults = Faults(unreported_fills=1)
    with IbNode(catalog, tmp_path / "run", idle_settings(tmp_path), faults) as node:
        node.advance(31)
        order = _marketable_fly(node)
        node.wait_settled()
        node.on_loop(lambda: node.manual.modify_order(order, price=Price(-0.10, 2)))
        _settle_confirmations(node)
        assert len(node.sim.orders()) == 1 and node.broker_positions() != {}  # the order reached IB and filled
        told = _events(node, order)
        assert "OrderCanceled" in told, f"Nautilus's own IB client held IB's Cancelled: {told}"


def test_a_package_partially_filled_then_exited_ends_flat_at_both(node: IbNode, faults: Faults):
    faults.partial_fill = 0.5
    order = node.on_loop(lambda: node.manual.rest_iron_fly(credit=0.05, quantity=2))
    node.wait_settled()
    assert node.node_positions() == node.broker_positions() != {}
    assert {abs(q) for q in node.node_positions().values()} == {1}  # one of two packages so far
    node.advance(1)  # the rest fills on the next step
    _settle_confirmations(node)
    assert _status(node, order) == OrderStatus.FILLED
    assert {abs(q) for q in node.node_positions().values()} == {2}
    node.on_loop(lambda: node.manual.close_package(order))
    node.advance(2)  # the exit is partially filled too
    _settle_confirmations(node)
    assert node.node_positions() == node.broker_positions() == {}


def test_an_order_refused_for_pacing_is_not_left_working(node: IbNode, faults: Faults):
    """IB refuses a message over its rate (error 100) and keeps nothing: the order must not stay working in the
    node (the gate would count it against the limits, a strategy would wait on it for ever)."""
    faults.pacing = {"placeOrder": 1}
    order = _marketable_fly(node)
    node.advance(2)
    _settle_confirmations(node)
    assert node.sim.orders() == [] and node.broker_positions() == {}
    assert _status(node, order) in (OrderStatus.REJECTED, OrderStatus.CANCELED), _events(node, order)


def test_a_modify_refused_for_pacing_leaves_the_order_working(node: IbNode, faults: Faults):
    """ib_insync #502's lesson: a refused modify is not the order's end; IB keeps the original working."""
    order = node.on_loop(lambda: node.manual.rest_iron_fly(credit=60.0))  # far more than the market pays: rests
    node.wait_settled()
    assert _status(node, order) == OrderStatus.ACCEPTED
    faults.pacing = {"placeOrder": 1}
    node.on_loop(lambda: node.manual.modify_order(order, price=Price(-59.0, 2)))
    node.advance(1)
    _settle_confirmations(node)
    assert _status(node, order) == OrderStatus.ACCEPTED, _events(node, order)
    assert "OrderModifyRejected" in _events(node, order)
    assert [o["status"] for o in node.sim.orders()] == ["Submitted"]
