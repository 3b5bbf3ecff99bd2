"""The exit rules that fit each structure (risk/exits.py) and the typed exit policies (risk/policy.py)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from odte_nautilus.risk.exits import HoldToFlatten, IronFlyLevels, IronFlyRule, StrangleRule
from odte_nautilus.risk.model import ExitKind
from odte_nautilus.risk.policy import (
    FourDimensionalExit,
    HoldExit,
    IronFlyExit,
    PolicyError,
    StrangleExit,
    load_policy,
    parse_exit_policy,
)
from odte_nautilus.risk.time_units import MINUTE_NS

T0 = 1_710_511_200_000_000_000  # 2024-03-15 10:00 New York
BODY = 5100.0
FLY = IronFlyLevels(credit=12.0, body=BODY, wing_points=25.0)  # breakevens 5088 / 5112, max loss 13


def fly(loss: float | None = 0.5, breakeven: float | None = None, time_exit_ns: int | None = None) -> IronFlyRule:
    return IronFlyRule(FLY, loss, breakeven, time_exit_ns)


# -- the iron fly ---------------------------------------------------------------------------------------------


def test_an_iron_flys_max_loss_and_breakevens_come_from_its_credit_and_wings():
    assert FLY.max_loss == 13.0
    assert FLY.breakevens == (5088.0, 5112.0)


@pytest.mark.parametrize("credit", [0.0, -1.0, 25.0, 30.0])
def test_an_iron_fly_with_no_risk_or_no_reward_is_refused(credit):
    with pytest.raises(ValueError, match="credit"):
        IronFlyLevels(credit, BODY, 25.0)


def test_the_fly_stops_when_it_has_lost_its_multiple_of_the_credit_not_before():
    rule = fly(loss=0.5)  # 12 credit: out when closing costs 18
    assert rule.check_hard(17.99, BODY, T0) is None
    assert rule.check_hard(18.0, BODY, T0) is ExitKind.STOP_LOSS
    assert rule.check_hard(3.0, BODY, T0) is None  # the credit decaying is the trade working


def test_a_loss_level_beyond_the_wings_never_fires_the_wings_cap_the_loss():
    rule = fly(loss=2.0)  # 36 to close: more than the 25-point wings can ever cost
    assert rule.check_hard(25.0, BODY + 40, T0) is None


def test_the_fly_stops_when_the_underlying_goes_its_fraction_of_the_way_to_a_breakeven_either_side():
    rule = fly(loss=None, breakeven=0.75)  # 9 of the 12 points to a breakeven
    assert rule.check_hard(12.0, BODY + 8.99, T0) is None
    assert rule.check_hard(12.0, BODY + 9.0, T0) is ExitKind.STOP_BREAKEVEN
    assert rule.check_hard(12.0, BODY - 9.0, T0) is ExitKind.STOP_BREAKEVEN
    assert rule.check_hard(12.0, BODY - 8.99, T0) is None


def test_the_loss_is_named_before_the_breakeven():
    assert fly(loss=0.5, breakeven=1.0).check_hard(20.0, BODY + 15, T0) is ExitKind.STOP_LOSS


def test_the_fly_exits_at_its_time_on_a_mark_of_that_time():
    rule = fly(loss=None, time_exit_ns=T0 + 60 * MINUTE_NS)
    assert rule.check_slow(12.0, BODY, T0 + 60 * MINUTE_NS - 1) is None
    assert rule.check_slow(12.0, BODY, T0 + 60 * MINUTE_NS) is ExitKind.TIME_EXIT
    assert rule.check_hard(12.0, BODY, T0 + 90 * MINUTE_NS) is None  # a time is a slow dimension


def test_a_dimension_set_to_none_is_off():
    rule = fly(loss=None, breakeven=None, time_exit_ns=None)
    assert rule.check_hard(24.9, BODY + 50, T0) is None and rule.check_slow(24.9, BODY + 50, T0 + 10**15) is None


@pytest.mark.parametrize("loss, breakeven", [(0.0, None), (-1.0, None), (None, 0.0), (None, 2.5)])
def test_fly_parameters_out_of_range_are_refused(loss, breakeven):
    with pytest.raises(ValueError):
        fly(loss, breakeven)


# -- the strangle ---------------------------------------------------------------------------------------------


def strangle(loss: float | None = 0.5, minutes: float | None = 60.0) -> StrangleRule:
    return StrangleRule(10.0, T0, loss, minutes)


def test_the_strangle_stops_when_its_share_of_the_debit_is_lost():
    rule = strangle(loss=0.5)
    assert rule.check_hard(5.01, BODY, T0) is None
    assert rule.check_hard(5.0, BODY, T0) is ExitKind.STOP_LOSS


def test_the_strangle_gives_up_when_the_move_has_not_come_by_its_time_stop():
    rule = strangle(loss=None, minutes=60)
    assert rule.check_slow(9.0, BODY, T0 + 60 * MINUTE_NS - 1) is None  # not yet
    assert rule.check_slow(9.0, BODY, T0 + 60 * MINUTE_NS) is ExitKind.STOP_NO_MOVE
    assert rule.check_slow(10.0, BODY, T0 + 90 * MINUTE_NS) is None  # the move paid for it: kept


@pytest.mark.parametrize("loss, minutes", [(0.0, 60), (1.0, 60), (0.5, 0), (0.5, -5)])
def test_strangle_parameters_out_of_range_are_refused(loss, minutes):
    with pytest.raises(ValueError):
        strangle(loss, minutes)


def test_a_nan_mark_or_underlying_never_fires():
    nan = math.nan
    assert fly(0.5, 0.5, T0).check_hard(nan, nan, T0) is None
    assert strangle().check_hard(nan, BODY, T0) is None
    assert strangle().check_slow(nan, BODY, T0 + 10**15) is None


def test_holding_never_fires():
    rule = HoldToFlatten()
    assert rule.check_hard(0.01, 0.0, T0) is None and rule.check_slow(1e6, 1e6, T0 + 10**15) is None


# -- properties -----------------------------------------------------------------------------------------------

_credit = st.floats(0.5, 24.5)
_fraction = st.floats(0.05, 2.0)
_multiple = st.floats(0.05, 3.0)


@given(_credit, _multiple, _fraction, st.floats(0.0, 60.0), st.floats(-60.0, 60.0))
def test_the_fly_never_stops_inside_its_levels_and_always_beyond_them(credit, multiple, fraction, mark, move):
    """Whatever the credit and parameters: a mark under the loss level with the underlying nearer the body
    than the breakeven fraction never stops; a mark at or over the level always does (as STOP_LOSS)."""
    rule = IronFlyRule(IronFlyLevels(credit, BODY, 25.0), multiple, fraction, None)
    kind = rule.check_hard(mark, BODY + move, T0)
    loss_level, near = credit * (1 + multiple), credit * fraction
    if mark >= loss_level * (1 + 1e-9):
        assert kind is ExitKind.STOP_LOSS
    elif mark < loss_level * (1 - 1e-9) and abs(move) < near - 1e-6:
        assert kind is None
    if kind is ExitKind.STOP_BREAKEVEN:
        assert abs(move) >= near - 1e-6


@given(st.floats(0.5, 50.0), st.floats(0.05, 0.95), st.floats(0.0, 100.0), st.integers(0, 400))
def test_the_strangle_stop_is_monotone_in_the_mark(debit, fraction, mark, minutes):
    """A lower mark never stops less than a higher one, and the time stop keeps any mark at or over the debit."""
    rule = StrangleRule(debit, T0, fraction, 60.0)
    now = T0 + minutes * MINUTE_NS
    if rule.check_hard(mark, BODY, now) is ExitKind.STOP_LOSS:
        assert rule.check_hard(mark * 0.5, BODY, now) is ExitKind.STOP_LOSS
    if mark >= debit:
        assert rule.check_slow(mark, BODY, now) is None


# -- the typed policies ---------------------------------------------------------------------------------------


def test_no_exit_is_the_seeds_four_dimensional_stop():
    assert parse_exit_policy(None, "X-001") == FourDimensionalExit()


def test_each_exit_kind_parses_with_its_parameters():
    assert parse_exit_policy({"kind": "hold"}, "X") == HoldExit()
    fly_policy = parse_exit_policy({"kind": "iron_fly", "loss_credit_multiple": 0.5, "time_exit": "15:00"}, "X")
    assert fly_policy == IronFlyExit(loss_credit_multiple=0.5, time_exit="15:00")
    assert parse_exit_policy({"kind": "strangle", "time_stop_minutes": 30}, "X") == StrangleExit(time_stop_minutes=30)


@pytest.mark.parametrize(
    "raw, says",
    [
        ({"kind": "fly"}, "kind must be one of"),
        ({}, "kind must be one of"),
        ({"kind": "iron_fly", "loss": 1}, "unknown key"),
        ({"kind": "strangle", "loss_debit_fraction": 1.5}, "less than 1"),
        ({"kind": "iron_fly", "time_exit": "25:00"}, "HH:MM"),
        ({"kind": "iron_fly", "breakeven_fraction": 0}, "greater than 0"),
    ],
)
def test_a_bad_exit_policy_is_refused_naming_the_strategy_and_the_key(raw, says):
    with pytest.raises(PolicyError, match=says) as caught:
        parse_exit_policy(raw, "ThetaHarvester-001")
    assert str(caught.value).startswith("ThetaHarvester-001: exit")


def test_seed_000s_live_profile_imposes_its_four_dimensional_stop_on_every_strategy():
    """The seed's stop stays the single_position_0dte profile's, whatever a strategy config asks."""
    policy = load_policy("single_position_0dte")
    assert policy.exit_for("GammaScalper-002") == FourDimensionalExit()
    assert policy.exit_for("ThetaHarvester-001") == FourDimensionalExit()


def test_the_paper_profile_leaves_the_exit_to_the_strategy_config():
    assert load_policy("multi_strategy_paper").exit_for("GammaScalper-002") is None
