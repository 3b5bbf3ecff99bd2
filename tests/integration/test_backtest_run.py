"""``run_backtest`` end to end: configs/backtest.yaml's strategies over a one-day sample catalog, into a run folder.

The run folder is what a trader reads after ``odte backtest``; these tests read it back the way the reports
and the independent audit do, from the files alone (the engine is gone by then).
"""

from __future__ import annotations

import json
from collections import defaultdict

import pandas as pd
import pytest

from odte_nautilus.backtest import DEFAULT_CONFIG, load_backtest_config, run_backtest
from odte_nautilus.data.sample import SampleConfig, build_sample

RUN_FILES = ("summary.json", "fills.csv", "positions.csv", "decisions.jsonl", "report.html")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("backtest")
    build_sample(root / "catalog", SampleConfig(days=1, strikes_each_side=12))
    result = run_backtest(load_backtest_config(DEFAULT_CONFIG, catalog=root / "catalog"), root / "run")
    fills = pd.read_csv(result.run_dir / "fills.csv", keep_default_na=False)
    positions = pd.read_csv(result.run_dir / "positions.csv", keep_default_na=False)
    return result, fills, positions


def test_the_run_folder_has_every_file_and_the_audit_passed(run):
    result, _, positions = run
    assert all((result.run_dir / name).stat().st_size > 0 for name in RUN_FILES)
    summary = json.loads((result.run_dir / "summary.json").read_text())
    assert summary["audit"]["ok"] is True and summary["audit"]["violations"] == []
    assert summary["open_packages"] == 0
    assert result.days == 1 and result.quotes > 0
    assert len(positions) > 0, "the sample day traded nothing: this run proves nothing about fills"
    assert set(positions["strategy_id"]) <= {"ThetaHarvester-001", "GammaScalper-002"}


def test_no_contract_is_held_after_the_last_fill(run):
    """The engine's leg fills (entries, exits and expiry settlements) net to zero in every contract."""
    _, fills, _ = run
    net: dict[str, int] = defaultdict(int)
    for row in fills.itertuples():
        net[row.instrument_id] += row.quantity if row.side == "BUY" else -row.quantity
    assert {iid: qty for iid, qty in net.items() if qty} == {}


def test_every_package_row_has_entry_and_exit_leg_fills_with_its_exit_kinds(run):
    _, fills, positions = run
    assert set(fills["package_id"]) == set(positions["package_id"])
    legs = {"IRON_BUTTERFLY": 4, "STRANGLE": 2}
    for package in positions.itertuples():
        own = fills[fills["package_id"] == package.package_id]
        entries, exits = own[own["role"] == "entry"], own[own["role"] == "exit"]
        assert len(entries) + len(exits) == len(own), package.package_id  # no third role
        assert entries["instrument_id"].nunique() == legs[package.structure], package.package_id
        assert (entries["exit_kind"] == "").all()
        assert set(exits["exit_kind"]) == set(package.exit_kinds.split(";")), package.package_id
        # every contract bought or sold on entry went back out: quantities match leg by leg
        assert entries.groupby("instrument_id")["quantity"].sum().to_dict() == (
            exits.groupby("instrument_id")["quantity"].sum().to_dict()
        ), package.package_id


def test_every_allowed_entry_in_the_journal_is_a_package_row(run):
    result, _, positions = run
    lines = [json.loads(line) for line in (result.run_dir / "decisions.jsonl").read_text().splitlines()]
    entries = {
        d["intent"]["package"]
        for d in lines
        if d["kind"] == "decision" and d["intent"]["kind"] == "entry" and d["decision"]["allowed"]
    }
    assert entries == set(positions["package_id"])


def test_the_fees_block_states_the_schedule_and_adds_up_to_the_fills_to_the_cent(run):
    """Every leg fill paid the ib-spxw charge per contract; summary.json's total is fills.csv's, to the cent."""
    result, fills, _ = run
    fees = json.loads((result.run_dir / "summary.json").read_text())["fees"]
    assert fees["schedule"] == "ib-spxw" and fees["charged_per_contract"] == 1.28
    assert set(fees["per_contract_items"]) == {"commission", "exchange", "clearing", "orf", "finra_taf", "cat"}
    paying = fills[fills["exit_kind"] != "settlement"]
    assert (paying["fee"] == (paying["quantity"] * 1.28).round(2)).all()
    assert (fills.loc[fills["exit_kind"] == "settlement", "fee"] == 0).all()
    assert fees["total_paid"] == round(fills["fee"].sum(), 2) > 0
    assert fees["contracts"] == paying["quantity"].sum()
    for strategy, row in fees["by_strategy"].items():
        assert row["total_paid"] == round(fills.loc[fills["strategy_id"] == strategy, "fee"].sum(), 2), strategy
    assert sum(row["total_paid"] for row in fees["by_strategy"].values()) == pytest.approx(fees["total_paid"])
    assert result.summary["assumptions"]["fees"].startswith("ib-spxw (")
    assert "<h2>Fees</h2>" in (result.run_dir / "report.html").read_text()


def test_the_cost_split_explains_each_strategys_pnl_to_within_the_leg_rounding(run):
    """Realized P&L = market move - spread paid - fees, from the run's own fills; the residual is the leg
    prices' rounding to the cent (a few dollars at most), and every fill has the mid it was measured from."""
    result, fills, _ = run
    summary = json.loads((result.run_dir / "summary.json").read_text())
    assert (pd.to_numeric(fills["mid"]) >= 0).all() and (fills["mid"].astype(str) != "").all()
    for name, split in summary["cost_split"].items():
        explained = split["market_move"] - split["spread_paid"] - split["fees"]
        assert abs(split["realized_pnl"] - explained - split["residual"]) < 0.011, name
        assert abs(split["residual"]) <= 5.0, name
        assert split["spread_paid"] >= 0 and split["fees"] >= 0, name
