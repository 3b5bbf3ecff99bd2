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
    """``odte sim alpaca`` in its own process; yields its URL."""

    def url(said: str) -> str | None:
        found = re.search(r"^alpaca-sim (http://127\.0\.0\.1:\d+)", said, re.MULTILINE)
        return found[1] if found else None

    with serving(workdir, ["sim", "alpaca", "--port", "0"], url) as found:
        yield found


@contextmanager
def serving(workdir: Path, args: list[str], ready: Callable[[str], str | None]) -> Iterator[str]:
    """``odte <args>`` in its own process until ``ready`` finds what to yield in its output; then stopped with
    SIGTERM as a service would be (killed if it hangs), and it must have exited cleanly."""
    process = subprocess.Popen(
        [ODTE, *args], cwd=workdir, env=environment(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    lines: queue.Queue[str] = queue.Queue()
    assert process.stdout is not None
    stdout = process.stdout

    def read() -> None:  # in a thread: the simulator's output is read while the test waits on its queue
        for line in stdout:
            lines.put(line)

    threading.Thread(target=read, daemon=True).start()
    try:
        said = ""
        while (found := ready(said)) is None:
            said += lines.get(timeout=120)  # a sample catalog is built first, its warnings printed
        yield found
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=30)
    assert process.returncode == 0


@dataclass
class Node:
    process: subprocess.Popen
    log: Path


_STARTED: list[subprocess.Popen] = []


@pytest.fixture(autouse=True)
def no_node_left_running() -> Iterator[None]:
    """A test that fails half-way must not leave its node running (it would retry its broker forever)."""
    yield
    while _STARTED:
        process = _STARTED.pop()
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)


def node(workdir: Path, url: str, out: Path, *extra: str, broker: str = "alpaca-sim") -> Node:
    """``odte live --broker <broker> --sim-url <url>`` into ``out``, its output in a log of its own."""
    args = ["live", "--broker", broker, "--config", "configs/paper.yaml", "--sim-url", url, "--out", str(out)]
    args += ["--control-port", "0", *extra]  # any free port: sessions run side by side in the suite
    log = workdir / f"{out.name}-{len(list(workdir.glob(f'{out.name}-*.log')))}.log"
    with log.open("w") as sink:
        process = subprocess.Popen([ODTE, *args], cwd=workdir, env=environment(), stdout=sink, stderr=subprocess.STDOUT)
    _STARTED.append(process)
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


def sim_clock(url: str) -> dict:
    """The simulator's own control API: where its session stands (not Alpaca's API: no budget spent)."""
    import httpx

    return httpx.get(f"{url}/sim/v1/clock", headers=HEADERS).json()


def clock_ns(url: str) -> int:
    return int(sim_clock(url)["now_ns"])


def session_day(url: str) -> date:
    return date.fromisoformat(sim_clock(url)["trading_date"])


def journal(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "decisions.jsonl").read_text().splitlines()]


def state(out: Path, day: date):
    with RiskStore(out / "state" / "paper.sqlite") as store:
        return store.load_day(day)


def symbols(positions: Any) -> list[str]:
    return sorted(position["symbol"] for position in positions)


def is_entry(order: dict) -> bool:
    """An mleg order whose legs open positions (an exit's legs close them)."""
    legs = order.get("legs") or []
    return order["order_class"] == "mleg" and any(str(leg["position_intent"]).endswith("_to_open") for leg in legs)


def tag(order: dict) -> str:
    """The strategy's order id tag in a client order id (O-<time>-<trader>-<strategy tag>-<n>)."""
    return order["client_order_id"].split("-")[-2]


def open_packages(fills: pd.DataFrame) -> set[tuple[str, str]]:
    signed = fills["quantity"] * fills["side"].map({"BUY": 1, "SELL": -1})
    net = signed.groupby([fills["strategy_id"], fills["package_id"], fills["instrument_id"]]).sum()
    return {(strategy, package) for (strategy, package, _), qty in net.items() if qty}


