"""``odte live --broker ib-sim`` as a user runs it: the IB paper node (Nautilus's own IB client and the project's
execution client) against the project's TWS simulator on loopback, a whole compressed SPX session, then the
run folder and its audit; and the IB paper guards refusing before anything is sent.

Issue 12's "done when": the node trades both strategies on SPXW, ends flat and locked, and its audit (with the
fill check against the simulator's catalog) passes.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from odte_nautilus.live.ib_preflight import run_ib_preflight
from odte_nautilus.sim.ib import TwsSimulator
from tests.e2e.test_live_sim import odte
from tests.e2e.test_live_sim import workdir as workdir


@pytest.fixture(scope="module")
def session(workdir: Path) -> tuple:
    out = workdir / "run-ib"
    args = ["live", "--broker", "ib-sim", "--seconds-per-minute", "0", "--control-port", "0"]
    return odte(workdir, *args, "--config", "configs/paper.yaml", "--out", str(out)), out


def test_a_compressed_spxw_session_trades_both_strategies_ends_flat_and_locked_and_its_audit_passes(session):
    done, out = session
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    audit = json.loads((out / "summary.json").read_text())["audit"]
    assert audit["ok"] and audit["violations"] == []
    assert audit["checked"]["traded_legs"] > 0, "the session traded nothing: it proves nothing"
    positions = pd.read_csv(out / "positions.csv", keep_default_na=False)
    assert set(positions["strategy_id"]) == {"ThetaHarvester-001", "GammaScalper-002"}, "both strategies trade"
    assert set(positions["structure"]) == {"IRON_BUTTERFLY", "STRANGLE"}
    assert (positions["closed_at"] != "").all()
    fills = pd.read_csv(out / "fills.csv", keep_default_na=False)
    assert fills["instrument_id"].str.startswith("SPXW  ").all()
    net = (fills["quantity"] * fills["side"].map({"BUY": 1, "SELL": -1})).groupby(fills["instrument_id"]).sum()
    assert (net == 0).all(), "a contract is still held at the end of the session"
    journal = [json.loads(line) for line in (out / "decisions.jsonl").read_text().splitlines()]
    locks = [j for j in journal if j["kind"] == "lock"]
    assert locks and "19:45:00" in locks[0]["time"], "IB's node flattens and locks at 15:45 ET (close - 15 min)"


def test_every_ib_order_line_is_logged_paper_with_its_ids(session, workdir):
    log = (workdir / "logs" / "paper_trading.log").read_text()
    paper = [line for line in log.splitlines() if "[PAPER]" in line]
    assert any(" submit " in line and "paper=true" in line for line in paper)
    assert any("broker_order_id=" in line and "execution_id=" in line for line in paper)


def test_preflight_passes_against_the_tws_simulator(workdir):
    done = odte(workdir, "preflight", "--broker", "ib-sim")
    assert done.returncode == 0, done.stdout
    assert "FAIL" not in done.stdout and "paper_account" in done.stdout


def test_broker_mode_live_refuses_the_ib_node_before_anything_is_sent(workdir):
    out = workdir / "refused-ib"
    done = odte(workdir, "live", "--broker", "ib-sim", "--out", str(out), env={"BROKER_MODE": "LIVE"})
    assert done.returncode == 3, done.stdout + done.stderr
    assert "broker_mode" in done.stderr
    assert not (out / "fills.csv").exists()


def test_a_live_gateway_port_is_refused_without_connecting(workdir):
    config = yaml.safe_load((workdir / "configs" / "paper.yaml").read_text())
    config["ib"]["port"] = 4001  # IB Gateway live
    path = workdir / "configs" / "paper-live-port.yaml"
    path.write_text(yaml.safe_dump(config))
    done = odte(workdir, "preflight", "--broker", "ib", "--config", str(path), env={"TWS_ACCOUNT": "DU1234567"})
    assert done.returncode == 3
    assert "FAIL paper_port" in done.stdout and "not asked" in done.stdout


def test_a_gateway_logged_in_to_a_live_account_is_refused(tmp_path):
    """The simulator posing as a live login (a ``U`` account): the account guard refuses, no order is sent."""
    from odte_nautilus.data.sample import build_sample
    from tests.adapters.ib.conftest import SPX_DAY

    catalog = tmp_path / "spx"
    build_sample(catalog, SPX_DAY)
    config = Path(__file__).resolve().parents[2] / "configs" / "paper.yaml"
    with TwsSimulator(catalog, accounts=("U7654321",)) as sim:
        checks = run_ib_preflight(config, {"TWS_ACCOUNT": "U7654321"}, simulator=True, port=sim.port)
        assert sim.orders() == []
    failed = {c.name: c.reason for c in checks if not c.passed}
    assert set(failed) == {"paper_account"}, failed
    assert "U7654321" in failed["paper_account"]
