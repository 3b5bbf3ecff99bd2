"""``odte report --date D [--run DIR]``: one day of a backtest run folder and of a paper one, the same report.

The backtest folder comes from a two-day sample catalog, the paper folder from ``odte live --broker
alpaca-sim`` run as a user runs it (a subprocess, one compressed session). Each day's report is held to the
run's own ``summary.json`` (its daily P&L) and ``positions.csv``, so a report that drifts from the run's
books fails here.
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path
from statistics import NormalDist

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from odte_nautilus.backtest import DEFAULT_CONFIG, load_backtest_config, run_backtest
from odte_nautilus.cli import app
from odte_nautilus.data.sample import SampleConfig, build_sample
from odte_nautilus.reports.daily import (
    DailyReportError,
    build_daily_report,
    report_after_flatten,
    value_at_risk,
    write_daily_report,
)
from odte_nautilus.risk.journal import AuditJournal
from tests.kit import DAY, ny_ns
from tests.run_folder_kit import (
    GAMMA,
    THETA,
    fills_frame,
    fly_entry_fills,
    fly_exit_fills,
    iso,
    position,
    positions_frame,
    strangle_fills,
    write_run,
)

REPO = Path(__file__).resolve().parents[2]
ODTE = Path(sys.executable).parent / "odte"
runner = CliRunner()


@pytest.fixture(scope="module")
def backtest_run(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("backtest")
    build_sample(root / "catalog", SampleConfig(days=2, strikes_each_side=12))
    return run_backtest(load_backtest_config(DEFAULT_CONFIG, catalog=root / "catalog"), root / "run").run_dir


@pytest.fixture(scope="module")
def paper_run(tmp_path_factory) -> Path:
    """A paper run folder written by ``odte live --broker alpaca-sim``, as a user would run it."""
    root = tmp_path_factory.mktemp("paper")
    shutil.copytree(REPO / "configs", root / "configs")
    out = root / "run"
    done = subprocess.run(
        [
            str(ODTE),
            "live",
            "--broker",
            "alpaca-sim",
            "--seconds-per-minute",
            "0",
            "--control-port",
            "0",
            "--out",
            str(out),
        ],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return out


def _days(run_dir: Path) -> list[date]:
    positions = pd.read_csv(run_dir / "positions.csv", keep_default_na=False)
    return sorted(date.fromisoformat(d) for d in set(positions["trading_date"]))


def _check_day(run_dir: Path, day: date) -> dict:
    """The report's figures agree with the run's summary.json and positions.csv for that day."""
    paths = write_daily_report(run_dir, day)
    report = json.loads(paths.json.read_text())
    summary = json.loads((run_dir / "summary.json").read_text())
    positions = pd.read_csv(run_dir / "positions.csv", keep_default_na=False)
    own = positions[positions["trading_date"] == day.isoformat()]
    closed = own[own["closed_at"] != ""]
    pnl = pd.to_numeric(closed["realized_pnl"])
    assert report["pnl"] == pytest.approx(summary["daily_pnl"][day.isoformat()], abs=0.005)
    assert report["trades"] == len(closed) and len(report["positions"]) == len(own)
    assert report["best_trade"]["pnl"] == pytest.approx(pnl.max()) and report["worst_trade"]["pnl"] == pytest.approx(
        pnl.min()
    )
    assert report["win_rate"] == pytest.approx((pnl > 0).mean(), abs=1e-4)
    assert sum(e["packages"] for e in report["exits_by_kind"]["TOTAL"].values()) == len(closed)
    assert report["var"]["per_trade"]["observations"] == len(closed)
    assert report["exposure"]["peak_open_risk"] > 0 and report["exposure"]["peak_contracts_held"] > 0
    assert report["issues"]["audit"] == "passed"
    page = paths.html.read_text()
    assert page.count("data:image/png;base64,") >= 5  # equity, trades, VaR, open risk, refusals
    for section in ("Value at risk", "Exposure", "Exits by kind", "Issues", "Historical VaR", "Parametric VaR"):
        assert section in page, section
    return report


def test_every_backtest_day_has_a_report_that_agrees_with_the_run(backtest_run):
    days = _days(backtest_run)
    assert len(days) == 2, "the two-day sample traded on fewer days: the per-day VaR proves nothing"
    reports = [_check_day(backtest_run, day) for day in days]
    second = reports[1]["var"]["per_day"]
    assert second["observations"] == 2 and second["historical"] is not None  # the run's days up to the second
    assert reports[0]["var"]["per_day"]["historical"] is None  # one day: no daily VaR, and it says why
    assert "at least 2" in reports[0]["var"]["per_day"]["note"]


def test_a_paper_day_gets_the_same_report(paper_run, backtest_run):
    (day,) = _days(paper_run)
    paper = _check_day(paper_run, day)
    backtest = build_daily_report(backtest_run, _days(backtest_run)[0])
    assert set(paper) == set(backtest)  # one report, whichever run wrote the folder
    assert set(paper["issues"]) == set(backtest["issues"]) and set(paper["var"]) == set(backtest["var"])


def test_var_is_the_empirical_quantile_and_the_normal_one_as_losses():
    pnl = pd.Series([-300.0, -120.0, -40.0, 10.0, 55.0, 80.0, 120.0, 150.0, 200.0, 260.0])
    var = value_at_risk(pnl, "ten trades")
    assert var["historical"]["var"] == pytest.approx(-np.quantile(pnl, 0.05), abs=0.01)
    assert var["parametric"]["var"] == pytest.approx(-NormalDist(pnl.mean(), pnl.std()).inv_cdf(0.05), abs=0.01)
    assert var["historical"]["cvar"] == pytest.approx(300.0)  # the one trade at or below the 5 % quantile
    assert var["parametric"]["var"] > 0 and "10 observations" in var["note"]
    assert value_at_risk(pd.Series([-50.0]), "one")["parametric"] is None


def _synthetic(tmp_path: Path) -> Path:
    """Two packages that overlap 10:30-11:00: a fly (max loss 800) and a strangle (debit 300)."""
    fills = fills_frame(
        fly_entry_fills(iso(10, 0), "T-1"),
        strangle_fills(iso(10, 30), "G-1"),
        fly_exit_fills(iso(11, 0), "T-1"),
        strangle_fills(iso(12, 0), "G-1", role="exit"),
    )
    positions = positions_frame(
        position("T-1", -200.0, opened=iso(10, 0), closed=iso(11, 0)),
        position("G-1", 150.0, strategy=GAMMA, opened=iso(10, 30), closed=iso(12, 0)),
    )
    decisions = [_entry(THETA, "T-1", 800.0, ny_ns(10, 0)), _entry(GAMMA, "G-1", 300.0, ny_ns(10, 30))]
    return write_run(tmp_path / "run", fills, positions, decisions)


def _entry(strategy: str, package: str, open_risk: float, ts_ns: int) -> dict:
    return {
        "kind": "decision",
        "ts_ns": ts_ns,
        "strategy": strategy,
        "intent": {"kind": "entry", "package": package, "qty": 1, "open_risk": open_risk},
        "decision": {"allowed": True, "code": "ALLOWED", "reason": "ok", "size": 1},
    }


def test_exposure_is_the_peak_of_the_overlapping_open_risk(tmp_path):
    report = build_daily_report(_synthetic(tmp_path), DAY)
    exposure = report["exposure"]
    assert exposure["peak_open_risk"] == 1_100.0  # both open from 10:30 to 11:00
    assert exposure["minutes_in_market"] == 120.0  # 10:00 to 12:00, the overlap counted once
    assert exposure["peak_contracts_held"] == 6  # four fly legs and two strangle legs
    assert report["max_drawdown"] == 200.0 and report["pnl"] == -50.0
    assert report["best_trade"]["package_id"] == "G-1" and report["worst_trade"]["package_id"] == "T-1"


def test_errors_rejections_and_mismatches_come_from_that_days_journal(tmp_path):
    run_dir = _synthetic(tmp_path)
    with AuditJournal(run_dir / "decisions.jsonl") as journal:
        at = ny_ns(11, 30)
        journal.append("alert", ts_ns=at, about="order_rejected", strategy=THETA, order="O-1", reason="no buying power")
        journal.append("alert", ts_ns=at, about="position_mismatch", instrument="SPXW C5100", broker=1, node=0)
        journal.append("alert", ts_ns=at, strategy=GAMMA, package="G-1", reason="an overfill")
        journal.append("breaker", ts_ns=at, breaker="global", reason="RISK-OFF")
        next_day = ny_ns(11, 30, day=date(2024, 3, 18))
        journal.append("alert", ts_ns=next_day, about="order_rejected", strategy=THETA, order="O-2", reason="later")
    paths = write_daily_report(run_dir, DAY)
    issues = json.loads(paths.json.read_text())["issues"]
    assert [r["order"] for r in issues["rejections"]] == ["O-1"]  # not the next day's
    assert issues["mismatches"] == [{"time": "11:30:00", "instrument": "SPXW C5100", "broker": 1, "node": 0}]
    assert [e["error"] for e in issues["errors"]] == ["risk event (GammaScalper-001, G-1): an overfill"]
    assert [s["kind"] for s in issues["breakers_locks_and_stops"]] == ["breaker"]
    page = paths.html.read_text()
    assert "no buying power" in page and "SPXW C5100" in page and "an overfill" in page


def test_the_cli_writes_the_report(backtest_run):
    day = _days(backtest_run)[0]
    result = runner.invoke(app, ["report", "--date", day.isoformat(), "--run", str(backtest_run)])
    assert result.exit_code == 0, result.output
    assert (backtest_run / f"report-{day}.html").is_file() and (backtest_run / f"report-{day}.json").is_file()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--date", "2024-13-01"], "not a date; expected YYYY-MM-DD"),
        (["--date", "yesterday"], "not a date; expected YYYY-MM-DD"),
        (["--date", "2024-03-15", "--run", "no/such/run"], "no such run folder"),
        (["--date", "2024-03-18"], "nothing happened on 2024-03-18"),
    ],
)
def test_the_cli_refuses_a_bad_date_or_run_folder_clearly(tmp_path, args, message):
    run_dir = _synthetic(tmp_path)
    if "--run" not in args:
        args = [*args, "--run", str(run_dir)]
    result = runner.invoke(app, ["report", *args])
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("refused:") and message in " ".join(result.stderr.split())
    assert not list(run_dir.glob("report-*"))


def test_without_run_the_newest_run_folder_with_that_day_is_reported(tmp_path, monkeypatch):
    older, newer = _synthetic(tmp_path / "a"), _synthetic(tmp_path / "b")
    runs = tmp_path / "runs"
    runs.mkdir()
    for name, run_dir in (("20240315T2000Z", older), ("20240315T2100Z", newer)):
        shutil.move(run_dir, runs / name)
    other_day = runs / "20240318T2100Z"  # the newest folder, but another day
    shutil.copytree(runs / "20240315T2100Z", other_day)
    positions = pd.read_csv(other_day / "positions.csv", keep_default_na=False)
    positions.assign(trading_date="2024-03-18").to_csv(other_day / "positions.csv", index=False)
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["report", "--date", DAY.isoformat()])
    assert result.exit_code == 0, result.output
    assert [p.parent.name for p in runs.glob("*/report-*.json")] == ["20240315T2100Z"]
    refused = runner.invoke(app, ["report", "--date", "2024-03-19"])
    assert refused.exit_code == 2 and "no run folder under runs/ has a package on 2024-03-19" in refused.stderr


def test_the_automatic_report_after_the_flatten_never_raises(tmp_path, caplog):
    with caplog.at_level(logging.ERROR, logger="odte_nautilus.reports.daily"):
        assert report_after_flatten(tmp_path / "missing", DAY) is None
    assert any("not written" in r.getMessage() and "no such run folder" in r.getMessage() for r in caplog.records)
    paths = report_after_flatten(_synthetic(tmp_path), DAY)
    assert paths is not None and paths.html.is_file()


def test_a_day_outside_the_run_is_refused_with_the_runs_days(tmp_path):
    with pytest.raises(DailyReportError, match=r"nothing happened on 2024-03-18 .*2024-03-15"):
        build_daily_report(_synthetic(tmp_path), date(2024, 3, 18))
