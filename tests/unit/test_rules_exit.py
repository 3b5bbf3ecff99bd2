"""Exits through the kernel (design §15): risk-reducing, so allowed through every gate - the kill
switch, a locked day, the EOD window, the breakers - unless the exit itself would leave a naked short or
reverse a holding.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from odte_nautilus.risk.decision import ReasonCode
from odte_nautilus.risk.kernel import Kernel
from odte_nautilus.risk.model import AccountMode, ExitKind, Holding, Intent, Leg
from odte_nautilus.risk.policy import load_policy
from tests.kit import contract, entry, exit_of, fly_entry, long_strangle, ny_ns, package_view, reversed_legs, state

Code = ReasonCode
MULTI = Kernel(load_policy("multi_strategy_paper"))
SINGLE = Kernel(load_policy("single_position_0dte"))
FLY = fly_entry(package="P-0")  # short 5100 straddle, long 5120 call and 5080 put
STRANGLE = entry(long_strangle(), package="P-0")


def exit_legs(intent: Intent, legs: tuple[Leg, ...], kind: ExitKind = ExitKind.MANUAL) -> Intent:
    """An exit order that closes only some legs of ``intent``."""
    return replace(exit_of(intent, kind), legs=reversed_legs(legs))


GATES = {
    "kill switch": {"kill_switch": True},
    "locked day": {"day_locked": True, "lock_reason": "hard stop"},
    "EOD window": {"now_ns": ny_ns(15, 50)},
    "after the close": {"now_ns": ny_ns(16, 0)},
    "no session": {"session": None},
    "RISK-OFF": {"global_breaker": True},
    "past the daily loss": {"realized_pnl": -5_000.0},
    "streak stop": {"loss_streak": 5},
    "trade cap": {"trades_today": 9},
    "disabled": {"disabled_strategies": frozenset({"ThetaHarvester-001", "GammaScalper-001"})},
    "strategy breaker": {"strategy_breakers": frozenset({"ThetaHarvester-001", "GammaScalper-001"})},
    "live account": {"account": AccountMode(is_paper_account=False, broker_paper_mode=False)},
}


@pytest.mark.parametrize("gate", GATES.values(), ids=GATES.keys())
def test_a_fly_exit_passes_every_entry_gate(gate: dict) -> None:
    decision = MULTI.check(exit_of(FLY, ExitKind.KILL_SWITCH), state(package_view(FLY), **gate))
    assert (decision.allowed, decision.code, decision.size) == (True, Code.ALLOWED, 1)


@pytest.mark.parametrize("gate", GATES.values(), ids=GATES.keys())
def test_a_strangle_exit_passes_every_gate_of_the_single_position_profile(gate: dict) -> None:
    # Selling a long strangle is, as an order on its own, two short options with unbounded loss: the
    # entry-only check on the order's own maximum loss must not apply to exits.
    decision = SINGLE.check(exit_of(STRANGLE, ExitKind.EOD_FLATTEN), state(package_view(STRANGLE), **gate))
    assert decision.allowed and decision.size == 1


def test_an_exit_is_never_resized() -> None:
    held = package_view(STRANGLE, qty=2)
    decision = SINGLE.check(
        exit_of(STRANGLE, ExitKind.STOP_PREMIUM, qty=2), state(held, loss_streak=2, realized_pnl=-1_600.0)
    )
    assert (decision.allowed, decision.size) == (True, 2)


def test_closing_the_wings_before_the_body_is_refused_even_under_the_kill_switch() -> None:
    wings = exit_legs(FLY, FLY.legs[2:], ExitKind.KILL_SWITCH)
    decision = MULTI.check(wings, state(package_view(FLY), kill_switch=True))
    assert decision.code is Code.NO_NAKED_SHORT
    assert "close the short legs first" in decision.reason


def test_closing_the_body_first_is_allowed() -> None:
    body = exit_legs(FLY, FLY.legs[:2])
    assert MULTI.check(body, state(package_view(FLY))).code is Code.ALLOWED


def test_closing_one_of_two_flies_is_allowed() -> None:
    held = package_view(FLY, qty=2)
    assert MULTI.check(exit_of(FLY, ExitKind.TAKE_PROFIT_PARTIAL, qty=1), state(held)).code is Code.ALLOWED


def _short_calls_partly_covered() -> dict[str, Holding]:
    """Two short 5100 calls against one long 5120 call: one short is uncovered (a partial fill)."""
    body, wing = contract("C", 5100), contract("C", 5120)
    return {body.instrument_id: Holding(body, -2), wing.instrument_id: Holding(wing, 1)}


def test_an_exit_that_shrinks_an_uncovered_short_is_allowed() -> None:
    buy_back = replace(exit_of(FLY, ExitKind.MANUAL), legs=(Leg(contract("C", 5100), 1),), price=1.0)
    assert MULTI.check(buy_back, state(holdings=_short_calls_partly_covered())).code is Code.ALLOWED


def test_an_exit_that_widens_an_uncovered_short_is_refused() -> None:
    sell_wing = replace(exit_of(FLY, ExitKind.MANUAL), legs=(Leg(contract("C", 5120), -1),), price=-0.5)
    assert MULTI.check(sell_wing, state(holdings=_short_calls_partly_covered())).code is Code.NO_NAKED_SHORT


@pytest.mark.parametrize(("qty", "expected"), [(1, Code.ALLOWED), (2, Code.FORBID_REVERSE_WITHOUT_FLAT)])
def test_an_exit_may_not_overshoot_through_zero(qty: int, expected: ReasonCode) -> None:
    # Buying back the fly's short body twice would turn -1 into +1 on both contracts.
    body = replace(exit_legs(FLY, FLY.legs[:2], ExitKind.KILL_SWITCH), quantity=qty)
    assert MULTI.check(body, state(package_view(FLY), kill_switch=True)).code is expected


def test_overshooting_a_long_strangle_exit_is_refused() -> None:
    overshoot = exit_of(STRANGLE, ExitKind.MANUAL, qty=2)
    assert not MULTI.check(overshoot, state(package_view(STRANGLE))).allowed


@pytest.mark.parametrize("qty", [0, -1])
def test_an_exit_of_no_or_negative_packages_is_refused(qty: int) -> None:
    # A negative exit of a fly is a new fly in disguise: it would pass every gate that exits skip.
    decision = MULTI.check(exit_of(FLY, ExitKind.MANUAL, qty=qty), state(package_view(FLY), kill_switch=True))
    assert decision.code is Code.SIZE_OUT_OF_RANGE
