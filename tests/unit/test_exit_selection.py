"""backtests/exit_selection.py: what it tries is well-formed, and what it reports was never chosen on."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from odte_nautilus.risk.policy import parse_exit_policy
from odte_nautilus.strategies.gamma_scalper import GammaScalperConfig
from odte_nautilus.strategies.theta_harvester import ThetaHarvesterConfig

SCRIPT = Path(__file__).resolve().parents[2] / "backtests" / "exit_selection.py"
_spec = importlib.util.spec_from_file_location("exit_selection", SCRIPT)
assert _spec is not None and _spec.loader is not None
study = importlib.util.module_from_spec(_spec)
sys.modules.setdefault("exit_selection", study)  # its dataclasses look their module up
_spec.loader.exec_module(study)

CONFIGS = {study.THETA: ThetaHarvesterConfig, study.GAMMA: GammaScalperConfig}


def test_the_held_out_seeds_are_never_selection_seeds_nor_the_default_catalogs():
    assert not set(study.SELECTION_SEEDS) & set(study.HELD_OUT_SEEDS)
    assert 10 not in study.SELECTION_SEEDS + study.HELD_OUT_SEEDS  # the default catalog's seed, looked at often


def _candidates():
    for strategy_id, grid in study.GRIDS.items():
        for name, overrides in grid.items():
            yield strategy_id, name, overrides
    for label, configs in (("hold", study.HOLD), ("seed", study.SEED_STOP)):
        for strategy_id, overrides in configs.items():
            yield strategy_id, label, overrides


@pytest.mark.parametrize("strategy_id, name, overrides", list(_candidates()))
def test_every_candidate_and_baseline_is_a_valid_strategy_config(strategy_id, name, overrides):
    config = CONFIGS[strategy_id](**overrides)
    policy = parse_exit_policy(config.exit, strategy_id)
    fits = {"iron_fly": study.THETA, "strangle": study.GAMMA}.get(policy.kind)
    assert fits in (None, strategy_id), f"{name}: a {policy.kind} exit on {strategy_id}"


def test_the_default_backtest_runs_the_exits_the_strategies_default_to():
    """configs/backtest.yaml states the chosen exits; a strategy built without a config gets the same ones."""
    from nautilus_trader.config import StrategyFactory

    from odte_nautilus.backtest import load_backtest_config

    config = load_backtest_config(study.REPO / "configs" / "backtest.yaml")
    for entry in config.importable():
        built = StrategyFactory.create(entry).config
        default = type(built)()
        assert parse_exit_policy(built.exit, "yaml") == parse_exit_policy(default.exit, "class")
        assert (built.take_profit_partial_pct, built.take_profit_full_pct) == (
            default.take_profit_partial_pct,
            default.take_profit_full_pct,
        )
