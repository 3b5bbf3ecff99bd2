"""The watchdog against the TWS simulator over the real ib_async: a hung node's fly flattened shorts first, the
EOD deadline, a gateway posing as live refused with nothing sent, and a cancel that loses its race to a fill."""

from __future__ import annotations

from datetime import date

import ib_async as ibi
import pytest

from odte_nautilus.live.guards import GuardFailed
from odte_nautilus.live.heartbeat import start_heartbeat
from odte_nautilus.live.watchdog import JOURNAL_FILE
from odte_nautilus.risk.journal import read
from odte_nautilus.risk.session import TradingCalendar
from odte_nautilus.risk.store import RiskStore
from odte_nautilus.risk.time_units import MINUTE_NS
from odte_nautilus.sim.ib import TwsSimulator
from tests.adapters.ib_sim.kit import eventually
from tests.live.watchdog.kit import at_the_money, fast_settings, node_with_fly, option, watchdog

SETTINGS = fast_settings()
NODE = SETTINGS.ib.client_id
WATCHDOG = SETTINGS.ib.watchdog_client_id


def watchdog_executions(sim: TwsSimulator) -> list[tuple[str, str]]:
    return [(e["side"], e["local_symbol"]) for e in sim.executions() if e["client_id"] == WATCHDOG]


def shorts_then_longs(fly: dict[str, int], executions: list[tuple[str, str]]) -> None:
    shorts = {leg for leg, qty in fly.items() if qty < 0}
    longs = {leg for leg, qty in fly.items() if qty > 0}
    assert [side for side, _ in executions] == ["BOT", "BOT", "SLD", "SLD"], executions
    assert {leg for _, leg in executions[:2]} == shorts and {leg for _, leg in executions[2:]} == longs


def kill_switch(state) -> str:
    with RiskStore(state / "paper.sqlite") as store:
        day = store.load_day(date(2024, 7, 22))
    return day.kill_switch_reason if day.kill_switch else ""


def test_a_hung_node_holding_a_fly_is_flattened_shorts_first_and_locked_out(sim, ib_loop, tmp_path):
    with node_with_fly(sim.host, sim.port, tmp_path, NODE) as node:
        fly = sim.positions()
        node.beat(ib_loop, SETTINGS.ib.heartbeat_seconds)
        dog = watchdog(SETTINGS, tmp_path, sim.host, sim.port, sim.account)
        running = ib_loop.create_task(dog.run())
        try:
            node.ib.sleep(2 * SETTINGS.ib.heartbeat_timeout_seconds)  # alive for twice the timeout: left alone
            assert dog.reports == [] and sim.positions() == fly
            node.hang()
            eventually(node.ib, lambda: dog.reports, "the watchdog's flatten", timeout=10)
        finally:
            dog.stop()
            ib_loop.run_until_complete(running)
            dog.close()
    [report] = dog.reports
    assert report.flat and sim.positions() == {}
    shorts_then_longs(fly, watchdog_executions(sim))
    assert kill_switch(tmp_path).startswith("watchdog: the node is hung or dead")
    flattened = [r for r in read(tmp_path / JOURNAL_FILE) if r["kind"] == "watchdog_flatten"]
    assert [(r["trigger"], r["flat"]) for r in flattened] == [("missed_heartbeat", True)]


def test_the_eod_deadline_passing_with_positions_open_flattens_a_node_that_still_beats(sim, ib_loop, tmp_path):
    window = TradingCalendar().session_window(sim.trading_date, SETTINGS.flatten_minutes_before_close)
    assert window is not None
    flatten_ns = window.flatten_ns
    with node_with_fly(sim.host, sim.port, tmp_path, NODE) as node:
        fly = sim.positions()
        node.beat(ib_loop, SETTINGS.ib.heartbeat_seconds)
        dog = watchdog(SETTINGS, tmp_path, sim.host, sim.port, sim.account)
        try:
            ib_loop.run_until_complete(dog.connect())
            sim.advance_to(flatten_ns + 4 * MINUTE_NS)  # the node's flatten is late, still in the grace
            assert ib_loop.run_until_complete(dog.check()) is None
            sim.advance_to(flatten_ns + 5 * MINUTE_NS)
            report = ib_loop.run_until_complete(dog.check())
        finally:
            dog.close()
    assert report is not None and report.flat and sim.positions() == {}
    assert "the EOD flatten (15:10 ET) and its 5 minutes' grace have passed" in report.reason
    shorts_then_longs(fly, watchdog_executions(sim))


