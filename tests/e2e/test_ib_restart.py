"""Issue 12: "a node SIGKILLed and restarted" on IB, as issue 10's Alpaca node (``test_live_restart.py``).

Each piece its own process on loopback: the TWS simulator alone (``odte sim ib``), so the broker outlives the
node; the IB paper node driving it (``odte live --broker ib-sim --sim-url``, Nautilus's own IB client on the
simulator's TWS port); a SIGKILL while the node holds a fly; the same node started again on the same run
folder (``--resume``). The broker is read through the simulator's control API (its orders, positions and
executions, which no client id hides), the durable state through the risk store, the run through its files.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import httpx
import pandas as pd
import pytest

from odte_nautilus.live.ib_simulated import SIM_IB_SEED, SIM_UNDERLYING
from odte_nautilus.live.sim_broker import sample_catalog
from odte_nautilus.risk.session import ny_ns
from odte_nautilus.risk.store import RiskStore
from odte_nautilus.risk.time_units import MINUTE_NS
from tests.e2e.test_live_restart import (
    Node,
    assert_the_kill_switch_held,
    booked_open_legs,
    finish,
    journal,
    kill,
    no_node_left_running,  # noqa: F401 (autouse: a failed test leaves no node running)
    node,
    open_packages,
    serving,
    state,
    until,
)
from tests.e2e.test_live_sim import workdir as workdir  # the repository's configs in a scratch folder


@pytest.fixture(scope="module")
def catalog(workdir: Path) -> Path:
    """Where ``odte sim ib`` finds the session ``odte live --broker ib-sim`` replays, built once."""
    root = workdir / "catalog" / "ib-sim"
    sample_catalog(root, SIM_UNDERLYING, SIM_IB_SEED)
    return root


@dataclass(frozen=True)
class RemoteTws:
    """``odte sim ib`` in its own process: its control URL and what it answers there."""

    url: str

    def get(self, route: str):
        return httpx.get(f"{self.url}/sim/v1/{route}", timeout=30, trust_env=False).json()

    def clock_ns(self) -> int:
        return int(self.get("clock")["now_ns"])

    def day(self) -> date:
        return date.fromisoformat(self.get("clock")["trading_date"])

    def positions(self) -> dict[str, int]:
        return {leg: qty for leg, qty in self.get("positions").items() if qty}

    def orders(self) -> list[dict]:
        return self.get("orders")


@contextmanager
def tws_simulator(workdir: Path, catalog: Path) -> Iterator[RemoteTws]:
    """``odte sim ib`` on free ports, in its own process (``serving``)."""

    def control(said: str) -> str | None:
        found = re.search(r"control API (http://127\.0\.0\.1:\d+)/sim/v1", said)
        return found[1] if found else None

    with serving(workdir, ["sim", "ib", "--catalog", str(catalog)], control) as url:
        yield RemoteTws(url)


def ib_node(workdir: Path, url: str, out: Path, *extra: str) -> Node:
    return node(workdir, url, out, *extra, broker="ib-sim")


def is_entry(order: dict) -> bool:
    """A package's entry: one BAG of its legs (the node closes reconciled legs one by one)."""
    return len(order["legs"]) > 1


def is_fly(order: dict) -> bool:
    return is_entry(order) and len(order["legs"]) == 4 and order["status"] == "Filled"


def leg_set(order: dict) -> frozenset[str]:
    return frozenset(leg["local_symbol"] for leg in order["legs"])


