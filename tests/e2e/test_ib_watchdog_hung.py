"""Issue 12: "the node hung (its event loop blocked) while holding a fly, and the watchdog flattening it before
the EOD" with the real IB node, not a stand-in (``tests/live/watchdog`` tests the watchdog against one).

The IB paper node (Nautilus's own IB client, the project's clients, the strategies' gate) runs on the TWS
simulator in this process (``tests/adapters/ib/kit.py``), holds a fly bought as one BAG and beats its
heartbeat from its own event loop, as ``odte live --broker ib-sim`` does. The watchdog is ``odte watchdog
run`` in a process of its own against the simulator's port, as a person runs it. Then a callback blocks the
node's loop (a stuck handler): the beat stops, nothing of the node answers, and the watchdog must close the
fly on its own, shorts bought back before longs sold, and set the kill switch in the node's durable state.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from odte_nautilus.data.sample import build_sample
from odte_nautilus.live.heartbeat import read_heartbeat
from odte_nautilus.live.ib_node import start_node_heartbeat
from odte_nautilus.live.watchdog import JOURNAL_FILE
from odte_nautilus.risk.journal import read
from odte_nautilus.risk.store import RiskStore
from odte_nautilus.risk.time_units import NS_PER_SECOND
from tests.adapters.ib.conftest import SPX_DAY, idle_settings
from tests.adapters.ib.kit import IbNode
from tests.live.kit import REPO
from tests.live.watchdog.test_watchdog_sim import shorts_then_longs

ODTE = str(Path(sys.executable).with_name("odte"))
BEAT_S = 0.2
SILENCE_S = 2.0  # a node silent this long is hung (configs/paper.yaml: 60 s)
HANG_S = 40.0  # the node's loop is released sooner, by the test, once the watchdog has acted


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ib-hung") / "spx"
    build_sample(path, SPX_DAY)
    return path


def fast_config(root: Path) -> Path:
    """configs/paper.yaml with a heartbeat every 0.2 s and a node silent for 2 s taken for hung."""
    config = yaml.safe_load((REPO / "configs" / "paper.yaml").read_text())
    config["ib"].update(heartbeat_seconds=BEAT_S, heartbeat_timeout_seconds=SILENCE_S)
    config["logs_dir"] = str(root / "logs")
    path = root / "paper.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture
def node(catalog: Path, tmp_path: Path) -> Iterator[IbNode]:
    settings = idle_settings(tmp_path)
    ib = settings.ib.model_copy(update={"heartbeat_seconds": BEAT_S, "heartbeat_timeout_seconds": SILENCE_S})
    live = IbNode(catalog, tmp_path / "run", settings.model_copy(update={"ib": ib})).start()
    try:
        live.advance(31)  # 10:01 ET: a bar, the chain's quotes
        yield live
    finally:
        live.stop()


@pytest.fixture
def watchdog_process(node: IbNode, tmp_path: Path) -> Iterator[subprocess.Popen]:
    args = ["watchdog", "run", "--config", str(fast_config(tmp_path)), "--broker", "ib-sim"]
    args += ["--port", str(node.sim.port), "--state", str(node.run_dir / "state")]
    log = (tmp_path / "watchdog.out").open("w")
    process = subprocess.Popen([ODTE, *args], cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        log.close()


def until(check, what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out after {timeout} s waiting for {what}"
        time.sleep(0.05)


def test_the_watchdog_flattens_the_real_ib_node_hung_with_a_fly(node: IbNode, watchdog_process, tmp_path):
    assert node.paper is not None
    state = node.run_dir / "state"
    heartbeat = start_node_heartbeat(node.paper, node.settings, state)
    release = threading.Event()
    try:
        node.on_loop(lambda: node.manual.rest_iron_fly(credit=0.05))  # marketable: fills at the far touch
        node.wait_settled()
        fly = node.broker_positions()
        assert len(fly) == 4 and node.node_positions() == fly
        until(lambda: "watching" in (tmp_path / "watchdog.out").read_text(), "the watchdog connected", 30)

        time.sleep(2 * SILENCE_S)  # a node that beats is left alone, fly and all
        assert node.sim.positions() == fly and watchdog_process.poll() is None
        beat = read_heartbeat(state / "heartbeat.sqlite")
        assert beat is not None and {k.split(".")[0]: v for k, v in beat.positions.items()} == fly

        loop = node.paper.node.get_event_loop()
        assert loop is not None
        loop.call_soon_threadsafe(release.wait, HANG_S)  # a handler that does not return: the node hangs
        hung_at = time.time_ns()
        until(lambda: node.broker_positions() == {}, "the watchdog's flatten", 30)
        flat_after_s = (time.time_ns() - hung_at) / NS_PER_SECOND
        assert not release.is_set(), "the node was hung all along"
        last = read_heartbeat(state / "heartbeat.sqlite")
        assert last is not None and last.wall_ns < hung_at + BEAT_S * NS_PER_SECOND, "the node beat while hung"
    finally:
        release.set()
        heartbeat.stop()

    assert SILENCE_S < flat_after_s < SILENCE_S + 15
    assert node.sim.now_ns < node.sim.session_close_ns - 30 * 60 * NS_PER_SECOND, "well before the EOD"
    watchdog_id = node.settings.ib.watchdog_client_id
    closes = [(e["side"], e["local_symbol"]) for e in node.sim.executions() if e["client_id"] == watchdog_id]
    shorts_then_longs(fly, closes)
    with RiskStore(state / "paper.sqlite") as store:
        switch = store.control_history("kill_switch")[-1]
    assert switch.by == "watchdog"

    def flattened() -> list[tuple[str, bool]]:  # journaled once the flatten has verified the broker flat
        return [(r["trigger"], r["flat"]) for r in read(state / JOURNAL_FILE) if r["kind"] == "watchdog_flatten"]

    until(flattened, "the watchdog's journal", 10)
    assert flattened() == [("missed_heartbeat", True)]
    assert len(node.sim.orders()) == 1 + len(closes), "the node's one entry, then the watchdog's closes only"
