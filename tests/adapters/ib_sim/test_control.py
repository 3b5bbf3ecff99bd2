"""The control API (``/sim/v1``, loopback only) through which a node or a test in another process drives and
inspects the simulator, and ``odte sim ib``, which runs it as its own process."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import ib_async as ibi

from odte_nautilus.live.remote_session import SimClockState
from odte_nautilus.risk.time_units import MINUTE_NS
from odte_nautilus.sim.ib import TwsSimulator
from tests.adapters.ib_sim.kit import atm_strike, connected, eventually, option, wait_disconnected


def test_the_clock_has_the_shape_a_remote_session_reads_and_advance_replays(sim):
    state = SimClockState.from_wire(httpx.get(f"{sim.control_url}/sim/v1/clock").json())
    assert (state.now_ns, state.open_ns, state.close_ns) == (sim.now_ns, sim.session_open_ns, sim.session_close_ns)
    assert state.manual and not state.finished and state.trading_date == sim.trading_date
    answer = httpx.post(f"{sim.control_url}/sim/v1/advance", json={"to_ns": sim.now_ns + 2 * MINUTE_NS})
    assert answer.json()["now_ns"] == sim.now_ns == sim.session_open_ns + 3 * MINUTE_NS
    assert httpx.post(f"{sim.control_url}/sim/v1/advance", json={"to_ns": "soon"}).status_code == 400
    assert sim.now_ns == sim.session_open_ns + 3 * MINUTE_NS


def test_faults_orders_positions_and_disconnects_through_the_api(sim):
    with connected(sim) as ib:
        answer = httpx.patch(f"{sim.control_url}/sim/v1/faults", json={"reject_next": 1, "pacing": {"reqMktData": 2}})
        assert answer.status_code == 200 and sim.faults.reject_next == 1 and sim.faults.pacing == {"reqMktData": 2}
        assert httpx.patch(f"{sim.control_url}/sim/v1/faults", json={"no_such_fault": 1}).status_code == 400
        sim.faults.reject_next = 0
        put = ib.qualifyContracts(option(sim, "P", atm_strike(sim)))[0]
        trade = ib.placeOrder(put, ibi.MarketOrder("SELL", 1))
        eventually(ib, lambda: trade.orderStatus.status == "Filled", "the fill")
        assert httpx.get(f"{sim.control_url}/sim/v1/positions").json() == {put.localSymbol: -1}
        [order] = httpx.get(f"{sim.control_url}/sim/v1/orders").json()
        assert (order["client_id"], order["status"], order["action"], order["filled"]) == (1, "Filled", "SELL", 1)
        [execution] = httpx.get(f"{sim.control_url}/sim/v1/executions").json()
        assert [execution[k] for k in ("side", "local_symbol", "commission")] == ["SLD", put.localSymbol, "0.65"]
        assert httpx.post(f"{sim.control_url}/sim/v1/disconnect").json() == {"disconnected": True}
        wait_disconnected(ib)


def test_a_compressed_clock_runs_the_session_by_itself_and_cannot_be_advanced(catalog):
    with TwsSimulator(catalog, speed=60 * 60 * 8) as fast:  # the session in about a wall second
        assert httpx.post(f"{fast.control_url}/sim/v1/advance", json={"to_ns": fast.now_ns}).status_code == 422
        deadline = fast.session_close_ns
        with connected(fast) as ib:
            eventually(ib, lambda: fast.finished, "the session to end", timeout=20)
        assert fast.now_ns == deadline


def test_odte_sim_ib_runs_the_simulator_as_its_own_process(tmp_path: Path):
    root = tmp_path / "ib-sim"  # it builds its sample session here
    odte = Path(sys.executable).parent / "odte"
    command = [str(odte), "sim", "ib", "--catalog", str(root), "--account", "DU7"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env={**os.environ, "COLUMNS": "200"})
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        second = process.stdout.readline()
        assert first.startswith("ib-sim 127.0.0.1:") and first.rstrip().endswith("account DU7"), first
        port = int(first.split()[1].split(":")[1])
        control = second.split("control API ")[1].split("/sim/v1")[0]
        clock = httpx.get(f"{control}/sim/v1/clock").json()
        assert clock["port"] == port and clock["accounts"] == ["DU7"]
        ib = ibi.IB()
        ib.connect("127.0.0.1", port, clientId=9, timeout=5, raiseSyncErrors=True)
        assert ib.managedAccounts() == ["DU7"]
        ib.disconnect()
    finally:
        process.send_signal(signal.SIGTERM)
        out, _ = process.communicate(timeout=20)
    assert process.returncode == 0 and "ib-sim stopped" in out
