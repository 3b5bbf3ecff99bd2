"""Risk profiles load, and a doubtful one is refused with the file, the key and the reason.

A risk limit that silently falls back to a default is a wish, not a limit: every bad file below must
raise ``PolicyError`` naming the file and the key a user has to fix.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from odte_nautilus.risk.policy import RISK_PROFILE_DIR, PolicyError, load_policy

BACKTEST_CONFIG = RISK_PROFILE_DIR.parent / "backtest.yaml"  # what `odte backtest` runs by default


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
    theta, gamma = multi.strategy("ThetaHarvester-001"), multi.strategy("GammaScalper-001")
    assert multi.global_limits is not None and theta is not None and gamma is not None
    assert multi.global_limits.max_daily_loss == 3_000 and multi.global_limits.max_open_risk == 20_000
    assert theta.max_open_risk_per_symbol == 10_000
    assert gamma.max_contracts == 2


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
        "invariants.no_naked_short",
        "must be true",
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


# --- seed 000's invariants: in every profile, within a sane band (issue 7, class 9) ------------------------

PROFILES = ["single_position_0dte", "multi_strategy_paper"]

REQUIRED = [
    "max_trades_per_day",
    "loss_streak",
    "loss_streak.half_size_after",
    "loss_streak.stop_after",
    "drawdown_ladder",
    "drawdown_ladder.soft_stop_pct",
    "drawdown_ladder.hard_stop_pct",
    "eod",
    "eod.flatten_minutes_before_close",
    "eod.force_cancel_all_before_eod_flatten",
    "invariants.no_naked_short",
    "invariants.forbid_add_to_loser",
    "invariants.forbid_reverse_without_flat",
]


def _drop(raw: dict, dotted: str) -> dict:
    *path, last = dotted.split(".")
    node = raw
    for key in path:
        node = node[key]
    del node[last]
    return raw


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("dotted", REQUIRED)
def test_a_profile_missing_a_seed_000_invariant_is_refused_naming_it(tmp_path: Path, profile: str, dotted: str) -> None:
    """No default stands in for a missing invariant: the key must be written in every profile."""
    path = write(tmp_path, _drop(shipped(profile), dotted))
    with pytest.raises(PolicyError) as refused:
        load_policy(path)
    assert str(refused.value).startswith(f"{path}: {dotted}: required key missing")


OUT_OF_BAND = {
    "no trade cap above 5": ("max_trades_per_day", 6, "less than or equal to 5"),
    "trade cap below 2": ("max_trades_per_day", 1, "greater than or equal to 2"),
    "hard stop at 100 % of NAV": ("drawdown_ladder.hard_stop_pct", 100, "less than or equal to 5"),
    "hard stop just above 5 % of NAV": ("drawdown_ladder.hard_stop_pct", 5.01, "less than or equal to 5"),
    "hard stop typed as a fraction": ("drawdown_ladder.hard_stop_pct", 0.02, "greater than or equal to 0.5"),
    "soft stop cut that barely cuts": ("drawdown_ladder.soft_stop_size_factor", 0.9, "less than or equal to 0.5"),
    "flatten one minute before the close": ("eod.flatten_minutes_before_close", 1, "greater than or equal to 10"),
    "flatten two hours before the close": ("eod.flatten_minutes_before_close", 120, "less than or equal to 60"),
    "cancel-first flatten switched off": ("eod.force_cancel_all_before_eod_flatten", False, "must be true"),
    "streak stop that never fires": ("loss_streak.stop_after", 6, "less than or equal to 5"),
    "streak stop after one loss with no halving before it": ("loss_streak.stop_after", 1, "greater than or equal to 2"),
    "streak cut that barely cuts": ("loss_streak.size_factor", 0.75, "less than or equal to 0.5"),
    "adding to a loser allowed": ("invariants.forbid_add_to_loser", False, "must be true"),
    "reversing through flat allowed": ("invariants.forbid_reverse_without_flat", False, "must be true"),
}


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize(("dotted", "value", "why"), OUT_OF_BAND.values(), ids=OUT_OF_BAND.keys())
def test_a_seed_000_invariant_out_of_its_band_is_refused(
    tmp_path: Path, profile: str, dotted: str, value: object, why: str
) -> None:
    path = write(tmp_path, _set(shipped(profile), dotted, value))
    with pytest.raises(PolicyError) as refused:
        load_policy(path)
    message = str(refused.value)
    assert message.startswith(f"{path}: {dotted}: ") and why in message


def test_the_streak_halves_before_it_stops(tmp_path: Path) -> None:
    path = write(tmp_path, _set(shipped("multi_strategy_paper"), "loss_streak.half_size_after", 3))
    with pytest.raises(PolicyError, match=r": loss_streak: half_size_after \(3\) must be below stop_after \(3\)"):
        load_policy(path)


EDGES = {
    "trade cap 2": ("max_trades_per_day", 2),
    "trade cap 5": ("max_trades_per_day", 5),
    "hard stop 5 %": ("drawdown_ladder.hard_stop_pct", 5.0),
    "hard stop 0.5 % (soft below it)": ("drawdown_ladder.soft_stop_pct", 0.25),
    "flatten 10 minutes before": ("eod.flatten_minutes_before_close", 10),
    "flatten 60 minutes before": ("eod.flatten_minutes_before_close", 60),
    "streak stop after 5": ("loss_streak.stop_after", 5),
}


@pytest.mark.parametrize(("dotted", "value"), EDGES.values(), ids=EDGES.keys())
def test_the_edges_of_each_band_are_accepted(tmp_path: Path, dotted: str, value: object) -> None:
    raw = _set(shipped("single_position_0dte"), dotted, value)
    if dotted == "drawdown_ladder.soft_stop_pct":
        raw["drawdown_ladder"]["hard_stop_pct"] = 0.5
    policy = load_policy(write(tmp_path, raw))
    node = policy
    for key in dotted.split("."):
        node = getattr(node, key)
    assert node == value


def test_a_dollar_daily_loss_is_no_substitute_for_the_drawdown_ladder(tmp_path: Path) -> None:
    """The ladder is the bounded daily hard stop; seed 003's dollar limit can only add to it."""
    raw = _drop(shipped("multi_strategy_paper"), "drawdown_ladder")
    assert raw["global_limits"]["max_daily_loss"] == 3_000
    with pytest.raises(PolicyError, match=r": drawdown_ladder: required key missing"):
        load_policy(write(tmp_path, raw))


