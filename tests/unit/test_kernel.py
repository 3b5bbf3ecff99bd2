"""The kernel as a whole: the shipped profiles, how size adjustments compose, purity, shared facts."""

from __future__ import annotations

import copy
import math
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st_

from odte_nautilus.risk.decision import ReasonCode
from odte_nautilus.risk.kernel import Kernel
from odte_nautilus.risk.model import ExitKind, Holding, Intent, IntentKind, Leg, RiskState
from odte_nautilus.risk.policy import load_policy
from odte_nautilus.risk.rules import package_facts
from tests.kit import contract, entry, exit_of, fly_entry, iron_butterfly, long_strangle, ny_ns, package_view, state

Code = ReasonCode
MULTI = Kernel(load_policy("multi_strategy_paper"))
SINGLE = Kernel(load_policy("single_position_0dte"))


@pytest.mark.parametrize(
    ("kernel", "intent"),
    [(SINGLE, entry()), (MULTI, entry()), (MULTI, fly_entry())],
    ids=["single: long strangle", "multi: long strangle", "multi: iron fly"],
)
def test_each_profile_allows_a_plain_valid_entry(kernel: Kernel, intent: Intent) -> None:
    decision = kernel.check(intent, state())
    assert (decision.allowed, decision.code, decision.size) == (True, Code.ALLOWED, 1)
    assert decision.reason == "all entry rules passed"


def test_both_profiles_load_as_shipped() -> None:
    assert SINGLE.policy.invariants.one_position_only and SINGLE.policy.invariants.long_only
    assert SINGLE.policy.drawdown_ladder is not None and SINGLE.policy.loss_streak is not None
    assert MULTI.policy.global_limits is not None and MULTI.policy.breakers is not None
    assert set(MULTI.policy.strategies) == {"theta_harvester", "gamma_scalper"}


def test_later_rules_see_the_adjusted_size() -> None:
    # Five flies would be 4,000 of open risk beside 7,600 held: over the 10,000 per symbol. Capped to
    # three (2,400) the total is exactly 10,000 - allowed, at the capped size.
    held = replace(package_view(fly_entry(package="P-0")), open_risk=7_600.0)
    decision = MULTI.check(entry(iron_butterfly(5150), strategy="ThetaHarvester-001", price=-12.0, qty=5), state(held))
    assert (decision.allowed, decision.code, decision.size) == (True, Code.POSITION_SIZE_CAPPED, 3)


def test_several_adjustments_report_all_under_the_first_code() -> None:
    decision = MULTI.check(entry(qty=5), state())  # the breaker caps 5 to 3, then max_contracts to 2
    assert (decision.allowed, decision.code, decision.size) == (True, Code.POSITION_SIZE_CAPPED, 2)
    assert "position size breaker" in decision.reason and "max 2 contracts" in decision.reason


def test_a_cap_then_a_cut_compose() -> None:
    decision = SINGLE.check(entry(qty=4), state(loss_streak=2))  # max 2, then halved to 1
    assert (decision.allowed, decision.code, decision.size) == (True, Code.POSITION_SIZE_CAPPED, 1)
    assert "capped to 2" in decision.reason and "2 consecutive losses: size 2 cut to 1" in decision.reason


def test_a_refusal_after_sizing_names_the_adjustments() -> None:
    decision = SINGLE.check(entry(qty=2), state(loss_streak=2, realized_pnl=-1_500.0))  # 2 -> 1 -> 0
    assert (decision.allowed, decision.code, decision.size) == (False, Code.SOFT_STOP_SIZE_CUT, 0)
    assert "after sizing: 2 consecutive losses" in decision.reason


def test_a_gate_outranks_a_size_cut() -> None:
    assert SINGLE.check(entry(qty=1), state(loss_streak=2, kill_switch=True)).code is Code.KILL_SWITCH