def booked_open_legs(out: Path) -> dict[str, int]:
    """The legs ``fills.csv`` says are open, by symbol (the instrument id without its venue), net signed
    quantity. Read while the node appends to it: a row being written is left out."""
    path = out / "fills.csv"
    if not path.exists():
        return {}
    fills = pd.read_csv(path, keep_default_na=False, dtype=str).replace("", None).dropna(subset=["side", "quantity"])
    signed = fills["quantity"].astype(int) * fills["side"].map({"BUY": 1, "SELL": -1})
    net = signed.groupby(fills["instrument_id"].str.rsplit(".", n=1).str[0]).sum()
    return {symbol: int(qty) for symbol, qty in net.items() if qty}


def held_as_booked(url: str, out: Path) -> list[dict] | None:
    """The broker's positions once the node's ``fills.csv`` has booked exactly those legs, else None."""
    booked = booked_open_legs(out)
    if not booked:
        return None
    held = broker(url).get_all_positions()
    occ = sorted(symbol.replace(" ", "") for symbol in booked)  # Alpaca's OCC symbols are unpadded
    return held if held and symbols(held) == occ else None  # type: ignore[return-value]


def test_a_node_killed_mid_position_restarts_flattens_it_and_sends_no_duplicate(workdir):
    out = workdir / "run-kill"
    with simulator(workdir) as url:
        day = session_day(url)
        first = node(workdir, url, out, "--seconds-per-minute", "0.05")
        # The kill comes mid-position, once the node has booked what the broker holds (a kill between the
        # broker's fill and the node's booking is a different restart). Alpaca's API counts against the
        # account's budget of 200 a minute, which the node shares: the broker is asked only once fills.csv
        # shows open legs, and gently.
        until(lambda: held_as_booked(url, out), "a package held at the broker and booked", every=0.5)
        kill(first)
        killed_at = clock_ns(url)
        before = orders(url)
        before_state = state(out, day)
        fills_before = pd.read_csv(out / "fills.csv", keep_default_na=False)
        held = broker(url).get_all_positions()  # what the broker holds when the node comes back

        second = node(workdir, url, out, "--seconds-per-minute", "0", "--resume")
        finish(second)
        after = orders(url)

    # The kill came mid-position, and every fill recorded by then was on disk.
    assert held and ny_ns(day, 10, 0) <= killed_at < ny_ns(day, 15, 10)  # an entry fills at 10:00 itself
    orphans = open_packages(fills_before)
    assert orphans, "the packages the broker holds are in fills.csv, as opened before the kill"
    owners = {strategy for strategy, _ in orphans}
    assert not before_state.day_locked and not before_state.kill_switch
    assert before_state.trades_today == sum(map(is_entry, before)) >= 1, "each entry counted once"

    # No duplicate: what happened before the kill stands; no strategy holding a package entered again; the
    # restart's only orders of its own closed the reconciled legs, each once, at the flatten.
    new = after[len(before) :]
    assert [o["id"] for o in after[: len(before)]] == [o["id"] for o in before]
    owner_tags = {strategy.rsplit("-", 1)[1] for strategy in owners}
    assert not [o for o in new if is_entry(o) and tag(o) in owner_tags], "a package held was entered again"
    guard = [o for o in new if "GUARD" in o["client_order_id"]]
    assert sorted(o["symbol"] for o in guard) == symbols(held)
    assert all(o["status"] == "filled" and o["position_intent"].endswith("_to_close") for o in guard)
    flatten = ny_ns(day, 15, 10)
    assert all(flatten <= pd.Timestamp(o["filled_at"]).value <= flatten + 5 * MINUTE_NS for o in guard)

    # The durable state carried the day across the kill: its trades (each entry at the broker counted
    # once), no kill switch, and the EOD lock; the strategy whose package outlived its ledger is disabled.
    end = state(out, day)
    assert end.trades_today == sum(map(is_entry, after)) and not end.kill_switch
    assert end.day_locked and "EOD" in end.lock_reason
    assert owners <= end.disabled_strategies, "its package outlived its ledger: a person reviews it"

    # The journal kept the decisions made before the kill (each entry sent, as the gate allowed it).
    lines = journal(out)
    sent = [j for j in lines if j["kind"] == "decision" and j["source"] == "gate" and j["ts_ns"] <= killed_at]
    assert (
        len([j for j in sent if j["intent"]["kind"] == "entry" and j["decision"]["allowed"]])
        == before_state.trades_today
    )

    # The restart is alerted: each reconciled leg no ledger claims, and the package it belongs to.
    unclaimed = [j for j in lines if j["kind"] == "alert" and j.get("about") == "unclaimed_position"]
    assert len(unclaimed) == len(held)
    assert all(j["strategy"] == "EXTERNAL" and j["packages"] for j in unclaimed)
    assert {p for j in unclaimed for p in j["packages"]} == {package for _, package in orphans}

    # The run's files hold the whole day, before and after the kill, and its audit passes.
    fills = pd.read_csv(out / "fills.csv", keep_default_na=False)
    rows = set(fills.astype(str).itertuples(index=False))
    assert set(fills_before.astype(str).itertuples(index=False)) <= rows, "the rows before the kill are kept"
    assert open_packages(fills) == set()
    exits = fills[fills["package_id"].isin({package for _, package in orphans}) & (fills["role"] == "exit")]
    assert len(exits) == len(held) and set(exits["exit_kind"]) == {"eod_flatten"}
    positions = pd.read_csv(out / "positions.csv", keep_default_na=False)
    recovered = positions[positions["reviews"] == "RECOVERED_AFTER_RESTART"]
    assert set(zip(recovered["strategy_id"], recovered["package_id"], strict=True)) == orphans
    summary = json.loads((out / "summary.json").read_text())
    assert summary["audit"]["ok"] and summary["audit"]["violations"] == []


