"""Issue 10, operations: "A node killed with SIGKILL mid-position and restarted reconciles from the broker,
keeps the day lock, the kill switch and the trade count, and sends no duplicate order."

Everything as a user runs it, each piece its own process on loopback: the Alpaca simulator alone (``odte sim
alpaca``), so the broker outlives the node; the paper node driving it (``odte live --broker alpaca-sim
--sim-url``); a SIGKILL; the same node started again on the same run folder (``--resume``). The broker is
read through the real alpaca-py client, the durable state through the risk store, the run through its files.
"""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import QueryOrderStatus
from alpaca.trading.requests import GetOrdersRequest

from odte_nautilus.live.sim_broker import SIM_KEY, SIM_SECRET
from odte_nautilus.risk.session import ny_ns
from odte_nautilus.risk.store import RiskStore
from odte_nautilus.risk.time_units import MINUTE_NS

REPO = Path(__file__).resolve().parents[2]
ODTE = str(Path(sys.executable).parent / "odte")
SESSION = date(2024, 7, 22)  # the sample session the simulator replays
NODE_TIMEOUT_S = 150
HEADERS = {"APCA-API-KEY-ID": SIM_KEY, "APCA-API-SECRET-KEY": SIM_SECRET}


WATCH_EVERY_S = 1800  # see ``workdir``


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    """A scratch folder with the repository's configs, the broker watch every 30 replayed minutes.

    At full speed a replayed minute takes a few wall milliseconds, so the watch's 5-minute pass (two
    requests) would spend the broker's budget, which is counted per wall minute, in seconds, and the
    guard's closes at the flatten would wait a wall minute for it while the session runs on.
    """
    root = tmp_path_factory.mktemp("restart")
    shutil.copytree(REPO / "configs", root / "configs")
    paper = root / "configs" / "paper.yaml"
    text, count = re.subn(
        r"reconcile_every_seconds: *\d+", f"reconcile_every_seconds: {WATCH_EVERY_S}", paper.read_text()
    )
    assert count == 1
    paper.write_text(text)
    return root


def environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ALPACA_", "BROKER_MODE"))}
    return {**env, "COLUMNS": "160"}


