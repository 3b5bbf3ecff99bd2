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
from odte_nautilus.risk.model import (
    AccountMode,
    ExitKind,
    Holding,
    Intent,
    IntentKind,
    Leg,
    PackageState,
    RiskState,
    leg_key,
    max_loss,
)
from odte_nautilus.risk.policy import RiskPolicy, load_policy, strategy_key
from odte_nautilus.risk.rules import (
    ENTRY_RULES,
    EXIT_RULES,
    STANDING_RULES,
    CheckContext,
    no_naked_short,
    package_facts,
)
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
    if intent is not None:
        for leg in intent.legs:
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


# --- what a kernel runs: the master lists minus what its policy can never fire ----------------------------


def _names(rules) -> set[str]:
    return {rule.__name__ for rule in rules}


@pytest.mark.parametrize(
    ("kernel", "dropped"),
    [
        (
            MULTI,  # seed 000's ladder, streak guard and trade cap hold in every profile (issue 7)
            {"one_position_only", "long_only"},
        ),
        (
            SINGLE,
            {
                "global_daily_loss",
                "position_size_breaker",
                "max_open_packages_total",
                "max_open_risk_total",
                "rate_limit_strategy",
                "rate_limit_total",
            },
        ),
    ],
    ids=["multi", "single"],
)
def test_a_kernel_runs_the_master_lists_in_order_minus_what_its_policy_cannot_fire(kernel: Kernel, dropped) -> None:
    assert kernel.entry_rules == tuple(rule for rule in ENTRY_RULES if rule.__name__ not in dropped)
    assert _names(ENTRY_RULES) - _names(kernel.entry_rules) == dropped
    assert kernel.exit_rules == EXIT_RULES


def _provocations() -> list[tuple[Intent, RiskState]]:
    """Intents and a state that make every entry rule fire under some policy: a day where all went wrong."""
    theta, gamma = "ThetaHarvester-001", "GammaScalper-001"
    burst = tuple(ny_ns(9, 59, s) for s in range(0, 60, 5))
    held = [
        entry(long_strangle(5200 + 10 * i, 5000 - 10 * i), strategy=sid, package=f"W-{i}")
        for i, sid in enumerate([theta, gamma] * 3)
    ]
    everything_wrong = state(
        *(replace(package_view(intent), open_risk=1e6) for intent in held),
        realized_pnl=-50_000.0,
        strategy_realized_pnl={theta: -50_000.0, gamma: -50_000.0},
        loss_streak=9,
        trades_today=9,
        entry_times_ns={theta: burst, gamma: burst},
        account=AccountMode(is_paper_account=False, broker_paper_mode=False),
    )
    intents = [
        fly_entry(qty=50, package="P-new"),
        entry(long_strangle(5150, 5050), qty=50, package="P-new"),
        fly_entry(strategy="Mystery-001", package="P-new"),
    ]
    return [(intent, everything_wrong) for intent in intents]


def _context(intent: Intent, st: RiskState, policy: RiskPolicy) -> CheckContext:
    return CheckContext(intent, st, policy, strategy_key(intent.strategy_id), policy.strategy(intent.strategy_id))


_POLICIES = {
    "multi": MULTI.policy,
    "single": SINGLE.policy,
    "multi, paper not required": MULTI.policy.model_copy(update={"require_paper": False}),
    "single, no strategy limits": SINGLE.policy.model_copy(update={"strategies": {}}),
}


@pytest.mark.parametrize("policy", _POLICIES.values(), ids=_POLICIES.keys())
def test_a_rule_a_kernel_leaves_out_could_never_have_fired(policy) -> None:
    # Leaving a rule out is only an optimisation: under the policy, the rule itself answers None.
    for rule in set(ENTRY_RULES) - set(Kernel(policy).entry_rules):
        for intent, st in _provocations():
            assert rule(_context(intent, st, policy)) is None, rule.__name__


def test_every_rule_a_kernel_may_leave_out_fires_on_the_provocations_somewhere() -> None:
    # Keeps the test above honest: each rule it checks does fire on the same inputs under some policy.
    droppable = {rule for policy in _POLICIES.values() for rule in set(ENTRY_RULES) - set(Kernel(policy).entry_rules)}
    assert droppable
    for rule in droppable:
        fired = False
        for policy in _POLICIES.values():
            for intent, st in _provocations():
                fired = fired or rule(_context(intent, st, policy)) is not None
        assert fired, rule.__name__