def test_an_ib_node_killed_holding_a_fly_restarts_flattens_it_and_sends_no_duplicate(workdir, catalog):
    out = workdir / "ib-kill"
    with tws_simulator(workdir, catalog) as tws:
        day = tws.day()
        first = ib_node(workdir, tws.url, out, "--seconds-per-minute", "0.05")
        # The kill comes once the node has booked the fly the broker holds (its four legs open in fills.csv).
        until(
            lambda: any(leg_set(o) <= set(booked_open_legs(out)) for o in tws.orders() if is_fly(o)),
            "a fly booked",
            timeout=60,
            every=0.2,
        )
        kill(first)
        killed_at = tws.clock_ns()
        before = tws.orders()
        held = tws.positions()
        before_state = state(out, day)
        fills_before = pd.read_csv(out / "fills.csv", keep_default_na=False)

        finish(ib_node(workdir, tws.url, out, "--seconds-per-minute", "0", "--resume"))
        after = tws.orders()
        flat = tws.positions()

    [fly] = [o for o in before if is_fly(o)]
    assert leg_set(fly) <= set(held) and killed_at < ny_ns(day, 15, 45)
    orphans = open_packages(fills_before)
    assert any(package.startswith("ThetaHarvester") for _, package in orphans), "the fly is in fills.csv"
    assert not before_state.day_locked and not before_state.kill_switch
    assert before_state.trades_today == sum(map(is_entry, before)) >= 1, "each entry counted once"

    # No duplicate: the orders before the kill stand; the restart entered nothing (one fly ever reached the
    # broker) and closed each leg it found once, shorts bought back before longs sold.
    new = after[len(before) :]
    assert [o["order_id"] for o in after[: len(before)]] == [o["order_id"] for o in before]
    assert [o for o in after if is_entry(o) and leg_set(o) == leg_set(fly)] == [fly]
    assert not any(map(is_entry, new)), "an entry was sent after the restart"
    closes = [(o["action"], o["legs"][0]["local_symbol"]) for o in new]
    assert sorted(leg for _, leg in closes) == sorted(held), "each leg held closed once"
    assert all(o["status"] == "Filled" for o in new)
    assert {action for action, leg in closes if held[leg] < 0} == {"BUY"}
    assert {action for action, leg in closes if held[leg] > 0} == {"SELL"}
    assert flat == {}, "the run ends flat at the broker"

    # The durable state carried the day across the kill: its trades, no kill switch, the EOD lock; the
    # strategies whose packages outlived their ledgers are disabled.
    end = state(out, day)
    assert end.trades_today == before_state.trades_today == sum(map(is_entry, after))
    assert not end.kill_switch and end.day_locked and "EOD" in end.lock_reason
    assert {strategy for strategy, _ in orphans} <= end.disabled_strategies

    # The restart is alerted: every leg no ledger claims, and its package.
    unclaimed = [j for j in journal(out) if j["kind"] == "alert" and j.get("about") == "unclaimed_position"]
    assert len(unclaimed) == len(held) and {p for j in unclaimed for p in j["packages"]} == {p for _, p in orphans}

    # The run's files hold the whole day, before and after the kill, and its audit passes.
    fills = pd.read_csv(out / "fills.csv", keep_default_na=False)
    assert set(fills_before.astype(str).itertuples(index=False)) <= set(fills.astype(str).itertuples(index=False))
    assert open_packages(fills) == set()
    positions = pd.read_csv(out / "positions.csv", keep_default_na=False)
    recovered = positions[positions["reviews"] == "RECOVERED_AFTER_RESTART"]
    assert set(zip(recovered["strategy_id"], recovered["package_id"], strict=True)) == orphans
    summary = json.loads((out / "summary.json").read_text())
    assert summary["audit"]["ok"] and summary["audit"]["violations"] == []


def test_a_kill_switch_set_before_the_kill_still_blocks_the_restarted_ib_nodes_entries(workdir, catalog):
    out = workdir / "ib-switch"
    with tws_simulator(workdir, catalog) as tws:
        day = tws.day()
        first = ib_node(workdir, tws.url, out, "--seconds-per-minute", "0.05")
        until(lambda: tws.clock_ns() >= ny_ns(day, 9, 40), "the session under way", timeout=60)
        with RiskStore(out / "state" / "paper.sqlite") as store:
            store.set_kill_switch(True, by="operator", reason="emergency stop before the crash")
        kill(first)
        killed_at = tws.clock_ns()
        finish(ib_node(workdir, tws.url, out, "--seconds-per-minute", "0", "--resume"))
        sent = tws.orders()

    assert killed_at < ny_ns(day, 10, 0) - MINUTE_NS, "killed before any entry window opened"
    assert_the_kill_switch_held(out, day, killed_at, sent)
