"""SWEEP.yaml is checked before anything runs: a bad key is refused with the file and the key; the runs are
what the file says (the grid's product, the listed runs, the date ranges), each named by its config."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from odte_nautilus.cli import app
from odte_nautilus.sweep.config import SweepConfigError, load_sweep_config
from odte_nautilus.sweep.grid import expand
from tests.sweep.conftest import DAYS, write_sweep


@pytest.mark.parametrize(
    ("keys", "named"),
    [
        ({"grdi": {}}, "grdi: unknown key"),
        (
            {"grid": {"ThetaHarvester.wing_pionts": [20]}},
            "grid.ThetaHarvester.wing_pionts: ThetaHarvester's config has no",
        ),
        ({"grid": {"ThetaHarvester.wing_points": 20}}, "grid.ThetaHarvester.wing_points: Input should be a valid list"),
        ({"grid": {"ThetaHarvester.wing_points": []}}, "grid.ThetaHarvester.wing_points: no values"),
        (
            {"grid": {"GammaScalper.call_offset_points": [10]}},
            "grid.GammaScalper.call_offset_points: unknown parameter",
        ),
        ({"grid": {"risk.loss_streak.stop_aftr": [2]}}, "grid.risk.loss_streak.stop_aftr: the risk profile"),
        ({"grid": {"catalog": ["elsewhere"]}}, "grid.catalog: catalog is set by the sweep itself"),
        ({"runs": [{"ThetaHarvester.wing_points": 20}, {"starting_balanse": 1}]}, "runs.1.starting_balanse: unknown"),
        ({"strategies": ["ThetaHarvestor"]}, "strategies: ThetaHarvestor not in the backtest config"),
        ({"dates": [{"start": "2024-07-23", "end": "2024-07-22"}]}, "dates.0: start 2024-07-23 is after end"),
        ({"dates": [{"split": 0}]}, "dates.0.split: Input should be greater than or equal to 1"),
        ({"dates": [{"start": "2025-01-02"}]}, "dates.0: no session of"),
        ({"workers": 0}, "workers: Input should be greater than or equal to 1"),
        ({"backtest": "configs/no-such.yaml"}, "configs/no-such.yaml: cannot read the backtest config"),
    ],
)
def test_a_bad_sweep_config_is_refused_naming_the_key(sweep_catalog, tmp_path, keys, named):
    path = write_sweep(tmp_path, sweep_catalog, **keys)
    with pytest.raises(SweepConfigError) as refused:
        expand(load_sweep_config(path))
    assert str(path) in str(refused.value) and named in str(refused.value)


def test_the_command_refuses_with_one_line_and_exit_2(sweep_catalog, tmp_path):
    path = write_sweep(tmp_path, sweep_catalog, grid={"ThetaHarvester.wing_pionts": [20, 25]})
    result = CliRunner().invoke(app, ["sweep", "--config", str(path), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    assert "refused:" in result.output and "grid.ThetaHarvester.wing_pionts" in result.output
    assert not (tmp_path / "out").exists(), "a refused sweep runs nothing and writes nothing"


def test_the_runs_are_the_grid_product_then_the_listed_runs_over_each_date_range(sweep_catalog, tmp_path):
    sweep = load_sweep_config(
        write_sweep(
            tmp_path,
            sweep_catalog,
            grid={"ThetaHarvester.wing_points": [20, 25], "ThetaHarvester.take_profit_full_pct": [40, 50]},
            runs=[
                {"risk.loss_streak.stop_after": 2},
                {"ThetaHarvester.take_profit_full_pct": 40, "ThetaHarvester.wing_points": 20},  # in the grid already
            ],
            dates=[{"split": 2}],
        )
    )
    expansion = expand(sweep)
    runs = expansion.runs
    assert expansion.duplicates == 2  # the last listed run, over both days
    assert len(runs) == (4 + 1) * 2
    assert [(str(r.start), str(r.end), r.days) for r in runs[:2]] == [(DAYS[0], DAYS[0], 1), (DAYS[1], DAYS[1], 1)]
    assert [r.part for r in runs[:2]] == ["1/2", "2/2"]  # each part a fresh account, and the table says so
    first = runs[0]
    assert first.params == {
        "ThetaHarvester.wing_points": 20,
        "ThetaHarvester.take_profit_full_pct": 40,
        "risk.loss_streak.stop_after": sweep.risk_profile["loss_streak"]["stop_after"],  # the profile's, unset
    }
    (strategy,) = first.backtest["strategies"]
    assert strategy["config"]["wing_points"] == 20 and strategy["config"]["take_profit_full_pct"] == 40
    assert first.risk is None
    streak = runs[8]
    assert streak.params["risk.loss_streak.stop_after"] == 2 and streak.params["ThetaHarvester.wing_points"] == 25
    assert streak.risk is not None and streak.risk["loss_streak"]["stop_after"] == 2
    assert len({r.key for r in runs}) == len(runs)
    assert [r.key for r in expand(sweep).runs] == [r.key for r in runs], "a run's name is its config: stable"


def test_configs_sweep_yaml_is_a_valid_sweep(sweep_catalog):
    sweep = load_sweep_config("configs/sweep.yaml", catalog=sweep_catalog)
    assert len(expand(sweep).runs) == 9
    assert yaml.safe_load(Path("configs/sweep.yaml").read_text())["strategies"] == ["ThetaHarvester"]