# --- the snapshot's index and the intent's shape ------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("holdings", {contract("C", 5200).instrument_id: Holding(contract("C", 5200), -1)}, Code.NO_NAKED_SHORT),
        ("packages", (package_view(fly_entry(package="P-7")),), Code.NOT_FLAT),
        ("realized_pnl", -3_000.0, Code.GLOBAL_BREAKER),
        ("strategy_realized_pnl", {"ThetaHarvester-001": -1_000.0}, Code.STRATEGY_BREAKER),
        ("entry_times_ns", {"ThetaHarvester-001": (ny_ns(9, 59, 30), ny_ns(9, 59, 40))}, Code.RATE_LIMIT_STRATEGY),
    ],
)
def test_reassigning_an_indexed_field_after_a_check_reindexes(field: str, value, expected: ReasonCode) -> None:
    # A snapshot should not change once checked; if a field the index reads is reassigned, it is noticed.
    st = state()
    fly = fly_entry(package="P-7")
    assert MULTI.check(fly, st).allowed
    setattr(st, field, value)
    assert MULTI.check(fly, st).code is expected


_prices = st_.floats(-50, 50, allow_nan=False).map(lambda p: round(p, 2))


@given(legs=_legs, price=_prices, qty=st_.integers(-1, 4), resize=st_.integers(1, 4))
def test_an_intents_shape_agrees_with_its_legs(legs, price, qty, resize) -> None:
    intent = replace(fly_entry(), legs=legs, price=price, quantity=qty)
    naive: dict[str, int] = {}
    for leg in legs:
        naive[leg.contract.instrument_id] = naive.get(leg.contract.instrument_id, 0) + leg.ratio * qty
    assert intent.open_risk == max_loss(legs, price, qty)
    assert intent.leg_deltas() == naive
    assert intent.is_long_premium == all(leg.ratio > 0 for leg in legs)
    assert intent.resized(resize).open_risk == max_loss(legs, price, resize)


def test_an_intent_without_legs_risks_nothing() -> None:
    assert replace(fly_entry(), legs=()).open_risk == 0.0 == max_loss((), -12.0, 1)


def _held(sid: str, symbol: str, pkg_state: PackageState, unrealized: float, risk: float, i: int):
    intent = entry(long_strangle(5200 + 10 * i, 5000 - 10 * i), strategy=sid, symbol=symbol, package=f"P-{i}")
    return replace(package_view(intent, pkg_state, unrealized), open_risk=risk)


_packages = st_.lists(
    st_.builds(
        _held,
        st_.sampled_from(["ThetaHarvester-001", "GammaScalper-001"]),
        st_.sampled_from(["SPX", "SPY"]),
        st_.sampled_from(PackageState),
        st_.floats(-500, 500, allow_nan=False),
        st_.floats(0, 5_000, allow_nan=False),
        st_.integers(0, 3),
    ),
    max_size=6,
).map(tuple)


@given(packages=_packages, realized=st_.floats(-3_000, 3_000, allow_nan=False))
def test_package_facts_match_the_states_own_definitions_for_any_book(packages, realized) -> None:
    st = state(*packages, realized_pnl=realized, strategy_realized_pnl={"GammaScalper-001": realized / 2})
    for sid in ("ThetaHarvester-001", "GammaScalper-001"):
        for symbol in ("SPX", "SPY"):
            facts = package_facts(entry(strategy=sid, symbol=symbol), st)
            book = st.live_packages(sid, symbol)
            assert facts.day_pnl == st.day_pnl() and facts.strategy_pnl == st.day_pnl(sid)
            assert facts.live == st.live_packages() and facts.book == book
            assert facts.live_risk == sum(p.open_risk for p in st.live_packages())
            assert facts.book_risk == sum(p.open_risk for p in book)
            for p in book:
                first_same_legs = next(q for q in book if leg_key(q.legs) == leg_key(p.legs))
                first_same_premium = next(q for q in book if q.is_long_premium == p.is_long_premium)
                assert facts.book_by_legs[leg_key(p.legs)] == first_same_legs
                assert facts.book_by_premium[p.is_long_premium] == first_same_premium