def test_the_dollar_daily_loss_may_be_left_out_when_the_ladder_is_there(tmp_path: Path) -> None:
    raw = _drop(shipped("multi_strategy_paper"), "global_limits")
    assert load_policy(write(tmp_path, raw)).global_limits is None


@pytest.mark.parametrize("profile", PROFILES)
def test_every_shipped_profile_carries_seed_000s_invariants(profile: str) -> None:
    policy = load_policy(profile)
    assert 2 <= policy.max_trades_per_day <= 5
    assert (policy.loss_streak.half_size_after, policy.loss_streak.stop_after) == (2, 3)
    assert policy.drawdown_ladder.soft_stop_pct == 1.5 and policy.drawdown_ladder.hard_stop_pct <= 5
    assert policy.eod.flatten_minutes_before_close == 15 and policy.eod.force_cancel_all_before_eod_flatten
    inv = policy.invariants
    assert inv.no_naked_short and inv.forbid_add_to_loser and inv.forbid_reverse_without_flat


def test_the_paper_profile_caps_trades_above_its_strategies_planned_entries() -> None:
    """Seed 000's cap, across both systems, never refuses an entry the strategies plan (2 each a day)."""
    planned = sum(s["config"]["max_entries_per_day"] for s in yaml.safe_load(BACKTEST_CONFIG.read_text())["strategies"])
    assert planned == 4 and load_policy("multi_strategy_paper").max_trades_per_day == 5


def test_the_paper_profile_ladder_meets_seed_003s_dollar_stop_on_the_default_nav() -> None:
    """On the backtest's NAV the ladder's hard stop is seed 003's $3,000: the two hard stops agree."""
    nav = yaml.safe_load(BACKTEST_CONFIG.read_text())["starting_balance"]
    policy = load_policy("multi_strategy_paper")
    assert policy.global_limits is not None
    assert nav * policy.drawdown_ladder.hard_stop_pct / 100 == policy.global_limits.max_daily_loss == 3_000


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
    text = (
        (RISK_PROFILE_DIR / "multi_strategy_paper.yaml")
        .read_text()
        .replace("    max_contracts: 3\n", "    max_contracts: 3\n    stop:\n      adverse_underlying_points: 25\n", 1)
    )
    path = tmp_path / "tuned.yaml"
    path.write_text(text)
    policy = load_policy(path)
    assert policy.stop_for("ThetaHarvester-001").adverse_underlying_points == 25
    assert policy.stop_for("GammaScalper-002").adverse_underlying_points == policy.stop.adverse_underlying_points


def test_a_strategy_stop_is_validated_like_the_profile_stop(tmp_path):
    text = (
        (RISK_PROFILE_DIR / "multi_strategy_paper.yaml")
        .read_text()
        .replace("    max_contracts: 3\n", "    max_contracts: 3\n    stop:\n      premium_stop_pct: 10\n", 1)
    )
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(PolicyError, match=re.escape("strategies.theta_harvester.stop")):
        load_policy(path)