def test_a_kill_switch_engaged_before_the_kill_still_blocks_entries_after_the_restart(workdir):
    out = workdir / "run-switch"
    with simulator(workdir) as url:
        day = session_day(url)
        first = node(workdir, url, out, "--seconds-per-minute", "0.05")
        until(lambda: clock_ns(url) >= ny_ns(day, 9, 40), "the session under way")
        with RiskStore(out / "state" / "paper.sqlite") as store:
            store.set_kill_switch(True, by="operator", reason="emergency stop before the crash")
        kill(first)
        killed_at = clock_ns(url)
        second = node(workdir, url, out, "--seconds-per-minute", "0", "--resume")
        finish(second)
        sent = orders(url)

    assert killed_at < ny_ns(day, 10, 0), "killed before any entry window opened"
    assert_the_kill_switch_held(out, day, killed_at, sent)


def assert_the_kill_switch_held(out: Path, day: date, killed_at: int, sent: list) -> None:
    """After the restart: the switch still set, nothing traded or sent, every entry refused for it, the day
    locked at the flatten and the audit passed."""
    end = state(out, day)
    assert end.kill_switch and end.trades_today == 0 and end.day_locked
    assert sent == [], "no order reached the broker"
    decisions = [j for j in journal(out) if j["kind"] == "decision" and j["ts_ns"] > killed_at]
    assert decisions and {j["decision"]["code"] for j in decisions} == {"KILL_SWITCH"}, "every entry refused"
    assert json.loads((out / "summary.json").read_text())["audit"]["ok"]


def test_a_node_down_across_the_flatten_flattens_at_once_when_it_comes_back(workdir):
    """A real broker's day goes on while the node is down: the restart past 15:10 owes the flatten now."""
    import httpx

    out = workdir / "run-late"
    with simulator(workdir) as url:
        day = session_day(url)
        first = node(workdir, url, out, "--seconds-per-minute", "0.05")
        until(lambda: broker(url).get_all_positions(), "a package held at the broker", every=0.5)
        kill(first)
        back = ny_ns(day, 15, 30)
        httpx.post(f"{url}/sim/v1/advance", json={"to_ns": back}, headers=HEADERS).raise_for_status()
        held = broker(url).get_all_positions()
        assert held, "nobody flattened it while the node was down"
        finish(node(workdir, url, out, "--seconds-per-minute", "0", "--resume"))
        closes = [o for o in orders(url) if "GUARD" in o["client_order_id"]]

    assert sorted(o["symbol"] for o in closes) == symbols(held)
    assert all(back <= pd.Timestamp(o["filled_at"]).value <= back + 3 * MINUTE_NS for o in closes)
    assert state(out, day).day_locked
    assert json.loads((out / "summary.json").read_text())["audit"]["ok"]