def _naked_before_the_index(intent: Intent, holdings: dict[str, Holding]) -> bool:
    """no_naked_short as it was computed before the state's index: every group recomputed, every check."""
    change: dict[tuple, int] = {}
    for leg in intent.legs:
        group = (leg.contract.underlying, leg.contract.expiry_ns, leg.contract.right)
        change[group] = change.get(group, 0) + leg.ratio * intent.quantity
    after = dict(change)
    for h in holdings.values():
        group = (h.contract.underlying, h.contract.expiry_ns, h.contract.right)
        if intent.is_entry or group in change:
            after[group] = after.get(group, 0) + h.quantity
    if any(net < 0 and (intent.is_entry or change[group] < 0) for group, net in after.items()):
        return True
    return intent.is_entry and max_loss(intent.legs, intent.price, intent.quantity) == math.inf


_contracts = st_.sampled_from(
    [contract(r, k, u) for u, ks in (("SPX", (5080, 5100, 5120)), ("SPY", (508, 510))) for r in "CP" for k in ks]
)
_any_legs = st_.lists(st_.builds(Leg, _contracts, st_.sampled_from([-2, -1, 1, 2])), min_size=1, max_size=4).map(tuple)
_any_holdings = st_.lists(st_.tuples(_contracts, st_.integers(-2, 2)), max_size=5).map(
    lambda held: {c.instrument_id: Holding(c, q) for c, q in held if q}
)


@given(legs=_any_legs, holdings=_any_holdings, qty=st_.integers(1, 3), kind=st_.sampled_from(IntentKind))
def test_no_naked_short_from_the_index_decides_as_a_full_recount_does(legs, holdings, qty, kind) -> None:
    intent = replace(fly_entry(qty=qty), legs=legs, kind=kind)
    context = _context(intent, state(holdings=holdings), MULTI.policy)
    assert (no_naked_short(context) is not None) == _naked_before_the_index(intent, holdings)


# --- the standing rules: what a strategy asks before it prices a plan ---------------------------------------


def _worlds() -> list[tuple[Intent, RiskState]]:
    """The provocations (a standing rule refuses), and quiet days where only the later rules can."""
    naked = entry((Leg(contract("C", 5100), -1),), price=-2.0)
    heavy = state(replace(package_view(fly_entry(package="W-1")), open_risk=1e6))
    quiet = [
        (fly_entry(qty=50, package="P-new"), state()),
        (entry(long_strangle(5150, 5050), qty=2), state()),
        (naked, state()),
        (entry(long_strangle(5150, 5050), price=500.0), state()),  # its debit is more risk than allowed
        (entry(long_strangle(5150, 5050), package="P-new"), heavy),
    ]
    return _provocations() + quiet


def _answer(rule, intent: Intent, st: RiskState, policy: RiskPolicy) -> tuple[bool, ReasonCode] | None:
    decision = rule(_context(intent, st, policy))
    return None if decision is None else (decision.allowed, decision.code)


def _moved_by_price_or_size(rule, price: float, qty: int) -> bool:
    return any(
        _answer(rule, replace(intent, price=price, quantity=qty), st, policy) != _answer(rule, intent, st, policy)
        for policy in _POLICIES.values()
        for intent, st in _worlds()
    )


@given(price=_prices, qty=st_.integers(1, 60))
def test_a_standing_rule_answers_the_same_at_any_price_and_size(price, qty) -> None:
    # What lets a strategy ask them before pricing a plan: a refusal there holds for the priced order too.
    for rule in STANDING_RULES:
        assert not _moved_by_price_or_size(rule, price, qty), rule.__name__


def test_the_rules_after_the_standing_ones_read_the_price_or_the_size() -> None:
    # Keeps the test above honest: on the same worlds, the rules left out of STANDING_RULES do move.
    later = [rule for rule in ENTRY_RULES if rule not in STANDING_RULES]
    moved = {rule.__name__ for rule in later if _moved_by_price_or_size(rule, 45.0, 60)}
    assert {"size_range", "max_open_risk_per_symbol"} <= moved


@pytest.mark.parametrize("kernel", [MULTI, SINGLE], ids=["multi", "single"])
def test_a_standing_refusal_is_the_refusal_of_the_whole_check(kernel: Kernel) -> None:
    answers = [(kernel.check_standing(intent, st), kernel.check(intent, st)) for intent, st in _worlds()]
    for standing, whole in answers:
        assert standing is None or standing == whole
    assert any(standing is not None for standing, _ in answers)
    assert any(standing is None and not whole.allowed for standing, whole in answers)  # refused once priced
