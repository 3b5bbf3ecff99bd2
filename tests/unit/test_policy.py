"""Risk profiles load, and a doubtful one is refused with the file, the key and the reason.

A risk limit that silently falls back to a default is a wish, not a limit: every bad file below must
raise ``PolicyError`` naming the file and the key a user has to fix.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from odte_nautilus.risk.policy import RISK_PROFILE_DIR, PolicyError, load_policy


def shipped(name: str) -> dict:
    return yaml.safe_load((RISK_PROFILE_DIR / f"{name}.yaml").read_text())


def write(tmp_path: Path, raw: object, name: str = "profile.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(raw) if not isinstance(raw, str) else raw)
    return path


@pytest.mark.parametrize("name", ["single_position_0dte", "multi_strategy_paper"])
def test_shipped_profiles_load_by_name_and_by_path(name: str) -> None:
    by_name = load_policy(name)
    assert by_name.profile == name
    assert load_policy(RISK_PROFILE_DIR / f"{name}.yaml") == by_name


def test_shipped_numbers_are_the_seeds() -> None:
    single, multi = load_policy("single_position_0dte"), load_policy("multi_strategy_paper")
    assert (single.drawdown_ladder.soft_stop_pct, single.drawdown_ladder.hard_stop_pct) == (1.5, 2.0)
    assert (single.loss_streak.half_size_after, single.loss_streak.stop_after) == (2, 3)
    assert multi.global_limits.max_daily_loss == 3_000 and multi.global_limits.max_open_risk == 20_000
    assert multi.strategy("ThetaHarvester-001").max_open_risk_per_symbol == 10_000
    assert multi.strategy("GammaScalper-001").max_contracts == 2


def _set(raw: dict, dotted: str, value: object) -> dict:
    *path, last = dotted.split(".")
    node = raw
    for key in path:
        node = node[key]
    node[last] = value
    return raw


BAD = {
    "unknown top-level key": ("multi_strategy_paper", "max_trade_per_day", 3, "max_trade_per_day", "unknown key"),
    "unknown nested key": (
        "multi_strategy_paper",
        "strategies.theta_harvester.max_risk",
        5,
        "strategies.theta_harvester.max_risk",
        "unknown key",
    ),
    "wrong type": (
        "multi_strategy_paper",
        "global_limits.max_open_packages",
        "five",
        "global_limits.max_open_packages",
        "integer",
    ),
    "soft stop not below hard stop": (
        "single_position_0dte",
        "drawdown_ladder.soft_stop_pct",
        2.0,
        "drawdown_ladder",
        "soft_stop_pct",
    ),
    "negative limit": (
        "multi_strategy_paper",
        "global_limits.max_daily_loss",
        -3000,
        "global_limits.max_daily_loss",
        "greater than 0",
    ),
    "naked shorts allowed": (
        "multi_strategy_paper",
        "invariants.no_naked_short",
        False,
        "invariants",
        "no_naked_short must be true",
    ),
    "too many trades a day": (
        "single_position_0dte",
        "max_trades_per_day",
        9,
        "max_trades_per_day",
        "less than or equal to 5",
    ),
    "min above max contracts": (
        "multi_strategy_paper",
        "strategies.gamma_scalper.min_contracts",
        3,
        "strategies.gamma_scalper",
        "min (3)",
    ),
}


@pytest.mark.parametrize(("profile", "dotted", "value", "key", "why"), BAD.values(), ids=BAD.keys())
def test_bad_profile_is_refused_naming_file_and_key(
    tmp_path: Path, profile: str, dotted: str, value: object, key: str, why: str
) -> None:
    path = write(tmp_path, _set(shipped(profile), dotted, value))
    with pytest.raises(PolicyError) as refused:
        load_policy(path)
    message = str(refused.value)
    assert message.startswith(f"{path}: {key}: ")
    assert why in message


def test_a_profile_without_a_daily_hard_stop_is_refused(tmp_path: Path) -> None:
    raw = shipped("multi_strategy_paper")
    del raw["global_limits"]
    with pytest.raises(PolicyError, match="needs a daily hard stop"):
        load_policy(write(tmp_path, raw))


def test_every_problem_is_counted(tmp_path: Path) -> None:
    raw = _set(_set(shipped("multi_strategy_paper"), "max_trade_per_day", 3), "global_limits.max_daily_loss", -1)
    with pytest.raises(PolicyError, match=r"and 1 more problem"):
        load_policy(write(tmp_path, raw))


@pytest.mark.parametrize(
    ("text", "why"), [("profile: [unclosed\n", "not valid YAML"), ("- a\n- b\n", "expected a mapping")]
)
def test_a_file_that_is_not_a_mapping_is_refused(tmp_path: Path, text: str, why: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(PolicyError, match=why) as refused:
        load_policy(path)
    assert str(path) in str(refused.value)


def test_an_unknown_profile_name_lists_the_shipped_ones() -> None:
    with pytest.raises(PolicyError) as refused:
        load_policy("single_position_odte")
    assert "multi_strategy_paper" in str(refused.value) and "single_position_0dte" in str(refused.value)


def test_a_strategy_may_carry_its_own_four_dimensional_stop(tmp_path):
    """The profile's stop arms every strategy's packages unless the strategy's limits give their own."""
    text = (RISK_PROFILE_DIR / "multi_strategy_paper.yaml").read_text().replace(
        "    max_contracts: 3\n", "    max_contracts: 3\n    stop:\n      adverse_underlying_points: 25\n", 1
    )
    path = tmp_path / "tuned.yaml"
    path.write_text(text)
    policy = load_policy(path)
    assert policy.stop_for("ThetaHarvester-001").adverse_underlying_points == 25
    assert policy.stop_for("GammaScalper-002").adverse_underlying_points == policy.stop.adverse_underlying_points


def test_a_strategy_stop_is_validated_like_the_profile_stop(tmp_path):
    text = (RISK_PROFILE_DIR / "multi_strategy_paper.yaml").read_text().replace(
        "    max_contracts: 3\n", "    max_contracts: 3\n    stop:\n      premium_stop_pct: 10\n", 1
    )
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(PolicyError, match="strategies.theta_harvester.stop"):
        load_policy(path)
