"""Seed 000's drawdown ladder and loss-streak arithmetic, at every threshold."""

from __future__ import annotations

import pytest

from odte_nautilus.risk.ladder import (
    LadderStage,
    StreakStage,
    ladder_losses,
    ladder_stage,
    streak_stage,
    whole_contracts,
)
from odte_nautilus.risk.policy import DrawdownLadder, LossStreak

LADDER = DrawdownLadder(soft_stop_pct=1.5, hard_stop_pct=2.0, soft_stop_size_factor=0.5)
STREAK = LossStreak(half_size_after=2, stop_after=3)


def test_ladder_losses_are_dollars_of_nav() -> None:
    assert ladder_losses(100_000.0, LADDER) == (1_500.0, 2_000.0)
    assert ladder_losses(250_000.0, LADDER) == (3_750.0, 5_000.0)


@pytest.mark.parametrize(
    ("day_pnl", "stage"),
    [
        (0.0, LadderStage.NORMAL),
        (500.0, LadderStage.NORMAL),
        (-1_499.99, LadderStage.NORMAL),
        (-1_500.0, LadderStage.SOFT_STOP),
        (-1_999.99, LadderStage.SOFT_STOP),
        (-2_000.0, LadderStage.HARD_STOP),
        (-9_000.0, LadderStage.HARD_STOP),
    ],
)
def test_ladder_stage_at_each_threshold(day_pnl: float, stage: LadderStage) -> None:
    assert ladder_stage(day_pnl, 100_000.0, LADDER) is stage


def test_ladder_stage_scales_with_nav() -> None:
    assert ladder_stage(-2_000.0, 200_000.0, LADDER) is LadderStage.NORMAL
    assert ladder_stage(-3_000.0, 200_000.0, LADDER) is LadderStage.SOFT_STOP
    assert ladder_stage(-4_000.0, 200_000.0, LADDER) is LadderStage.HARD_STOP


@pytest.mark.parametrize(
    ("streak", "stage"),
    [
        (0, StreakStage.NORMAL),
        (1, StreakStage.NORMAL),
        (2, StreakStage.SIZE_CUT),
        (3, StreakStage.STOP),
        (7, StreakStage.STOP),
    ],
)
def test_streak_stage_at_each_threshold(streak: int, stage: StreakStage) -> None:
    assert streak_stage(streak, STREAK) is stage


@pytest.mark.parametrize(
    ("quantity", "factor", "cut"),
    [(2, 0.5, 1), (3, 0.5, 1), (1, 0.5, 0), (4, 0.5, 2), (100, 0.29, 29), (10, 0.7, 7), (5, 0.2, 1), (10, 2.3, 23)],
)
def test_whole_contracts_floors_to_whole_contracts(quantity: int, factor: float, cut: int) -> None:
    # 100 x 0.29 and 10 x 2.3 are 28.999999999999996 and 22.999999999999996 in floating point.
    assert whole_contracts(quantity, factor) == cut


def test_a_nan_pnl_fails_closed() -> None:
    assert ladder_stage(float("nan"), 100_000.0, LADDER) is LadderStage.HARD_STOP
