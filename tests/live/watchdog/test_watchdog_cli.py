"""``odte watchdog flatten`` as a person runs it: a process of its own against ``odte sim ib`` in another, while a
node (this test) holds a fly. Each process has its own event loop and client id, as in production."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from odte_nautilus.risk.store import RiskStore
from odte_nautilus.risk.time_units import MINUTE_NS
from tests.live.kit import REPO
from tests.live.watchdog.kit import fast_settings, node_with_fly

ODTE = str(Path(sys.executable).with_name("odte"))
CONFIG = str(REPO / "configs" / "paper.yaml")
SETTINGS = fast_settings()


class RemoteSim:
    def __init__(self, port: int, control_url: str) -> None:
        self.host, self.port = "127.0.0.1", port
        self.http = httpx.Client(base_url=f"{control_url}/sim/v1", timeout=10.0, trust_env=False)

    def positions(self) -> dict[str, int]:
        return self.http.get("/positions").json()

    def executions(self) -> list[dict]:
        return self.http.get("/executions").json()


@pytest.fixture
def remote_sim(catalog_root: Path, tmp_path: Path) -> Iterator[RemoteSim]:
    """``odte sim ib`` on a free port, one replayed minute in (its first quotes)."""
    proc = subprocess.Popen(
        [ODTE, "sim", "ib", "--catalog", str(catalog_root)],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert proc.stdout is not None
        said = proc.stdout.readline() + proc.stdout.readline()
        port = re.search(r"ib-sim 127\.0\.0\.1:(\d+)", said)
        control = re.search(r"control API (http://127\.0\.0\.1:\d+)/sim/v1", said)
        assert port and control, said
        sim = RemoteSim(int(port[1]), control[1])
        now = sim.http.get("/clock").json()["now_ns"]
        sim.http.post("/advance", json={"to_ns": now + MINUTE_NS}).raise_for_status()
        yield sim
        sim.http.close()
    finally:
        proc.terminate()
        proc.wait(10)


def test_odte_watchdog_flatten_closes_a_live_nodes_fly_from_its_own_process(remote_sim, ib_loop, tmp_path):
    state = tmp_path / "state"
    with node_with_fly(remote_sim.host, remote_sim.port, state, SETTINGS.ib.client_id) as node:
        fly = remote_sim.positions()
        assert len(fly) == 4 and node.positions() == fly
        done = subprocess.run(
            [ODTE, "watchdog", "flatten", "--config", CONFIG, "--broker", "ib-sim", "--port", str(remote_sim.port),
             "--state", str(state)],
            cwd=tmp_path, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "broker flat" in done.stdout and "kill switch: on in" in done.stdout
    assert remote_sim.positions() == {}
    flattening = [e for e in remote_sim.executions() if e["client_id"] == SETTINGS.ib.watchdog_client_id + 1]
    assert [e["side"] for e in flattening] == ["BOT", "BOT", "SLD", "SLD"]
    assert {e["local_symbol"] for e in flattening[:2]} == {leg for leg, qty in fly.items() if qty < 0}
    with RiskStore(state / "paper.sqlite") as store:
        assert store.control_history("kill_switch")[-1].by == "watchdog"


def test_odte_watchdog_preflight_refuses_a_live_port_without_connecting(tmp_path):
    done = subprocess.run(
        [ODTE, "watchdog", "preflight", "--config", CONFIG, "--port", "7496", "--state", str(tmp_path)],
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 3, done.stdout + done.stderr
    assert "FAIL paper_port: port 7496 is the TWS live port" in done.stdout
    assert "gateway" not in done.stdout  # refused before connecting
