"""One test (or table) per entry rule of the kernel, through ``Kernel.check``, at each rule's threshold.

Each test asserts the rule's own reason code, so removing the rule (or moving it behind another) fails it.
Unless a test says otherwise: the multi_strategy_paper profile, 10:00 New York on a normal session,
NAV 100,000, nothing held. An iron fly (centre 5100, wings 20, credit 12) has open risk 800; a long
strangle at a debit of 3 has open risk 300.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
import yaml

from odte_nautilus.risk.decision import Decision, ReasonCode
from odte_nautilus.risk.kernel import Kernel
from odte_nautilus.risk.model import AccountMode, Holding, Intent, Leg, PackageState, RiskState
from odte_nautilus.risk.policy import RISK_PROFILE_DIR, RiskPolicy, load_policy
from odte_nautilus.risk.time_units import NS_PER_SECOND
from tests.kit import (
    contract,
    entry,
    iron_butterfly,
    long_strangle,
    ny_ns,
    package_view,
    session,
    short_straddle,
    state,
)

Code = ReasonCode
MULTI = load_policy("multi_strategy_paper")
SINGLE = load_policy("single_position_0dte")
THETA = "ThetaHarvester-001"
GAMMA = "GammaScalper-001"
NOW = ny_ns(10, 0)
# A NAV on which the multi profile's drawdown ladder (1.5 % / 3 % of NAV) sits far beyond seed 003's dollar
# limits, so that a test of those limits sees them alone.
FAR_NAV = 1_000_000.0


def policy_with(profile: str, changes: dict[str, object]) -> RiskPolicy:
    """A shipped profile with some keys changed (dotted paths; None removes an optional section)."""
    raw = yaml.safe_load((RISK_PROFILE_DIR / f"{profile}.yaml").read_text())
    for dotted, value in changes.items():
        *path, last = dotted.split(".")
        node = raw
        for key in path:
            node = node[key]
        node[last] = value
    return RiskPolicy.model_validate(raw)


def fly(
    center: float = 5100, *, symbol: str = "SPX", package: str = "P-1", qty: int = 1, strategy: str = THETA
) -> Intent:
    return entry(
        iron_butterfly(center, underlying=symbol),
        strategy=strategy,
        symbol=symbol,
        package=package,
        qty=qty,
        price=-12.0,
    )


def strangle(
    call: float = 5120,
    put: float = 5080,
    *,
    symbol: str = "SPX",
    package: str = "P-1",
    qty: int = 1,
    strategy: str = GAMMA,
) -> Intent:
    return entry(
        long_strangle(call, put, underlying=symbol), strategy=strategy, symbol=symbol, package=package, qty=qty
    )


def check(intent: Intent, st: RiskState, policy: RiskPolicy = MULTI) -> Decision:
    return Kernel(policy).check(intent, st)


def code(intent: Intent, st: RiskState, policy: RiskPolicy = MULTI) -> ReasonCode:
    return check(intent, st, policy).code


# --- session, EOD, lock, kill switch -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (ny_ns(9, 30) - 1, Code.OUTSIDE_SESSION),
        (ny_ns(9, 30), Code.ALLOWED),
        (ny_ns(16, 0), Code.OUTSIDE_SESSION),
        (ny_ns(23, 30), Code.OUTSIDE_SESSION),
    ],
)
def test_outside_session_at_open_and_close(now: int, expected: ReasonCode) -> None:
    assert code(strangle(), state(now_ns=now)) is expected


def test_no_session_is_not_a_trading_day() -> None:
    decision = check(strangle(), state(session=None))
    assert decision.code is Code.OUTSIDE_SESSION and "not a trading day" in decision.reason


@pytest.mark.parametrize(
    ("close", "now", "expected"),
    [
        ((16, 0), ny_ns(15, 45) - 1, Code.ALLOWED),
        ((16, 0), ny_ns(15, 45), Code.EOD_FLATTEN_WINDOW),
        ((16, 0), ny_ns(16, 0) - 1, Code.EOD_FLATTEN_WINDOW),
        ((13, 0), ny_ns(12, 45) - 1, Code.ALLOWED),  # early close: the flatten is 12:45, not 15:45
        ((13, 0), ny_ns(12, 45), Code.EOD_FLATTEN_WINDOW),
    ],
)
def test_no_entries_from_the_eod_flatten_on(close: tuple[int, int], now: int, expected: ReasonCode) -> None:
    assert code(strangle(), state(now_ns=now, session=session(close=close))) is expected


def test_locked_day_refuses_and_says_why() -> None:
    decision = check(strangle(), state(day_locked=True, lock_reason="hard stop: day P&L -2,000"))
    assert decision.code is Code.DAY_LOCKED
    assert "hard stop: day P&L -2,000" in decision.reason
    assert not decision.allowed and decision.size == 0


def test_kill_switch_refuses_entries() -> None:
    assert code(strangle(), state(kill_switch=True)) is Code.KILL_SWITCH


# --- paper-only safeguards -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("account", "expected"),
    [
        (AccountMode(is_paper_account=False), Code.ACCOUNT_NOT_PAPER),
        (AccountMode(broker_paper_mode=False), Code.BROKER_NOT_PAPER),
        (AccountMode(), Code.ALLOWED),
    ],
)
def test_paper_only_account_and_broker(account: AccountMode, expected: ReasonCode) -> None:
    assert code(strangle(), state(account=account)) is expected


def test_paper_check_follows_require_paper() -> None:
    policy = policy_with("multi_strategy_paper", {"require_paper": False})
    assert code(strangle(), state(account=AccountMode(False, False)), policy) is Code.ALLOWED


# --- strategy switches ---------------------------------------------------------------------------------


def test_unknown_strategy_is_refused_and_named() -> None:
    decision = check(strangle(strategy="Mystery-001"), state())
    assert decision.code is Code.UNKNOWN_STRATEGY
    assert "strategies.mystery" in decision.reason


def test_single_position_profile_does_not_know_the_theta_harvester() -> None:
    assert code(fly(), state(), SINGLE) is Code.UNKNOWN_STRATEGY


def test_a_profile_without_strategy_limits_accepts_any_strategy() -> None:
    policy = policy_with("single_position_0dte", {"strategies": {}})
    assert code(strangle(strategy="Mystery-001"), state(), policy) is Code.ALLOWED


@pytest.mark.parametrize(
    ("disabled", "expected"),
    [
        ({GAMMA}, Code.STRATEGY_DISABLED),
        ({"gamma_scalper"}, Code.STRATEGY_DISABLED),  # the control API may name the policy key
        ({THETA}, Code.ALLOWED),
    ],
)
def test_disabled_strategy(disabled: set[str], expected: ReasonCode) -> None:
    assert code(strangle(), state(disabled_strategies=frozenset(disabled))) is expected


# --- breakers and daily loss stops -----------------------------------------------------------------------


def test_global_breaker_flag_is_risk_off() -> None:
    decision = check(strangle(), state(global_breaker=True))
    assert decision.code is Code.GLOBAL_BREAKER and "RISK-OFF" in decision.reason


@pytest.mark.parametrize(("pnl", "expected"), [(-2_999.99, Code.ALLOWED), (-3_000.0, Code.GLOBAL_BREAKER)])
def test_global_breaker_at_the_daily_loss(pnl: float, expected: ReasonCode) -> None:
    assert code(strangle(), state(realized_pnl=pnl, nav=FAR_NAV)) is expected


def test_global_breaker_counts_unrealized_losses_of_every_strategy() -> None:
    losing = package_view(fly(symbol="SPY", package="P-0"), unrealized=-3_000.0)
    assert code(strangle(), state(losing)) is Code.GLOBAL_BREAKER


@pytest.mark.parametrize("tripped", [THETA, "theta_harvester"])
def test_strategy_breaker_flag(tripped: str) -> None:
    assert code(fly(), state(strategy_breakers=frozenset({tripped}))) is Code.STRATEGY_BREAKER


@pytest.mark.parametrize(("pnl", "expected"), [(-999.99, Code.ALLOWED), (-1_000.0, Code.STRATEGY_BREAKER)])
def test_strategy_breaker_at_half_its_max_daily_loss(pnl: float, expected: ReasonCode) -> None:
    st = state(realized_pnl=pnl, strategy_realized_pnl={THETA: pnl})
    assert code(fly(), st) is expected


def test_strategy_breaker_leaves_other_strategies_trading() -> None:
    st = state(realized_pnl=-1_000.0, strategy_realized_pnl={THETA: -1_000.0})
    assert code(strangle(), st) is Code.ALLOWED


@pytest.mark.parametrize(
    ("pnl", "nav", "expected"),
    [
        (-1_999.99, 100_000.0, Code.SOFT_STOP_SIZE_CUT),  # allowed, cut to 1
        (-2_000.0, 100_000.0, Code.HARD_STOP),
        (-2_000.0, 200_000.0, Code.ALLOWED),  # 2 % of a larger NAV is further away
    ],
)
def test_ladder_hard_stop_at_two_percent_of_nav(pnl: float, nav: float, expected: ReasonCode) -> None:
    decision = check(strangle(qty=2), state(realized_pnl=pnl, nav=nav), SINGLE)
    assert decision.code is expected
    assert decision.allowed is (expected is not Code.HARD_STOP)


@pytest.mark.parametrize(("pnl", "expected"), [(-2_999.99, Code.ALLOWED), (-3_000.0, Code.GLOBAL_DAILY_LOSS)])
def test_global_max_daily_loss_without_breakers(pnl: float, expected: ReasonCode) -> None:
    policy = policy_with("multi_strategy_paper", {"breakers": None})
    assert code(strangle(), state(realized_pnl=pnl, nav=FAR_NAV), policy) is expected


@pytest.mark.parametrize(("pnl", "expected"), [(-1_999.99, Code.ALLOWED), (-2_000.0, Code.STRATEGY_DAILY_LOSS)])
def test_strategy_max_daily_loss(pnl: float, expected: ReasonCode) -> None:
    policy = policy_with("multi_strategy_paper", {"breakers": None})
    st = state(realized_pnl=pnl, strategy_realized_pnl={THETA: pnl}, nav=FAR_NAV)
    assert code(fly(), st, policy) is expected


@pytest.mark.parametrize(("streak", "expected"), [(2, Code.LOSS_STREAK_SIZE_CUT), (3, Code.LOSS_STREAK_STOP)])
def test_three_consecutive_losses_stop_the_day(streak: int, expected: ReasonCode) -> None:
    assert code(strangle(qty=2), state(loss_streak=streak), SINGLE) is expected


@pytest.mark.parametrize(("trades", "expected"), [(2, Code.ALLOWED), (3, Code.MAX_TRADES_PER_DAY)])
def test_max_trades_per_day(trades: int, expected: ReasonCode) -> None:
    assert code(strangle(), state(trades_today=trades), SINGLE) is expected


# --- structural invariants -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("package_state", "expected"),
    [
        (PackageState.PENDING_ENTRY, Code.NOT_FLAT),
        (PackageState.OPEN, Code.NOT_FLAT),
        (PackageState.PENDING_EXIT, Code.NOT_FLAT),
        (PackageState.FLAT, Code.ALLOWED),
    ],
)
def test_entry_only_from_flat(package_state: PackageState, expected: ReasonCode) -> None:
    held = package_view(strangle(package="P-1"), package_state)
    assert code(strangle(package="P-1"), state(held)) is expected


def test_one_position_only_counts_any_strategys_live_package() -> None:
    pending = package_view(strangle(5200, 5000, package="P-0", strategy="GammaScalper-002"), PackageState.PENDING_ENTRY)
    assert code(strangle(), state(pending), SINGLE) is Code.ONE_POSITION_ONLY
    assert code(strangle(), state(pending), MULTI) is Code.ALLOWED


def test_one_position_only_counts_a_bare_holding() -> None:
    leftover = contract("C", 5200)
    st = state(holdings={leftover.instrument_id: Holding(leftover, 1)})
    assert code(strangle(), st, SINGLE) is Code.ONE_POSITION_ONLY


def test_long_only_refuses_a_short_leg_and_names_it() -> None:
    sells_premium = entry(iron_butterfly(), strategy=GAMMA, price=-12.0)
    decision = check(sells_premium, state(), SINGLE)
    assert decision.code is Code.LONG_ONLY
    assert contract("C", 5100).instrument_id in decision.reason
    assert code(sells_premium, state(), MULTI) is Code.ALLOWED


@pytest.mark.parametrize(("unrealized", "expected"), [(-0.01, Code.FORBID_ADD_TO_LOSER), (0.0, Code.ALLOWED)])
def test_no_new_package_beside_a_losing_one(unrealized: float, expected: ReasonCode) -> None:
    held = package_view(fly(5150, package="P-0"), unrealized=unrealized)
    assert code(fly(5100), state(held)) is expected


def test_a_loser_on_another_symbol_does_not_block() -> None:
    held = package_view(fly(5150, symbol="SPY", package="P-0"), unrealized=-50.0)
    assert code(fly(5100), state(held)) is Code.ALLOWED


@pytest.mark.parametrize(("unrealized", "expected"), [(-50.0, Code.FORBID_ADD_TO_LOSER), (50.0, Code.ALLOWED)])
def test_no_same_direction_add_to_a_losing_packages_leg(unrealized: float, expected: ReasonCode) -> None:
    # The fly's long wings (5120 C, 5080 P) are the very contracts the losing strangle is long.
    losing = package_view(strangle(5120, 5080, package="P-0"), unrealized=unrealized)
    assert code(fly(5100), state(losing)) is expected


def test_reducing_a_losing_packages_leg_is_not_an_add() -> None:
    # The fly at 5120 sells the 5120 call the losing strangle is long: that shrinks the holding.
    losing = package_view(strangle(5120, 5080, package="P-0"), unrealized=-50.0)
    assert code(fly(5120), state(losing)) is Code.ALLOWED


@pytest.mark.parametrize(("center", "expected"), [(5100, Code.DUPLICATE_POSITION), (5110, Code.ALLOWED)])
def test_duplicate_position(center: float, expected: ReasonCode) -> None:
    held = package_view(fly(5100, package="P-0"))
    assert code(fly(center, package="P-1"), state(held)) is expected


def test_the_same_legs_for_another_strategy_are_not_a_duplicate() -> None:
    held = package_view(fly(5100, package="P-0"))
    assert code(fly(5100, package="P-1", strategy=GAMMA), state(held)) is Code.ALLOWED


def test_short_straddle_is_a_naked_short() -> None:
    decision = check(entry(short_straddle(), strategy=THETA, price=-20.0), state())
    assert decision.code is Code.NO_NAKED_SHORT
    assert "short SPX call" in decision.reason


def test_a_lone_short_put_is_naked_though_its_loss_is_bounded() -> None:
    lone_put = entry((Leg(contract("P", 5100), -1),), strategy=THETA, price=-5.0)
    assert code(lone_put, state()) is Code.NO_NAKED_SHORT


def test_a_short_put_covered_by_a_long_put_is_allowed() -> None:
    put_spread = entry((Leg(contract("P", 5100), -1), Leg(contract("P", 5080), 1)), strategy=THETA, price=-5.0)
    assert code(put_spread, state()) is Code.ALLOWED


def test_more_short_calls_than_long_calls_is_naked() -> None:
    ratio_spread = entry((Leg(contract("C", 5100), -2), Leg(contract("C", 5120), 1)), strategy=THETA, price=-3.0)
    decision = check(ratio_spread, state())
    assert decision.code is Code.NO_NAKED_SHORT and "1 short" in decision.reason


def test_a_package_with_unbounded_loss_is_refused_even_when_the_account_covers_it() -> None:
    covering = package_view(strangle(5120, 5080, package="P-0"))
    short_call = entry((Leg(contract("C", 5100), -1),), strategy=THETA, price=-5.0)
    decision = check(short_call, state(covering))
    assert decision.code is Code.NO_NAKED_SHORT and "unbounded" in decision.reason


def test_an_uncovered_short_anywhere_blocks_new_entries() -> None:
    orphan = contract("P", 500, underlying="SPY")
    st = state(holdings={orphan.instrument_id: Holding(orphan, -1)})
    assert code(fly(5100), st) is Code.NO_NAKED_SHORT


@pytest.mark.parametrize(("qty", "expected"), [(1, Code.ALLOWED), (2, Code.FORBID_REVERSE_WITHOUT_FLAT)])
def test_no_leg_may_flip_a_holding(qty: int, expected: ReasonCode) -> None:
    # The strangle holds +1 of the 5100 call; the fly sells qty of it: +1 -> 0 is fine, +1 -> -1 flips.
    held = package_view(strangle(5100, 5060, package="P-0"))
    assert code(fly(5100, qty=qty), state(held)) is expected


@pytest.mark.parametrize(("symbol", "expected"), [("SPX", Code.FORBID_REVERSE_WITHOUT_FLAT), ("SPY", Code.ALLOWED)])
def test_no_opposite_premium_beside_the_strategys_own_package(symbol: str, expected: ReasonCode) -> None:
    short_premium = package_view(fly(5100, package="P-0"))
    long_premium = strangle(5140, 5060, symbol=symbol, strategy=THETA)
    assert code(long_premium, state(short_premium)) is expected


def test_another_strategys_opposite_premium_is_not_a_reversal() -> None:
    short_premium = package_view(fly(5100, package="P-0"))
    assert code(strangle(5140, 5060), state(short_premium)) is Code.ALLOWED


# --- size adjusters ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("qty", "size", "expected"), [(3, 3, Code.ALLOWED), (4, 3, Code.POSITION_SIZE_CAPPED)])
def test_position_size_breaker_caps_at_three_times_base(qty: int, size: int, expected: ReasonCode) -> None:
    policy = policy_with("multi_strategy_paper", {"strategies.theta_harvester.max_contracts": 5})
    decision = check(fly(qty=qty), state(), policy)
    assert (decision.allowed, decision.size, decision.code) == (True, size, expected)


def test_position_size_breaker_reason_names_the_breaker() -> None:
    policy = policy_with(
        "multi_strategy_paper",
        {"strategies.theta_harvester.max_contracts": 10, "strategies.theta_harvester.base_contracts": 2},
    )
    decision = check(fly(qty=7), state(), policy)
    assert decision.size == 6
    assert "3 x base 2" in decision.reason and "position size breaker" in decision.reason


@pytest.mark.parametrize(("qty", "size", "expected"), [(2, 2, Code.ALLOWED), (3, 2, Code.POSITION_SIZE_CAPPED)])
def test_size_above_max_contracts_is_capped(qty: int, size: int, expected: ReasonCode) -> None:
    decision = check(strangle(qty=qty), state())
    assert (decision.allowed, decision.size, decision.code) == (True, size, expected)
    if expected is Code.POSITION_SIZE_CAPPED:
        assert "max 2 contracts for gamma_scalper" in decision.reason


@pytest.mark.parametrize(("qty", "expected"), [(1, Code.SIZE_OUT_OF_RANGE), (2, Code.ALLOWED)])
def test_size_below_min_contracts_is_refused(qty: int, expected: ReasonCode) -> None:
    policy = policy_with(
        "multi_strategy_paper",
        {"strategies.gamma_scalper.min_contracts": 2, "strategies.gamma_scalper.base_contracts": 2},
    )
    assert code(strangle(qty=qty), state(), policy) is expected


@pytest.mark.parametrize("policy", [MULTI, policy_with("single_position_0dte", {"strategies": {}})])
def test_an_entry_needs_at_least_one_contract(policy: RiskPolicy) -> None:
    assert code(strangle(qty=0), state(), policy) is Code.SIZE_OUT_OF_RANGE


def test_an_entry_needs_at_least_one_leg() -> None:
    assert code(entry((), strategy=GAMMA), state()) is Code.SIZE_OUT_OF_RANGE


@pytest.mark.parametrize(
    ("streak", "qty", "allowed", "size"),
    [(1, 2, True, 2), (2, 2, True, 1), (2, 1, False, 0)],
)
def test_two_consecutive_losses_halve_size(streak: int, qty: int, allowed: bool, size: int) -> None:
    decision = check(strangle(qty=qty), state(loss_streak=streak), SINGLE)
    assert (decision.allowed, decision.size) == (allowed, size)
    assert decision.code is (Code.ALLOWED if streak < 2 else Code.LOSS_STREAK_SIZE_CUT)


@pytest.mark.parametrize(
    ("pnl", "qty", "allowed", "size", "expected"),
    [
        (-1_499.99, 2, True, 2, Code.ALLOWED),
        (-1_500.0, 2, True, 1, Code.SOFT_STOP_SIZE_CUT),
        (-1_500.0, 1, False, 0, Code.SOFT_STOP_SIZE_CUT),  # half of 1 floors to 0: refused, never full size
    ],
)
def test_soft_stop_cuts_size(pnl: float, qty: int, allowed: bool, size: int, expected: ReasonCode) -> None:
    decision = check(strangle(qty=qty), state(realized_pnl=pnl), SINGLE)
    assert (decision.allowed, decision.size, decision.code) == (allowed, size, expected)


# --- package and open risk limits ------------------------------------------------------------------------


def _gamma_strangles(n: int, symbol: str = "SPX") -> list:
    return [
        package_view(strangle(5200 + 10 * i, 5000 - 10 * i, symbol=symbol, package=f"G-{symbol}-{i}")) for i in range(n)
    ]


@pytest.mark.parametrize(("held", "expected"), [(1, Code.ALLOWED), (2, Code.MAX_OPEN_PACKAGES_PER_SYMBOL)])
def test_max_open_packages_per_symbol(held: int, expected: ReasonCode) -> None:
    assert code(strangle(), state(*_gamma_strangles(held))) is expected


def test_packages_on_another_symbol_do_not_count_per_symbol() -> None:
    assert code(strangle(), state(*_gamma_strangles(2, symbol="SPY"))) is Code.ALLOWED


@pytest.mark.parametrize(("extra", "expected"), [(0, Code.ALLOWED), (1, Code.MAX_OPEN_PACKAGES_TOTAL)])
def test_max_open_packages_total(extra: int, expected: ReasonCode) -> None:
    held = [
        package_view(fly(5150, package="T-1")),
        package_view(fly(5050, package="T-2")),
        *_gamma_strangles(1, "SPX"),
        *_gamma_strangles(1 + extra, "SPY"),
    ]
    assert code(fly(5100), state(*held)) is expected


def _with_risk(intent: Intent, open_risk: float):
    return replace(package_view(intent), open_risk=open_risk)


@pytest.mark.parametrize(
    ("held_risk", "expected"), [(9_200.0, Code.ALLOWED), (9_200.01, Code.MAX_OPEN_RISK_PER_SYMBOL)]
)
def test_max_open_risk_per_symbol_at_the_limit(held_risk: float, expected: ReasonCode) -> None:
    held = _with_risk(fly(5150, package="P-0"), held_risk)
    assert code(fly(5100), state(held)) is expected  # 9,200 held + 800 = 10,000: exactly at the limit


def test_open_risk_reason_reads_like_a_sentence() -> None:
    held = _with_risk(fly(5150, package="P-0"), 10_000.0)
    decision = check(fly(5100), state(held))
    assert decision.reason.startswith("open risk 10,800 > 10,000 per symbol for theta_harvester on SPX")


@pytest.mark.parametrize(("spy_risk", "expected"), [(9_200.0, Code.ALLOWED), (9_200.01, Code.MAX_OPEN_RISK_TOTAL)])
def test_max_open_risk_total_at_the_limit(spy_risk: float, expected: ReasonCode) -> None:
    held = [
        _with_risk(fly(5150, symbol="SPY", package="T-SPY"), spy_risk),
        _with_risk(strangle(symbol="SPY", package="G-SPY"), 5_000.0),
        _with_risk(strangle(symbol="QQQ", package="G-QQQ"), 5_000.0),
    ]
    assert code(fly(5100), state(*held)) is expected  # 19,200 held + 800 = 20,000: exactly at the limit


def _ago(seconds: float) -> int:
    return NOW - int(seconds * NS_PER_SECOND)


@pytest.mark.parametrize(
    ("times", "expected"),
    [((_ago(60), _ago(30)), Code.ALLOWED), ((_ago(59), _ago(30)), Code.RATE_LIMIT_STRATEGY)],
)
def test_two_entries_a_minute_per_strategy(times: tuple[int, ...], expected: ReasonCode) -> None:
    assert code(fly(), state(entry_times_ns={THETA: times})) is expected


def test_another_strategys_entries_do_not_count_per_minute() -> None:
    assert code(fly(), state(entry_times_ns={GAMMA: (_ago(20), _ago(10))})) is Code.ALLOWED


@pytest.mark.parametrize(("oldest", "expected"), [(3_600, Code.ALLOWED), (3_599, Code.RATE_LIMIT_TOTAL)])
def test_ten_entries_an_hour_in_total(oldest: int, expected: ReasonCode) -> None:
    theta = (_ago(oldest), *(_ago(300 * k) for k in (4, 3, 2, 1)))
    gamma = tuple(_ago(300 * k + 150) for k in (5, 4, 3, 2, 1))
    assert code(fly(), state(entry_times_ns={THETA: theta, GAMMA: gamma})) is expected


# --- failing closed --------------------------------------------------------------------------------------


def test_a_nan_unrealized_pnl_refuses_rather_than_blinding_the_loss_rules() -> None:
    unmarked = package_view(strangle(5200, 5000, package="P-0"), unrealized=float("nan"))
    assert code(strangle(), state(unmarked)) is Code.GLOBAL_BREAKER
    assert code(strangle(), state(unmarked), SINGLE) is Code.HARD_STOP


def test_a_nan_open_risk_refuses() -> None:
    held = _with_risk(fly(5150, package="P-0"), float("nan"))
    decision = check(fly(5100), state(held))
    assert decision.code is Code.MAX_OPEN_RISK_PER_SYMBOL and "nan" in decision.reason