@contextmanager
def simulator(workdir: Path) -> Iterator[str]:
    """``odte sim alpaca`` in its own process; yields its URL; stopped with SIGTERM as a service would be."""
    process = subprocess.Popen(
        [ODTE, "sim", "alpaca", "--port", "0"],
        cwd=workdir,
        env=environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    assert process.stdout is not None
    stdout = process.stdout

    def read() -> None:  # in a thread: the simulator's output is read while the test waits on its queue
        for line in stdout:
            lines.put(line)

    threading.Thread(target=read, daemon=True).start()
    try:
        seen: list[str] = []
        while not (seen and seen[-1].startswith("alpaca-sim http://127.0.0.1:")):
            seen.append(lines.get(timeout=120))  # the sample catalog is built first, its warnings printed
        yield seen[-1].split()[1]
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    assert process.returncode == 0


@dataclass
class Node:
    process: subprocess.Popen
    log: Path


def node(workdir: Path, url: str, out: Path, *extra: str) -> Node:
    args = ["live", "--broker", "alpaca-sim", "--config", "configs/paper.yaml", "--sim-url", url, "--out", str(out)]
    args += ["--control-port", "0", *extra]  # any free port: sessions run side by side in the suite
    log = workdir / f"{out.name}-{len(list(workdir.glob(f'{out.name}-*.log')))}.log"
    with log.open("w") as sink:
        process = subprocess.Popen([ODTE, *args], cwd=workdir, env=environment(), stdout=sink, stderr=subprocess.STDOUT)
    return Node(process, log)


def finish(started: Node) -> None:
    started.process.wait(timeout=NODE_TIMEOUT_S)
    assert started.process.returncode == 0, started.log.read_text()[-4000:]


def kill(started: Node) -> None:
    started.process.send_signal(signal.SIGKILL)
    started.process.wait(timeout=30)
    assert started.process.returncode == -signal.SIGKILL


def until(check: Callable[[], Any], what: str, timeout: float = 90.0, every: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def broker(url: str) -> TradingClient:
    return TradingClient(SIM_KEY, SIM_SECRET, raw_data=True, url_override=url)


def orders(url: str) -> list[dict]:
    request = GetOrdersRequest(status=QueryOrderStatus.ALL, limit=500, nested=True)
    return sorted(broker(url).get_orders(request), key=lambda o: o["created_at"])  # type: ignore[arg-type]


def clock_ns(url: str) -> int:
    import httpx

    return int(httpx.get(f"{url}/sim/v1/clock", headers=HEADERS).json()["now_ns"])


def journal(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "decisions.jsonl").read_text().splitlines()]


def state(out: Path):
    with RiskStore(out / "state" / "paper.sqlite") as store:
        return store.load_day(SESSION)


def test_a_node_killed_mid_position_restarts_flattens_it_and_sends_no_duplicate(workdir):
    out = workdir / "run-kill"
    with simulator(workdir) as url:
        first = node(workdir, url, out, "--seconds-per-minute", "0.05")
        # Alpaca's API counts against the account's budget of 200 a minute, which the node shares: poll gently.
        held = until(lambda: broker(url).get_all_positions(), "the iron fly held at the broker", every=0.5)
        kill(first)
        killed_at = clock_ns(url)
        before = orders(url)
        before_state = state(out)
        fills_before = pd.read_csv(out / "fills.csv", keep_default_na=False)

        second = node(workdir, url, out, "--seconds-per-minute", "0", "--resume")
        finish(second)
        after = orders(url)
        at_close = broker(url).get_all_positions()

    # The kill came mid-position, and every row recorded by then was on disk: the entry's four legs.
    assert len(held) == 4 and ny_ns(SESSION, 10, 0) < killed_at < ny_ns(SESSION, 15, 10)
    assert [o["order_class"] for o in before] == ["mleg"] and before[0]["status"] == "filled"
    assert len(fills_before) == 4 and set(fills_before["role"]) == {"entry"}
    assert before_state.trades_today == 1 and not before_state.day_locked and not before_state.kill_switch

    # No duplicate: the restarted node sent no entry; its only orders closed the reconciled legs at the flatten.
    new = after[len(before) :]
    assert [o["id"] for o in after[: len(before)]] == [o["id"] for o in before]
    assert [o["order_class"] for o in after].count("mleg") == 1, "one entry order ever reached the broker"
    assert len(new) == 4 and all(o["order_class"] == "simple" and o["status"] == "filled" for o in new)
    assert {o["position_intent"] for o in new} <= {"buy_to_close", "sell_to_close"}
    flatten = ny_ns(SESSION, 15, 10)
    for o in new:
        filled = pd.Timestamp(o["filled_at"]).value
        assert flatten <= filled <= flatten + 5 * MINUTE_NS, f"{o['symbol']} closed at the flatten"
    assert at_close == []

    # The durable state carried the day across the kill: one trade, no kill switch, and the EOD lock.
    end = state(out)
    assert end.trades_today == 1 and not end.kill_switch
    assert end.day_locked and "EOD" in end.lock_reason
    assert "ThetaHarvester-001" in end.disabled_strategies, "its package outlived its ledger: a person reviews it"

    # The restart is alerted: each reconciled leg no ledger claims, and the package it belongs to.
    lines = journal(out)
    unclaimed = [j for j in lines if j["kind"] == "alert" and j.get("about") == "unclaimed_position"]
    assert len(unclaimed) == 4 and all(j["strategy"] == "EXTERNAL" for j in unclaimed)
    package = unclaimed[0]["packages"][0]
    assert all(j["packages"] == [package] for j in unclaimed)
    entries = [j for j in lines if j["kind"] == "decision" and j["intent"]["kind"] == "entry"]
    assert not [j for j in entries if j["decision"]["allowed"] and j["ts_ns"] > killed_at]

    # The run's files hold the whole day, before and after the kill, and its audit passes.
    fills = pd.read_csv(out / "fills.csv", keep_default_na=False)
    assert len(fills) == 8 and (fills["package_id"] == package).all()
    assert list(fills["role"]) == ["entry"] * 4 + ["exit"] * 4 and set(fills["exit_kind"][4:]) == {"eod_flatten"}
    net = (fills["quantity"] * fills["side"].map({"BUY": 1, "SELL": -1})).groupby(fills["instrument_id"]).sum()
    assert (net == 0).all()
    positions = pd.read_csv(out / "positions.csv", keep_default_na=False)
    assert list(positions["package_id"]) == [package] and positions["reviews"][0] == "RECOVERED_AFTER_RESTART"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["audit"]["ok"] and summary["audit"]["violations"] == []


def test_a_kill_switch_engaged_before_the_kill_still_blocks_entries_after_the_restart(workdir):
    out = workdir / "run-switch"
    with simulator(workdir) as url:
        first = node(workdir, url, out, "--seconds-per-minute", "0.05")
        until(lambda: clock_ns(url) >= ny_ns(SESSION, 9, 40), "the session under way")
        with RiskStore(out / "state" / "paper.sqlite") as store:
            store.set_kill_switch(True, by="operator", reason="emergency stop before the crash")
        kill(first)
        killed_at = clock_ns(url)
        second = node(workdir, url, out, "--seconds-per-minute", "0", "--resume")
        finish(second)
        sent = orders(url)

    assert killed_at < ny_ns(SESSION, 10, 0), "killed before any entry window opened"
    end = state(out)
    assert end.kill_switch and end.trades_today == 0 and end.day_locked
    assert sent == [], "no order reached the broker"
    decisions = [j for j in journal(out) if j["kind"] == "decision" and j["ts_ns"] > killed_at]
    assert decisions and {j["decision"]["code"] for j in decisions} == {"KILL_SWITCH"}, "every entry refused"
    assert json.loads((out / "summary.json").read_text())["audit"]["ok"]