def _states() -> dict[str, tuple[Kernel, Intent, RiskState]]:
    fly = fly_entry(package="P-0")
    strangle = entry(long_strangle(5140, 5060), package="P-9")
    busy = state(
        package_view(fly, unrealized=-40.0),
        package_view(strangle, unrealized=25.0),
        realized_pnl=-300.0,
        strategy_realized_pnl={"ThetaHarvester-001": -300.0},
        entry_times_ns={"ThetaHarvester-001": (ny_ns(9, 59),), "GammaScalper-001": (ny_ns(9, 45),)},
        disabled_strategies=frozenset({"Other-001"}),
    )
    return {
        "allowed entry": (MULTI, entry(long_strangle(5150, 5050), package="P-2"), busy),
        "capped entry": (MULTI, entry(long_strangle(5150, 5050), package="P-2", qty=5), busy),
        "refused entry": (MULTI, fly_entry(package="P-3"), busy),
        "cut entry": (SINGLE, entry(qty=2), state(loss_streak=2)),
        "exit": (MULTI, exit_of(fly, ExitKind.STOP_PREMIUM), busy),
    }


CASES = _states()


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_the_kernel_never_mutates_the_state(case: tuple[Kernel, Intent, RiskState]) -> None:
    kernel, intent, st = case
    before, intent_before = copy.deepcopy(st), copy.deepcopy(intent)
    kernel.check(intent, st)
    kernel.check(intent, st)
    assert st == before and intent == intent_before


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_the_same_question_gets_the_same_answer(case: tuple[Kernel, Intent, RiskState]) -> None:
    kernel, intent, st = case
    assert kernel.check(intent, st) == Kernel(kernel.policy).check(intent, st)


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_package_facts_match_the_states_own_definitions(case: tuple[Kernel, Intent, RiskState]) -> None:
    # The kernel gathers package facts in one pass for speed; they must agree with RiskState's own.
    _, intent, st = case
    facts = package_facts(intent, st)
    assert facts.day_pnl == st.day_pnl()
    assert facts.strategy_pnl == st.day_pnl(intent.strategy_id)
    assert facts.live == st.live_packages()
    assert facts.book == st.live_packages(intent.strategy_id, intent.symbol)
    assert facts.live_risk == sum(p.open_risk for p in st.live_packages())
    assert facts.book_risk == sum(p.open_risk for p in st.live_packages(intent.strategy_id, intent.symbol))


# --- no naked short, for any order the kernel lets through ----------------------------------------------

_legs = st_.lists(
    st_.builds(
        lambda right, strike, ratio: Leg(contract(right, strike), ratio),
        st_.sampled_from("CP"),
        st_.sampled_from([5080, 5090, 5100, 5110, 5120]),
        st_.sampled_from([-2, -1, 1, 2]),
    ),
    min_size=1,
    max_size=4,
).map(tuple)
_holdings = st_.dictionaries(
    st_.sampled_from([("C", 5100), ("C", 5120), ("P", 5100), ("P", 5080)]), st_.integers(-2, 2), max_size=4
).map(lambda held: {c.instrument_id: Holding(c, q) for (r, k), q in held.items() if q for c in [contract(r, k)]})


def _shortfall(holdings: dict[str, Holding], intent: Intent | None = None) -> dict[str, int]:
    """Uncovered short contracts per (right) group, the holdings plus ``intent`` filled (one underlying, one expiry)."""
    net = {"C": 0, "P": 0}
    for h in holdings.values():
        net[h.contract.right.value] += h.quantity
    for leg in intent.legs if intent else ():
        net[leg.contract.right.value] += leg.ratio * intent.quantity
    return {right: max(0, -n) for right, n in net.items()}


@given(legs=_legs, holdings=_holdings, qty=st_.integers(1, 3), kind=st_.sampled_from(IntentKind))
def test_an_allowed_order_never_leaves_a_short_less_covered(legs, holdings, qty, kind) -> None:
    intent = replace(
        fly_entry(qty=qty), legs=legs, kind=kind, exit_kind=None if kind is IntentKind.ENTRY else ExitKind.MANUAL
    )
    world = state(holdings=holdings)
    before = copy.deepcopy(world)
    decision = MULTI.check(intent, world)
    assert world == before
    if not decision.allowed:
        return
    filled = replace(intent, quantity=decision.size)
    after, was = _shortfall(holdings, filled), _shortfall(holdings)
    if kind is IntentKind.ENTRY:
        assert after == {"C": 0, "P": 0} and filled.open_risk < math.inf
    else:
        assert all(after[right] <= was[right] for right in after)
