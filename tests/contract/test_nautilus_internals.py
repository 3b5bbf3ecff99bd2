"""The Nautilus internals the gate relies on (odte_nautilus/nautilus_internals.py), each held by a test.

A Nautilus upgrade that moves an endpoint, renames a deny path or changes the leg-fill ids must fail
here, loudly and by name, before it silently opens a way round the kernel.
"""

from __future__ import annotations

import asyncio

from nautilus_trader.model.enums import OrderSide, TriggerType
from nautilus_trader.model.objects import Price, Quantity
from nautilus_trader.risk.engine import RiskEngine

from odte_nautilus.nautilus_internals import EMULATOR_ENDPOINT, EXEC_ENDPOINT, leg_parent
from tests.integration.test_gate_adversarial import FLY, C, Hostile, Node, P, quotes


def _gate_decisions(node: Node) -> int:
    return sum('"source": "gate"' in line for line in node.book.journal.path.read_text().splitlines())


def test_the_engines_register_the_endpoints_the_gate_takes_over(tmp_path):
    node = Node(tmp_path)
    try:
        endpoints = node.engine.kernel.msgbus.endpoints()
        assert EXEC_ENDPOINT in endpoints and EMULATOR_ENDPOINT in endpoints
    finally:
        node.close()


def test_the_risk_engine_keeps_its_deny_and_modify_reject_paths():
    assert callable(getattr(RiskEngine, "_deny_order", None))
    assert callable(getattr(RiskEngine, "_reject_modify_order", None))


def test_plain_and_emulated_orders_and_releases_all_reach_the_gate(tmp_path):
    node = Node(tmp_path)

    def send(s):
        s.limit(C, OrderSide.BUY, 1, 10.2)  # RiskEngine -> ExecEngine
        order = s.order_factory.limit(
            P.id, OrderSide.BUY, Quantity.from_int(1), Price(9.0, 2), emulation_trigger=TriggerType.BID_ASK
        )
        s.submit_order(order)  # OrderEmulator (at submission) and ExecEngine (at release)

    try:
        cheaper = quotes(2, {C: (10.0, 10.2), P: (8.5, 8.8)}, start=(10, 6))
        node.run([Hostile({1: send})], quotes() + cheaper)
        assert _gate_decisions(node) == 3
    finally:
        node.close()


def test_a_package_fill_reaches_the_legs_under_ids_naming_their_parent(tmp_path):
    node = Node(tmp_path)
    sent = {}

    def enter(s):
        sent["fly"] = s.limit(FLY, OrderSide.BUY, 1, -11.8)

    strategy = Hostile({1: enter})
    try:
        node.run([strategy], quotes())
        legs = [f.client_order_id.value for f in strategy.filled if f.instrument_id != FLY.id]
        assert len(legs) == 4
        assert {leg_parent(cid) for cid in legs} == {sent["fly"].client_order_id.value}
    finally:
        node.close()


def test_expiry_settlement_ids_have_no_parent():
    assert leg_parent("CBOE-LEG-OTM-1a2b3c4d") is None
    assert leg_parent("EXPIRATION-LEG-5e6f") is None
    assert leg_parent("O-20240315-140100-001-000-1-LEG-SPXW  240315C05100000") == "O-20240315-140100-001-000-1"


def test_a_live_kernel_built_under_live_kernel_clock_runs_on_test_clocks_and_others_do_not():
    """The compressed simulator session (live/session_clock.py) relies on the live kernel taking its clock
    class from ``nautilus_trader.system.kernel.LiveClock`` and giving each component a clock of that class."""
    from nautilus_trader.common.component import LiveClock, TestClock
    from nautilus_trader.config import LoggingConfig, TradingNodeConfig
    from nautilus_trader.live.node import TradingNode
    from nautilus_trader.trading.strategy import Strategy

    from odte_nautilus.nautilus_internals import live_kernel_clock

    config = TradingNodeConfig(trader_id="CONTRACT-001", logging=LoggingConfig(log_level="ERROR"))
    with live_kernel_clock():
        node = TradingNode(config, loop=asyncio.new_event_loop())
    try:
        node.trader.add_strategy(Strategy())
        assert isinstance(node.kernel.clock, TestClock)
        assert all(isinstance(s.clock, TestClock) for s in node.trader.strategies())
    finally:
        node.dispose()
    config = TradingNodeConfig(trader_id="CONTRACT-002", logging=LoggingConfig(log_level="ERROR"))
    plain = TradingNode(config, loop=asyncio.new_event_loop())
    try:
        assert isinstance(plain.kernel.clock, LiveClock)
    finally:
        plain.dispose()


def test_the_live_data_engine_needs_its_spread_quote_path_fixed_and_the_fix_delivers_the_quote():
    """Nautilus 1.231's live ``DataEngine`` hands an aggregated package quote to ``process(quote, historical)``,
    which ``LiveDataEngine.process`` does not accept: without ``enable_live_spread_quotes`` no package quote
    would ever reach a strategy on the paper node. When an upgrade fixes it, the first assertion fails: drop
    the fix then."""
    import inspect

    from nautilus_trader.config import LoggingConfig, TradingNodeConfig
    from nautilus_trader.live.data_engine import LiveDataEngine
    from nautilus_trader.live.node import TradingNode

    from odte_nautilus.nautilus_internals import enable_live_spread_quotes
    from tests.engine_kit import quote

    assert list(inspect.signature(LiveDataEngine.process).parameters) == ["self", "data"]
    config = TradingNodeConfig(trader_id="CONTRACT-003", logging=LoggingConfig(log_level="ERROR"))
    node = TradingNode(config, loop=asyncio.new_event_loop())
    try:
        engine = node.kernel.data_engine
        enable_live_spread_quotes(engine, node.kernel.cache, node.kernel.msgbus)
        node.kernel.cache.add_instrument(FLY)
        engine._setup_spread_quote_aggregator(FLY.id)  # registers the venue's sandbox endpoint (a no-op)
        assert f"SimulatedExchange.process_new_quote.{FLY.id.venue}" in node.kernel.msgbus.endpoints()
        engine._handle_spread_quote(quote(FLY, -12.4, -11.8, 0))
        loop = node.get_event_loop()
        assert loop is not None
        loop.run_until_complete(asyncio.sleep(0))  # the engine enqueues on the loop
        assert engine.data_qsize() == 1
    finally:
        node.dispose()
