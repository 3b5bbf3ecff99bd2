"""Seed 000's four-dimensional stop, each dimension at its threshold, for long and short premium."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from odte_nautilus.risk.model import ExitKind
from odte_nautilus.risk.policy import FourDimensionalStop
from odte_nautilus.risk.stops import PackageStop
from odte_nautilus.risk.time_units import MINUTE_NS, NS_PER_SECOND

CONFIG = FourDimensionalStop()  # -35 %, 10 points, 8 min / 5 points, -20 % while |move| <= 2 points
T0 = 1_710_511_200_000_000_000  # 2024-03-15 10:00 New York
SPX = 5100.0


def long_stop(premium: float = 3.0, bias: int = 0) -> PackageStop:
    return PackageStop(CONFIG, premium, SPX, T0, long_premium=True, bias=bias)


def short_stop(credit: float = 12.0, bias: int = 0) -> PackageStop:
    return PackageStop(CONFIG, credit, SPX, T0, long_premium=False, bias=bias)


# -- premium dimension (hard) ----------------------------------------------------------------------------


def test_long_premium_stop_fires_at_minus_35_percent_not_before():
    stop = long_stop(3.0)
    assert stop.check_hard(1.96, SPX, T0) is None
    assert stop.check_hard(1.95, SPX, T0) is ExitKind.STOP_PREMIUM


@pytest.mark.parametrize("entry, mark, long_premium", [(1.40, 0.91, True), (2.20, 2.97, False)])
def test_a_mark_exactly_on_the_threshold_fires_despite_binary_rounding(entry, mark, long_premium):
    """1.40 x 0.65 is 0.9099999999999999 and 2.20 x 1.35 is 2.9700000000000006 in floating point."""
    stop = PackageStop(CONFIG, entry, SPX, T0, long_premium=long_premium)
    assert stop.check_hard(mark, SPX, T0) is ExitKind.STOP_PREMIUM


def test_short_premium_stop_fires_when_cost_to_close_is_up_35_percent():
    stop = short_stop(12.0)
    assert stop.check_hard(16.19, SPX, T0) is None
    assert stop.check_hard(16.2, SPX, T0) is ExitKind.STOP_PREMIUM
    assert stop.check_hard(5.0, SPX, T0) is None  # the credit decaying is the trade working


def test_premium_stop_is_checked_before_the_underlying_move():
    stop = short_stop(12.0)
    assert stop.check_hard(20.0, SPX + 30, T0) is ExitKind.STOP_PREMIUM


# -- adverse underlying move (hard) ------------------------------------------------------------------------


def test_neutral_long_strangle_has_no_adverse_move():
    stop = long_stop()
    assert stop.check_hard(3.0, SPX - 40, T0) is None
    assert stop.check_hard(3.0, SPX + 40, T0) is None


@pytest.mark.parametrize("bias, adverse", [(1, -1.0), (-1, 1.0)])
def test_directional_long_stops_on_10_points_against_its_bias(bias, adverse):
    stop = long_stop(bias=bias)
    assert stop.check_hard(3.0, SPX + adverse * 9.99, T0) is None
    assert stop.check_hard(3.0, SPX + adverse * 10.0, T0) is ExitKind.STOP_UNDERLYING_MOVE
    assert stop.check_hard(3.0, SPX - adverse * 30.0, T0) is None  # a move with the bias is never adverse


@pytest.mark.parametrize("move", [10.0, -10.0])
def test_neutral_short_fly_stops_on_10_points_either_way(move):
    stop = short_stop()
    assert stop.check_hard(12.0, SPX + move * 0.999, T0) is None
    assert stop.check_hard(12.0, SPX + move, T0) is ExitKind.STOP_UNDERLYING_MOVE


def test_biased_short_stops_only_against_its_bias():
    stop = short_stop(bias=1)
    assert stop.check_hard(12.0, SPX + 15, T0) is None
    assert stop.check_hard(12.0, SPX - 10, T0) is ExitKind.STOP_UNDERLYING_MOVE


def test_adverse_move_threshold_follows_the_config():
    stop = PackageStop(FourDimensionalStop(adverse_underlying_points=4.0), 12.0, SPX, T0, long_premium=False)
    assert stop.check_hard(12.0, SPX + 4.0, T0) is ExitKind.STOP_UNDERLYING_MOVE


# -- no progress (slow) ------------------------------------------------------------------------------------


def test_long_without_progress_stops_at_8_minutes_not_before():
    stop = long_stop()
    assert stop.check_slow(3.0, SPX + 4.9, T0 + 8 * MINUTE_NS - 1) is None
    assert stop.check_slow(3.0, SPX + 4.9, T0 + 8 * MINUTE_NS) is ExitKind.STOP_NO_PROGRESS


def test_progress_resets_the_clock_and_raises_the_anchor():
    stop = long_stop()
    assert stop.check_slow(3.0, SPX - 5.0, T0 + 6 * MINUTE_NS) is None  # neutral: 5 points either way
    assert stop.check_slow(3.0, SPX - 9.0, T0 + 13 * MINUTE_NS) is None  # only 4 beyond the anchor
    assert stop.check_slow(3.0, SPX - 9.0, T0 + 14 * MINUTE_NS) is ExitKind.STOP_NO_PROGRESS


def test_new_progress_keeps_a_long_package_alive_past_8_minutes():
    stop = long_stop()
    assert stop.check_slow(3.0, SPX + 5.0, T0 + 7 * MINUTE_NS) is None
    assert stop.check_slow(3.0, SPX + 10.0, T0 + 14 * MINUTE_NS) is None
    assert stop.check_slow(3.0, SPX + 10.0, T0 + 21 * MINUTE_NS) is None
    assert stop.check_slow(3.0, SPX + 10.0, T0 + 22 * MINUTE_NS) is ExitKind.STOP_NO_PROGRESS


def test_moving_back_toward_entry_is_not_progress_for_a_strangle():
    stop = long_stop()
    assert stop.check_slow(3.0, SPX + 8.0, T0 + MINUTE_NS) is None  # anchor at +8
    assert stop.check_slow(3.0, SPX + 2.0, T0 + 2 * MINUTE_NS) is None  # 6 points back: not progress
    assert stop.check_slow(3.0, SPX + 2.0, T0 + 9 * MINUTE_NS) is ExitKind.STOP_NO_PROGRESS


def test_directional_progress_counts_only_along_the_bias():
    stop = long_stop(bias=-1)
    assert stop.check_slow(3.0, SPX + 6.0, T0 + MINUTE_NS) is None  # the wrong way: no progress
    assert stop.check_slow(3.0, SPX + 6.0, T0 + 8 * MINUTE_NS) is ExitKind.STOP_NO_PROGRESS
    stop = long_stop(bias=-1)
    assert stop.check_slow(3.0, SPX - 5.0, T0 + MINUTE_NS) is None
    assert stop.check_slow(3.0, SPX - 5.0, T0 + 8 * MINUTE_NS) is None


def test_short_premium_has_no_no_progress_dimension():
    stop = short_stop()
    assert stop.check_slow(11.0, SPX, T0 + 300 * MINUTE_NS) is None


# -- IV crush / expansion (slow) ---------------------------------------------------------------------------


def test_long_iv_crush_fires_at_minus_20_percent_while_underlying_barely_moves():
    stop = long_stop(3.0)
    assert stop.check_slow(2.41, SPX + 2.0, T0 + NS_PER_SECOND) is None
    assert stop.check_slow(2.4, SPX + 2.0, T0 + NS_PER_SECOND) is ExitKind.STOP_IV_CRUSH
    assert stop.check_slow(2.4, SPX - 2.0, T0 + NS_PER_SECOND) is ExitKind.STOP_IV_CRUSH


def test_premium_drop_with_a_real_move_is_not_iv_crush():
    stop = long_stop(3.0)
    assert stop.check_slow(2.4, SPX + 2.01, T0 + NS_PER_SECOND) is None


def test_short_iv_expansion_fires_when_cost_to_close_is_up_20_percent_in_a_flat_market():
    stop = short_stop(12.0)
    assert stop.check_slow(14.39, SPX, T0 + NS_PER_SECOND) is None
    assert stop.check_slow(14.4, SPX + 1.5, T0 + NS_PER_SECOND) is ExitKind.STOP_IV_EXPANSION
    assert stop.check_slow(14.4, SPX + 3.0, T0 + NS_PER_SECOND) is None


def test_iv_crush_is_named_before_no_progress():
    stop = long_stop(3.0)
    assert stop.check_slow(2.0, SPX, T0 + 9 * MINUTE_NS) is ExitKind.STOP_IV_CRUSH


def test_slow_dimensions_are_not_hard_ones():
    """A -20 % flat-market mark is slow business; the hard timer must not act on it (and vice versa)."""
    stop = long_stop(3.0, bias=1)
    assert stop.check_hard(2.4, SPX, T0 + 9 * MINUTE_NS) is None
    assert stop.check_slow(3.0, SPX - 10.0, T0 + NS_PER_SECOND) is None


# -- arming ----------------------------------------------------------------------------------------------


def test_from_fill_reads_direction_from_the_sign_of_the_price():
    debit = PackageStop.from_fill(CONFIG, 3.0, SPX, T0)
    credit = PackageStop.from_fill(CONFIG, -12.0, SPX, T0)
    assert (debit.long_premium, debit.entry_premium) == (True, 3.0)
    assert (credit.long_premium, credit.entry_premium) == (False, 12.0)
    assert credit.check_hard(16.2, SPX, T0) is ExitKind.STOP_PREMIUM


@pytest.mark.parametrize(
    "kwargs, match",
    [({"entry_premium": 0.0}, "positive magnitude"), ({"entry_premium": -3.0}, "positive"), ({"bias": 2}, "bias")],
)
def test_bad_arming_is_refused(kwargs, match):
    args = {"entry_premium": 3.0, "bias": 0} | kwargs
    with pytest.raises(ValueError, match=match):
        PackageStop(CONFIG, args["entry_premium"], SPX, T0, long_premium=True, bias=args["bias"])


def test_a_zero_fill_price_cannot_arm_a_stop():
    with pytest.raises(ValueError, match=r"never booked at 0\.0"):
        PackageStop.from_fill(CONFIG, 0.0, SPX, T0)


# -- properties ------------------------------------------------------------------------------------------


@given(
    entry=st.floats(0.05, 200.0),
    fraction=st.floats(0.0, 2.0),
    move=st.floats(-50.0, 50.0),
    long_premium=st.booleans(),
)
def test_premium_stop_matches_its_definition(entry, fraction, move, long_premium):
    threshold = 0.65 + 1e-9 if long_premium else 1.35 - 1e-9
    assume(abs(fraction - threshold) > 1e-12)  # within float rounding of the edge, either answer is right
    stop = PackageStop(CONFIG, entry, SPX, T0, long_premium=long_premium)
    mark = entry * fraction
    fired = stop.check_hard(mark, SPX + move, T0) is ExitKind.STOP_PREMIUM
    assert fired == (fraction <= threshold if long_premium else fraction >= threshold)


@given(premium=st.floats(0.01, 100.0), move=st.floats(-9.99, 9.99), elapsed=st.integers(0, 10**13))
def test_a_neutral_long_package_never_stops_on_the_underlying_move(premium, move, elapsed):
    stop = long_stop(premium)
    assert stop.check_hard(premium, SPX + move * 10, T0 + elapsed) is None
