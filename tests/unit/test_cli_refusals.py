"""``odte backtest --config BAD.yaml`` refuses a bad backtest config or a bad risk profile in one clean line.

The line starts with ``refused:``, names the file, the key and the reason, goes to stderr, and the command
exits 2 before any catalog is built or any engine started: a bad input is never a traceback (issue 7,
class 9).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from odte_nautilus.cli import app
from odte_nautilus.data.cli import DATA_ERROR_EXIT
from odte_nautilus.risk.policy import RISK_PROFILE_DIR

ROOT = RISK_PROFILE_DIR.parent.parent
BACKTEST_CONFIG = ROOT / "configs" / "backtest.yaml"
runner = CliRunner()


def backtest_config(tmp_path: Path, **changes: object) -> Path:
    raw = yaml.safe_load(BACKTEST_CONFIG.read_text())
    raw.update(changes)
    path = tmp_path / "backtest.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def profile(tmp_path: Path, name: str = "single_position_0dte", drop: str | None = None, **changes: object) -> Path:
    raw = yaml.safe_load((RISK_PROFILE_DIR / f"{name}.yaml").read_text())
    if drop:
        del raw[drop]
    for dotted, value in changes.items():
        *keys, last = dotted.split("__")
        node = raw
        for key in keys:
            node = node[key]
        node[last] = value
    path = tmp_path / "profile.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def refused_line(config: Path, tmp_path: Path) -> str:
    result = runner.invoke(app, ["backtest", "--config", str(config), "--catalog", str(tmp_path / "no-catalog")])
    assert result.exit_code == DATA_ERROR_EXIT, result.output
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    assert result.stdout == "", "the refusal goes to stderr alone"
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("refused: "), result.stderr
    assert not (tmp_path / "no-catalog").exists(), "refused before building a catalog"
    return lines[0]


BAD_PROFILES = {
    "no trade cap": ({"drop": "max_trades_per_day"}, "max_trades_per_day: required key missing"),
    "no streak guard": ({"drop": "loss_streak"}, "loss_streak: required key missing"),
    "hard stop at 100 % of NAV": ({"drawdown_ladder__hard_stop_pct": 100}, "drawdown_ladder.hard_stop_pct: "),
    "flatten a minute before the close": (
        {"eod__flatten_minutes_before_close": 1},
        "eod.flatten_minutes_before_close: Input should be greater than or equal to 10",
    ),
}


@pytest.mark.parametrize(("change", "why"), BAD_PROFILES.values(), ids=BAD_PROFILES.keys())
def test_a_bad_risk_profile_is_refused_naming_its_file_key_and_reason(tmp_path, change, why) -> None:
    bad = profile(tmp_path, **change)
    config = backtest_config(tmp_path, risk_profile=str(bad))
    line = refused_line(config, tmp_path)
    assert line.startswith(f"refused: {bad}: {why}"), line
    assert line.endswith(f"(the risk_profile of {config})"), line


def test_an_unknown_risk_profile_name_is_refused_listing_the_shipped_ones(tmp_path) -> None:
    line = refused_line(backtest_config(tmp_path, risk_profile="multi_strategy_papr"), tmp_path)
    assert "no such risk profile file" in line and "multi_strategy_paper, single_position_0dte" in line


BAD_CONFIGS = {
    "unknown key": ("{}\nstarting_balanse: 5\n", "starting_balanse: Extra inputs are not permitted"),
    "bad value": ("{}\nstarting_balance: -5\n", "starting_balance: Input should be greater than 0"),
    "not a mapping": ("- catalog\n- start\n", "expected a mapping of keys at the top level, got list"),
    "not YAML": ("catalog: [unclosed\n", "cannot read the backtest config"),
}


@pytest.mark.parametrize(("text", "why"), BAD_CONFIGS.values(), ids=BAD_CONFIGS.keys())
def test_a_bad_backtest_config_is_refused_naming_its_file_key_and_reason(tmp_path, text, why) -> None:
    config = tmp_path / "backtest.yaml"
    if text.startswith("{}\n"):
        raw = yaml.safe_load(BACKTEST_CONFIG.read_text())
        raw.update(yaml.safe_load(text[3:]))
        text = yaml.safe_dump(raw)
    config.write_text(text)
    line = refused_line(config, tmp_path)
    assert line.startswith(f"refused: {config}: ") and why in line, line


def test_a_missing_backtest_config_is_refused(tmp_path) -> None:
    line = refused_line(tmp_path / "nowhere.yaml", tmp_path)
    assert line.startswith(f"refused: {tmp_path / 'nowhere.yaml'}: cannot read the backtest config"), line


def test_the_installed_command_prints_one_refused_line_and_exits_2(tmp_path) -> None:
    """The real entry point in a fresh process, output piped: no traceback, no wrapped line."""
    bad = profile(tmp_path, "multi_strategy_paper", drop="max_trades_per_day")
    config = backtest_config(tmp_path, risk_profile=str(bad), catalog=str(tmp_path / "no-catalog"))
    done = subprocess.run(
        [sys.executable, "-c", "from odte_nautilus.cli import main; main()", "backtest", "--config", str(config)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "COLUMNS": "40"},  # a narrow terminal must not wrap the line
        timeout=120,
    )
    assert done.returncode == DATA_ERROR_EXIT, done.stderr
    assert done.stdout == "" and "Traceback" not in done.stderr
    assert done.stderr.splitlines() == [
        f"refused: {bad}: max_trades_per_day: required key missing (every profile must carry it; a risk limit"
        f" never falls back to a default) (the risk_profile of {config})"
    ]
