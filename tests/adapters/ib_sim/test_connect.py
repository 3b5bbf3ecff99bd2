"""Real ib_async connects to the simulator as to a paper gateway: handshake, accounts, start-up syncs."""

import time

import ib_async as ibi
import pytest

from odte_nautilus.risk.time_units import NS_PER_SECOND
from odte_nautilus.sim.ib import TwsSimulator
from tests.adapters.ib_sim.kit import connected, wait_disconnected


def test_ib_async_connects_at_server_version_178_with_every_startup_sync_answered(sim):
    started = time.monotonic()
    with connected(sim) as ib:  # raiseSyncErrors: any start-up request left unanswered fails here
        assert time.monotonic() - started < 2.0, "a start-up request waited for its timeout"
        assert ib.client.serverVersion() == 178
        assert ib.managedAccounts() == ["DU1234567"]
        assert ib.positions() == [] and ib.openTrades() == [] and ib.fills() == []
        assert sim.clients() == [1]
        assert ib.reqCurrentTime().timestamp() == sim.now_ns // NS_PER_SECOND  # the replayed time, not the wall's


def test_the_managed_accounts_are_configurable_to_look_live(catalog):
    with TwsSimulator(catalog, accounts=("U7654321",)) as live_looking, connected(live_looking) as ib:
        assert ib.managedAccounts() == ["U7654321"]
        values = {v.tag: v.value for v in ib.accountValues() if v.currency == "USD"}
        assert float(values["NetLiquidation"]) == 1_000_000.0


def test_a_second_connection_with_a_client_id_in_use_is_refused(sim):
    with connected(sim, client_id=3):
        other = ibi.IB()
        with pytest.raises((ConnectionError, TimeoutError)):
            other.connect(sim.host, sim.port, clientId=3, timeout=1, raiseSyncErrors=True)
        assert sim.clients() == [3]


def test_dropped_clients_reconnect_to_a_simulator_that_still_listens(sim):
    with connected(sim, client_id=4) as ib:
        sim.disconnect_clients()
        wait_disconnected(ib)
        assert sim.clients() == []
    with connected(sim, client_id=4):
        assert sim.clients() == [4]
