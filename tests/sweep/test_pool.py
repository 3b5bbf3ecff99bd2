"""``odte sweep`` on the local process pool: the table, the page, a failed run that sinks nothing, resume."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from odte_nautilus.cli import app
from odte_nautilus.sweep.config import load_sweep_config
from odte_nautilus.sweep.pool import PoolRunner
from odte_nautilus.sweep.results import ERROR_FILE, RECORD_FILE, read_table
from odte_nautilus.sweep.run import run_sweep
from tests.sweep.conftest import DAYS, write_sweep

WING = "param ThetaHarvester.wing_points"


@pytest.fixture(scope="module")
def swept(sweep_catalog, tmp_path_factory):
    """Two good runs and one with a bad value, over one session, through the command on 2 workers."""
    root = tmp_path_factory.mktemp("pool")
    config = write_sweep(
        root,
        sweep_catalog,
        grid={"ThetaHarvester.wing_points": [20, 25]},
        runs=[{"ThetaHarvester.wing_points": "wide"}],
        dates=[{"start": DAYS[0], "end": DAYS[0]}],
    )
    out = root / "out"
    result = CliRunner().invoke(app, ["sweep", "--config", str(config), "--out", str(out), "--workers", "2"])
    return config, out, result


def test_the_sweep_writes_one_row_per_run_with_its_parameters_and_figures(swept):
    _, out, _ = swept
    table = read_table(out)
    assert list(table[WING]) == ["20", "25", "wide"]  # a column of mixed types is shown as text
    good = table[table["status"] == "ok"]
    assert len(good) == 2
    assert (good["trades"] > 0).all() and good["audit_ok"].all() and (good["fees"] > 0).all()
    assert set(good["days"]) == {1} and set(good["start"]) == {DAYS[0]}
    for column in ("pnl", "max_drawdown", "win_rate", "quotes", "wall_s", "peak_rss_mb"):
        assert good[column].notna().all(), column
    assert (good["trades ThetaHarvester-001"] == good["trades"]).all()
    csv = pd.read_csv(out / "sweep.csv")
    assert list(csv["run"]) == list(table["run"]) and list(csv["pnl"].fillna(0)) == list(table["pnl"].fillna(0))
    for run_dir in good["run_dir"]:
        assert (out / run_dir / "summary.json").is_file() and (out / run_dir / "report.html").is_file()
        assert yaml.safe_load((out / run_dir / "backtest.yaml").read_text())["start"] == DAYS[0]


def test_a_failed_run_is_reported_with_its_error_and_the_others_finish(swept):
    _, out, result = swept
    assert result.exit_code == 1, result.output
    (failed,) = read_table(out).query("status == 'failed'").to_dict("records")
    assert "wing_points" in failed["error"] and "ValidationError" in failed["error"]
    assert "wing_points" in result.output and "1 of 3 run(s) did not finish cleanly" in result.output
    assert "Traceback" in (out / failed["run_dir"] / ERROR_FILE).read_text()
    page = (out / "sweep.html").read_text()
    assert "data:image/png;base64," in page and "Runs that did not finish cleanly" in page and "wide" in page


def test_a_rerun_skips_the_finished_runs_and_redoes_the_failed_and_the_cut_short_from_nothing(swept):
    config, out, _ = swept
    before = read_table(out)
    (failed,) = before.query("status == 'failed'")["run"]
    cut, kept = before.query("status == 'ok'").to_dict("records")
    folder = out / cut["run_dir"]
    (folder / "summary.json").unlink()  # as if killed between its last day and its summary
    (folder / "leftover.txt").write_text("from the attempt that was cut short")
    handed: list[str] = []

    def on_event(kind, key, _value):
        if kind == "start":
            handed.append(key)

    outcome = run_sweep(load_sweep_config(config), out, PoolRunner(2), on_event=on_event)
    assert sorted(handed) == sorted([failed, cut["run"]]) and outcome.resumed == 1
    after = outcome.table.set_index("run")
    assert after.loc[kept["run"], "wall_s"] == kept["wall_s"], "a finished run's row is read back, not redone"
    assert after.loc[cut["run"], "status"] == "ok" and after.loc[cut["run"], "pnl"] == cut["pnl"]
    assert after.loc[failed, "status"] == "failed"
    assert not (folder / "leftover.txt").exists()
    assert json.loads((folder / RECORD_FILE).read_text())["status"] == "ok"


def test_a_worker_that_dies_is_reported_and_the_runs_after_it_still_run(sweep_catalog, tmp_path):
    backtest = tmp_path / "backtest.yaml"
    backtest.write_text(
        yaml.safe_dump(
            {
                "catalog": str(sweep_catalog),
                "strategies": [
                    {
                        "strategy_path": "tests.sweep.crash_strategy:Die",
                        "config_path": "tests.sweep.crash_strategy:DieConfig",
                        "config": {},
                    }
                ],
            }
        )
    )
    config = tmp_path / "sweep.yaml"
    config.write_text(
        yaml.safe_dump({"backtest": str(backtest), "grid": {"Die.exit_code": [3, 0]}, "dates": [{"end": DAYS[0]}]})
    )
    table = run_sweep(load_sweep_config(config), tmp_path / "out", PoolRunner(1)).table
    assert list(table["status"]) == ["failed", "ok"]
    assert "worker process died" in table.loc[0, "error"]
    assert table.loc[1, "trades"] == 0 and table.loc[1, "audit_ok"]