def test_a_gateway_that_manages_a_live_account_is_refused_with_nothing_sent(catalog_root, ib_loop, tmp_path):
    from odte_nautilus.live.sim_broker import sample_catalog

    with TwsSimulator(sample_catalog(catalog_root, "SPX"), accounts=("U1234567",)) as live:
        live.step_minute()
        other = ibi.IB()
        other.connect(live.host, live.port, clientId=NODE, timeout=5.0)
        try:
            day, strike = at_the_money(other)
            [put] = other.qualifyContracts(option(day, "P", strike - 50))
            resting = other.placeOrder(put, ibi.LimitOrder("BUY", 1, 0.05, tif="DAY"))
            eventually(other, lambda: resting.orderStatus.status == "Submitted", "a resting order")
            dog = watchdog(SETTINGS, tmp_path, live.host, live.port, "U1234567")
            try:
                checks = ib_loop.run_until_complete(dog.preflight())
                assert [c.name for c in checks if not c.passed] == ["paper_account"]
                assert "U1234567, not a paper account" in checks[-1].reason
                assert not dog.ib.isConnected()
                with pytest.raises(GuardFailed):
                    ib_loop.run_until_complete(dog.flatten_all())
            finally:
                dog.close()
            other.sleep(0.2)
            assert [(o["client_id"], o["status"]) for o in live.orders()] == [(NODE, "Submitted")]  # not cancelled
            assert not (tmp_path / "paper.sqlite").exists()  # no kill switch set either
        finally:
            other.disconnect()


def test_a_working_order_that_fills_while_the_flatten_cancels_it_is_counted_and_closed(sim, ib_loop, tmp_path):
    """The 10148 race on the node's resting entry: the global cancel loses to a fill, the leg is then closed too."""
    with node_with_fly(sim.host, sim.port, tmp_path, NODE) as node:
        day, strike = at_the_money(node.ib)
        [put] = node.ib.qualifyContracts(option(day, "P", strike - 50))
        resting = node.ib.placeOrder(put, ibi.LimitOrder("BUY", 2, 0.05, tif="DAY"))
        eventually(node.ib, lambda: resting.orderStatus.status == "Submitted", "the resting entry")
        sim.faults.fill_on_cancel = 1
        dog = watchdog(SETTINGS, tmp_path, sim.host, sim.port, sim.account)
        try:
            report = ib_loop.run_until_complete(dog.flatten_all())
        finally:
            dog.close()
        eventually(node.ib, lambda: resting.orderStatus.status == "Filled", "the node hearing of its fill")
    assert report.working_orders == 1 and report.filled_while_cancelling == {put.localSymbol: 2}
    assert report.flat and sim.positions() == {}
    assert ("SLD", put.localSymbol) in watchdog_executions(sim)


def test_the_broker_is_reconciled_against_the_nodes_beat_by_instrument_id(sim, ib_loop, tmp_path):
    """The node beats Nautilus ids (``<localSymbol>.CBOE``), the broker answers IB local symbols: one leg
    each. A leg the node does not know of is alerted once it persists; the watchdog does not flatten for it."""
    with node_with_fly(sim.host, sim.port, tmp_path, NODE) as node:
        fly = node.positions()
        call = node.legs[0].localSymbol  # the short call
        node_view = {f"{leg}.CBOE": qty for leg, qty in fly.items() if leg != call}
        node.heartbeat = start_heartbeat(ib_loop, node.heartbeat_path, lambda: node_view, lambda: 0, 0.05)
        dog = watchdog(SETTINGS, tmp_path, sim.host, sim.port, sim.account)
        try:
            ib_loop.run_until_complete(dog.connect())
            node.ib.sleep(0.1)
            assert ib_loop.run_until_complete(dog.reconcile()) == []  # seen once
            node.ib.sleep(2 * SETTINGS.ib.heartbeat_seconds)
            [mismatch] = ib_loop.run_until_complete(dog.reconcile())
            node_view.update({f"{call}.CBOE": fly[call]})
            node.ib.sleep(0.1)
            assert ib_loop.run_until_complete(dog.reconcile()) == []  # the node caught up
        finally:
            dog.close()
    assert (mismatch.leg, mismatch.broker, mismatch.node) == (call.replace(" ", ""), -1, 0)
    assert sim.positions() == fly and dog.reports == []
