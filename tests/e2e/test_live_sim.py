"""``odte live --broker alpaca-sim`` as a user runs it: the paper node, the real alpaca-py clients, the
project's Alpaca simulator on loopback, a whole compressed session, then the run folder and its audit.

Each run is its own ``odte`` process (as from a shell), in a scratch folder with the repository's configs,
so its paper log, its state and its catalog stay there. Issue 10's "done when": the node trades a session,
ends flat and locked, and its audit (with the fill check against the simulator's catalog) passes; the
guards refuse before anything is sent.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[2]
ODTE = str(Path(sys.executable).parent / "odte")
RUN_TIMEOUT_S = 300


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    """A scratch folder laid out like the repository (configs/), where the node writes logs/ and catalog/."""
    root = tmp_path_factory.mktemp("live")
    shutil.copytree(REPO / "configs", root / "configs")
    return root


def odte(workdir: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("ALPACA_", "BROKER_MODE"))}
    return subprocess.run(
        [ODTE, *args],
        cwd=workdir,
        env={**environment, **(env or {}), "COLUMNS": "160"},
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
    )


def simulated_session(workdir: Path, underlying: str) -> tuple[subprocess.CompletedProcess, Path]:
    out = workdir / f"run-{underlying.lower()}"
    args = ["live", "--broker", "alpaca-sim", "--underlying", underlying, "--seconds-per-minute", "0"]
    args += ["--control-port", "0"]  # any free port: sessions run side by side in the suite
    return odte(workdir, *args, "--config", "configs/paper.yaml", "--out", str(out)), out


@pytest.fixture(scope="module")
def spy(workdir):
    return simulated_session(workdir, "SPY")


def test_a_compressed_spy_session_trades_ends_flat_and_locked_and_its_audit_passes(spy):
    done, out = spy
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    audit = summary["audit"]
    assert audit["ok"] and audit["violations"] == []
    assert audit["checked"]["traded_legs"] > 0, "the session traded nothing: it proves nothing"
    positions = pd.read_csv(out / "positions.csv", keep_default_na=False)
    assert set(positions["strategy_id"]) == {"ThetaHarvester-001", "GammaScalper-002"}, "both strategies trade"
    assert (positions["closed_at"] != "").all()
    fills = pd.read_csv(out / "fills.csv", keep_default_na=False)
    net = (fills["quantity"] * fills["side"].map({"BUY": 1, "SELL": -1})).groupby(fills["instrument_id"]).sum()
    assert (net == 0).all(), "a contract is still held at the end of the session"
    journal = [json.loads(line) for line in (out / "decisions.jsonl").read_text().splitlines()]
    locks = [j for j in journal if j["kind"] == "lock"]
    assert locks and "19:10:00" in locks[0]["time"], "the Alpaca session flattens and locks at 15:10 ET"


def test_spy_limits_sit_on_the_penny_grid(spy):
    """SPY options trade in pennies: an entry's limit is the package's far touch in cents (on SPXW's grid it
    would be rounded to a 0.05 multiple, a few cents past the market)."""
    _, out = spy
    journal = [json.loads(line) for line in (out / "decisions.jsonl").read_text().splitlines()]
    limits = [
        j["intent"]["price"]
        for j in journal
        if j["kind"] == "decision" and j["source"] == "gate" and j["intent"]["kind"] == "entry"
    ]
    cents = [round(abs(price) * 100) for price in limits]
    assert limits and all(abs(abs(price) * 100 - c) < 1e-6 for price, c in zip(limits, cents, strict=True))
    assert any(c % 5 for c in cents), f"every limit on the 0.05 grid: {limits}"


def test_every_paper_order_is_logged_with_its_broker_id_and_fills(spy, workdir):
    log = (workdir / "logs" / "paper_trading.log").read_text()
    paper = [line for line in log.splitlines() if "[PAPER]" in line]
    assert any(" submit " in line for line in paper)
    assert any("broker_order_id=" in line for line in paper)
    assert any("execution_id=" in line for line in paper)


def test_a_qqq_session_runs_the_same_way(workdir):
    done, out = simulated_session(workdir, "QQQ")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert json.loads((out / "summary.json").read_text())["audit"]["ok"]
    assert any(json.loads(line)["kind"] == "lock" for line in (out / "decisions.jsonl").read_text().splitlines())


def test_broker_mode_live_refuses_before_anything_is_sent(workdir):
    out = workdir / "refused"
    done = odte(workdir, "live", "--broker", "alpaca-sim", "--out", str(out), env={"BROKER_MODE": "LIVE"})
    assert done.returncode == 3
    assert "broker_mode" in done.stderr
    assert not (out / "fills.csv").exists()


def test_preflight_passes_against_the_simulator(workdir):
    done = odte(workdir, "preflight", "--broker", "alpaca-sim")
    assert done.returncode == 0, done.stdout
    assert "FAIL" not in done.stdout and "preflight passed" in done.stdout


@pytest.mark.parametrize(
    ("env", "config_edit", "failed"),
    [
        ({"BROKER_MODE": "LIVE"}, None, "broker_mode"),
        ({"ALPACA_LIVE_API_KEY": "PKSAME"}, None, "distinct_keys"),
        ({}, ("https://paper-api.alpaca.markets", "https://api.alpaca.markets"), "paper_url"),
    ],
)
def test_preflight_fails_with_its_reason_for_each_live_sign(workdir, tmp_path, env, config_edit, failed):
    config = tmp_path / "paper.yaml"
    text = (workdir / "configs" / "paper.yaml").read_text()
    config.write_text(text.replace(*config_edit) if config_edit else text)
    keys = {"ALPACA_PAPER_API_KEY": "PKSAME", "ALPACA_PAPER_SECRET_KEY": "secret"}
    done = odte(workdir, "preflight", "--broker", "alpaca", "--config", str(config), env={**keys, **env})
    assert done.returncode == 3
    assert f"FAIL {failed}" in done.stdout
    assert "broker: not asked" in done.stdout


def test_preflight_refuses_a_live_account_number(workdir, monkeypatch):
    """The account the keys open must be a paper one (PA...): the simulator posing as a live account."""
    from odte_nautilus.live.preflight import run_preflight
    from odte_nautilus.live.sim_broker import sample_catalog
    from odte_nautilus.sim.alpaca import AlpacaSimulator

    monkeypatch.chdir(workdir)
    catalog = sample_catalog(workdir / "catalog" / "alpaca-sim", "SPY")
    keys = {"ALPACA_PAPER_API_KEY": "k", "ALPACA_PAPER_SECRET_KEY": "s"}
    with AlpacaSimulator(catalog, key="k", secret="s", account_number="123456789") as sim:
        checks = run_preflight(Path("configs/paper.yaml"), keys, simulator=True, base_url=sim.rest_url)
    failed = {c.name: c.reason for c in checks if not c.passed}
    assert list(failed) == ["paper_account"] and "123456789" in failed["paper_account"]
