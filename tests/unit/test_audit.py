"""The independent invariant audit: each rule finds a hand-built violation, and clean runs pass."""

from __future__ import annotations

import json
from datetime import date

import pytest

from odte_nautilus.reports.audit import (
    ENTRY_AFTER_FLATTEN,
    ENTRY_AFTER_LOCK,
    ENTRY_WITHOUT_SESSION,
    FORBID_ADD_TO_LOSER,
    FORBID_REVERSE_WITHOUT_FLAT,
    MAX_OPEN_PACKAGES,
    MAX_OPEN_PACKAGES_PER_SYMBOL,
    NO_NAKED_SHORT,
    ONE_POSITION_ONLY,
    AuditFailed,
    AuditResult,
    AuditRules,
    Violation,
    audit_run,
)
from odte_nautilus.reports.frames import RunDataError
from odte_nautilus.risk.policy import load_policy
from tests.kit import DAY, ny_ns, session
from tests.run_folder_kit import (
    GAMMA,
    THETA,
    fills_frame,
    fly_entry_fills,
    fly_exit_fills,
    iso,
    leg_fill,
    position,
    positions_frame,
    strangle_fills,
)

RULES = AuditRules(flatten_ns={DAY: session().flatten_ns})
NO_POSITIONS = positions_frame()


def rules_of(result: AuditResult) -> list[str]:
    return [v.rule for v in result.violations]


# -- a clean run ---------------------------------------------------------------------------------------


def test_iron_butterfly_body_first_within_one_instant_is_clean():
    fills = fills_frame(fly_entry_fills(iso(10, 0), "F-1"), fly_exit_fills(iso(11, 0), "F-1"))
    result = audit_run(fills, positions_frame(position("F-1", 150.0, closed=iso(11, 0))), RULES)
    assert result.ok, result.violations
    assert result.checked == {"fills": 8, "instants": 2, "packages": 1, "entry_fills": 4}


def test_settlement_exit_rows_close_packages():
    settle = [
        leg_fill(iso(16, 0), "F-1", leg, side, role="exit", exit_kind="settlement", price=0.0)
        for leg, side in (("C5100", "BUY"), ("P5100", "BUY"), ("C5120", "SELL"), ("P5080", "SELL"))
    ]
    monday = date(2024, 3, 18)
    fills = fills_frame(
        fly_entry_fills(iso(10, 0), "F-1"), settle, fly_entry_fills(iso(10, 0, day=monday), "F-2", day=monday)
    )
    rules = AuditRules(
        max_open_packages_total=1, flatten_ns={DAY: session().flatten_ns, monday: session(monday).flatten_ns}
    )
    assert audit_run(fills, NO_POSITIONS, rules).ok


# -- no naked short ------------------------------------------------------------------------------------


def test_wings_filling_a_second_after_the_body_leave_a_naked_instant():
    legs = fly_entry_fills(iso(10, 0), "F-1")
    for wing in legs[2:]:
        wing["ts_event"] = iso(10, 0, 1)
    result = audit_run(fills_frame(legs), NO_POSITIONS, RULES)
    assert rules_of(result) == [NO_NAKED_SHORT, NO_NAKED_SHORT]  # the call side and the put side
    assert result.violations[0].ts == iso(10, 0)
    assert "1 short vs 0 long" in result.violations[0].detail


def test_selling_the_wings_before_buying_back_the_body_is_naked():
    exit_legs = fly_exit_fills(iso(11, 0), "F-1")
    for body in exit_legs[:2]:
        body["ts_event"] = iso(11, 0, 5)
    result = audit_run(fills_frame(fly_entry_fills(iso(10, 0), "F-1"), exit_legs), NO_POSITIONS, RULES)
    assert rules_of(result) == [NO_NAKED_SHORT, NO_NAKED_SHORT]
    assert {v.ts for v in result.violations} == {iso(11, 0)}


def test_a_short_leg_covered_by_another_strategys_long_is_covered_in_the_account():
    """Holdings are the account's: the broker nets contracts across strategies."""
    fills = fills_frame(
        strangle_fills(iso(9, 45), "G-1", call=5120, put=5080),
        [leg_fill(iso(10, 0), "X-1", "C5100", "SELL", strategy=THETA)],
    )
    result = audit_run(fills, NO_POSITIONS, RULES)
    assert NO_NAKED_SHORT not in rules_of(result)


# -- open packages -------------------------------------------------------------------------------------


def test_more_live_packages_than_the_total_limit_is_flagged_at_the_opening_instant():
    fills = fills_frame(
        strangle_fills(iso(10, 0), "G-1"),
        strangle_fills(iso(10, 5), "G-2", call=5125, put=5075),
        strangle_fills(iso(10, 10), "G-3", call=5130, put=5070),
    )
    at_limit = audit_run(fills.iloc[:4], NO_POSITIONS, AuditRules(max_open_packages_total=2))
    assert at_limit.ok
    over = audit_run(fills, NO_POSITIONS, AuditRules(max_open_packages_total=2))
    assert rules_of(over) == [MAX_OPEN_PACKAGES]
    assert over.violations[0].ts == iso(10, 10)
    assert "G-3 opened with 3 live packages (limit 2)" in over.violations[0].detail


def test_a_closed_package_no_longer_counts_as_live():
    fills = fills_frame(
        strangle_fills(iso(10, 0), "G-1"),
        strangle_fills(iso(10, 30), "G-1", role="exit"),
        strangle_fills(iso(10, 30), "G-2"),
    )
    assert audit_run(fills, NO_POSITIONS, AuditRules(max_open_packages_total=1)).ok


def test_per_symbol_limit_counts_one_strategy_on_one_underlying():
    fills = fills_frame(
        fly_entry_fills(iso(10, 0), "F-1"),
        fly_entry_fills(iso(10, 5), "F-SPY", underlying="SPY", center=510, wing=2),
        strangle_fills(iso(10, 7), "G-1"),
        fly_entry_fills(iso(10, 10), "F-2", center=5110),
    )
    rules = AuditRules(max_open_packages_per_symbol={"theta_harvester": 1, "gamma_scalper": 1})
    result = audit_run(fills, NO_POSITIONS, rules)
    assert rules_of(result) == [MAX_OPEN_PACKAGES_PER_SYMBOL]
    assert result.violations[0].ts == iso(10, 10)
    assert f"2 live {THETA} packages on SPX (limit 1)" in result.violations[0].detail


def test_one_position_only_allows_a_single_live_package():
    fills = fills_frame(strangle_fills(iso(10, 0), "G-1"), strangle_fills(iso(10, 1), "G-2", call=5125, put=5075))
    result = audit_run(fills, NO_POSITIONS, AuditRules(one_position_only=True, max_open_packages_total=5))
    assert rules_of(result) == [ONE_POSITION_ONLY]


def test_a_later_entry_fill_into_a_live_package_is_not_a_new_package():
    """The rest of a partially filled entry order: the package was already live and counted."""
    first = strangle_fills(iso(10, 0), "G-1")[:1]
    rest = strangle_fills(iso(10, 0, 30), "G-1")[1:]
    result = audit_run(fills_frame(first, rest), NO_POSITIONS, AuditRules(max_open_packages_total=1))
    assert result.ok
    assert result.checked["packages"] == 1


# -- entries after the flatten or the lock ------------------------------------------------------------


def test_entry_at_the_flatten_time_is_flagged_and_a_second_before_is_not():
    before = audit_run(fills_frame(strangle_fills(iso(15, 44, 59), "G-1")), NO_POSITIONS, RULES)
    assert before.ok
    at = audit_run(fills_frame(strangle_fills(iso(15, 45), "G-1")), NO_POSITIONS, RULES)
    assert rules_of(at) == [ENTRY_AFTER_FLATTEN]


def test_exits_after_the_flatten_are_fine():
    fills = fills_frame(strangle_fills(iso(15, 0), "G-1"), strangle_fills(iso(15, 46), "G-1", role="exit"))
    assert audit_run(fills, NO_POSITIONS, RULES).ok


def test_flatten_follows_the_early_close():
    early = date(2024, 11, 29)  # the day after Thanksgiving: close 13:00, flatten 12:45
    rules = AuditRules(flatten_ns={early: session(early, close=(13, 0)).flatten_ns})
    fills = fills_frame(strangle_fills(iso(12, 50, day=early), "G-1", day=early))
    assert rules_of(audit_run(fills, NO_POSITIONS, rules)) == [ENTRY_AFTER_FLATTEN]


def test_entry_after_the_day_lock_is_flagged_but_not_in_the_locking_instant():
    lock = ny_ns(11, 0)
    rules = AuditRules(lock_ns={DAY: lock})
    same_instant = audit_run(fills_frame(strangle_fills(iso(11, 0), "G-1")), NO_POSITIONS, rules)
    assert same_instant.ok
    after = audit_run(fills_frame(strangle_fills(iso(11, 0, 1), "G-1")), NO_POSITIONS, rules)
    assert rules_of(after) == [ENTRY_AFTER_LOCK]
    assert "G-1" in after.violations[0].detail


def test_entry_on_a_date_without_a_session_is_flagged():
    saturday = date(2024, 3, 16)
    fills = fills_frame(strangle_fills(iso(10, 0, day=saturday), "G-1", day=saturday))
    assert rules_of(audit_run(fills, NO_POSITIONS, RULES)) == [ENTRY_WITHOUT_SESSION]


def test_without_flatten_times_the_flatten_rule_is_not_checked():
    fills = fills_frame(strangle_fills(iso(15, 50), "G-1"))
    assert audit_run(fills, NO_POSITIONS, AuditRules()).ok


# -- add to a loser ------------------------------------------------------------------------------------


def _two_flies(second_strategy: str = THETA, first_closes: str = "11:00") -> tuple:
    hh, mm = map(int, first_closes.split(":"))
    fills = fills_frame(
        fly_entry_fills(iso(10, 0), "F-1"),
        fly_entry_fills(iso(10, 30), "F-2", center=5110, strategy=second_strategy),
        fly_exit_fills(iso(hh, mm), "F-1"),
        fly_exit_fills(iso(11, 30), "F-2", center=5110, strategy=second_strategy),
    )
    return fills


@pytest.mark.parametrize(
    ("first_pnl", "second_strategy", "first_closes", "flagged"),
    [
        (-200.0, THETA, "11:00", True),  # the add to a loser
        (200.0, THETA, "11:00", False),  # the first package ended a winner
        (-200.0, GAMMA, "11:00", False),  # another strategy's package
        (-200.0, THETA, "10:15", False),  # the loser was closed before the new package opened
    ],
)
def test_add_to_loser(first_pnl, second_strategy, first_closes, flagged):
    fills = _two_flies(second_strategy, first_closes)
    positions = positions_frame(position("F-1", first_pnl), position("F-2", 50.0, strategy=second_strategy))
    result = audit_run(fills, positions, RULES)
    assert (rules_of(result) == [FORBID_ADD_TO_LOSER]) is flagged
    if flagged:
        assert result.violations[0].ts == iso(10, 30)
        assert "F-2 opened while F-1" in result.violations[0].detail


def test_packages_opened_in_the_same_instant_are_not_adds():
    fills = fills_frame(fly_entry_fills(iso(10, 0), "F-1"), fly_entry_fills(iso(10, 0), "F-2", center=5110))
    positions = positions_frame(position("F-1", -100.0), position("F-2", -100.0))
    assert audit_run(fills, positions, RULES).ok


# -- reverse without flat ------------------------------------------------------------------------------


def test_one_order_flipping_an_instruments_sign_is_a_reverse():
    cover = [leg_fill(iso(9, 50), "X-0", "C5120", "BUY", qty=2)]  # keeps the short call covered
    long_one = [leg_fill(iso(10, 0), "X-1", "C5100", "BUY")]
    flip = [leg_fill(iso(10, 5), "X-1", "C5100", "SELL", qty=2, role="exit")]
    result = audit_run(fills_frame(cover, long_one, flip), NO_POSITIONS, RULES)
    assert FORBID_REVERSE_WITHOUT_FLAT in rules_of(result)
    assert "+1 -> -1" in next(v for v in result.violations if v.rule == FORBID_REVERSE_WITHOUT_FLAT).detail


def test_two_packages_crossing_zero_at_the_same_instant_are_two_orders_not_a_reverse():
    """One strategy closes its long call while another opens a short one in the same second."""
    cover = [leg_fill(iso(9, 50), "X-0", "C5120", "BUY", qty=2)]
    long_one = [leg_fill(iso(10, 0), "X-1", "C5100", "BUY")]
    both = [leg_fill(iso(10, 5), "X-1", "C5100", "SELL", role="exit"), leg_fill(iso(10, 5), "X-2", "C5100", "SELL")]
    assert FORBID_REVERSE_WITHOUT_FLAT not in rules_of(
        audit_run(fills_frame(cover, long_one, both), NO_POSITIONS, RULES)
    )


def test_closing_against_another_strategys_opposite_holding_is_not_a_reverse():
    """The account goes from -1 to +1 when one strategy buys back its 2 short calls beside another's long
    one: each book is closing, nobody reverses (the kernel's rule is one book's too)."""
    cover = [leg_fill(iso(9, 50), "X-0", "C5120", "BUY", qty=2)]
    long_one = [leg_fill(iso(10, 0), "G-1", "C5100", "BUY", strategy=GAMMA)]
    short_two = [leg_fill(iso(10, 1), "X-1", "C5100", "SELL", qty=2)]
    buy_back = [leg_fill(iso(10, 5), "X-1", "C5100", "BUY", qty=2, role="exit")]
    result = audit_run(fills_frame(cover, long_one, short_two, buy_back), NO_POSITIONS, RULES)
    assert FORBID_REVERSE_WITHOUT_FLAT not in rules_of(result)


def test_going_flat_at_one_instant_and_short_at_the_next_is_not_a_reverse():
    cover = [leg_fill(iso(9, 50), "X-0", "C5120", "BUY", qty=2)]
    long_one = [leg_fill(iso(10, 0), "X-1", "C5100", "BUY")]
    flat = [leg_fill(iso(10, 5), "X-1", "C5100", "SELL", role="exit")]
    short = [leg_fill(iso(10, 6), "X-2", "C5100", "SELL")]
    assert audit_run(fills_frame(cover, long_one, flat, short), NO_POSITIONS, RULES).ok


# -- results, errors, rules from a profile ------------------------------------------------------------


def test_result_is_json_serializable():
    fills = fills_frame([leg_fill(iso(10, 0), "X-1", "C5100", "SELL")])
    data = json.loads(json.dumps(audit_run(fills, NO_POSITIONS, RULES).to_dict()))
    assert data["ok"] is False
    assert data["violations"][0]["rule"] == NO_NAKED_SHORT
    assert data["checked"]["fills"] == 1


def test_audit_failed_lists_violations_and_points_to_the_rest():
    violations = tuple(Violation(NO_NAKED_SHORT, iso(10, 0), f"case {i}") for i in range(25))
    message = str(AuditFailed(AuditResult(False, {"fills": 9}, violations), "runs/r1"))
    assert message.startswith("invariant audit failed in runs/r1: 25 violation(s) over 9 fills")
    assert "case 19" in message and "case 20" not in message
    assert "and 5 more" in message


def test_rules_from_the_paper_profile():
    rules = AuditRules.from_policy(load_policy("multi_strategy_paper"), [session()], {DAY: ny_ns(12, 0)})
    assert rules.total_limit() == (5, MAX_OPEN_PACKAGES)
    assert rules.symbol_limit(THETA) == 3
    assert rules.symbol_limit(GAMMA) == 2
    assert rules.flatten_ns == {DAY: session().flatten_ns}
    assert rules.lock_ns == {DAY: ny_ns(12, 0)}


def test_rules_from_the_single_position_profile():
    rules = AuditRules.from_policy(load_policy("single_position_0dte"), [session()])
    assert rules.total_limit() == (1, ONE_POSITION_ONLY)


@pytest.mark.parametrize(
    ("column", "value", "expected"),
    [
        ("side", "B", "line 3: column side is 'B'"),
        ("quantity", 0, "line 3: column quantity is '0'"),
        ("role", "open", "line 3: column role is 'open'"),
        ("right", "X", "line 3: column right is 'X'"),
    ],
)
def test_a_bad_fill_row_is_refused_with_its_line(column, value, expected):
    fills = fills_frame(strangle_fills(iso(10, 0), "G-1"))
    fills.loc[1, column] = value
    with pytest.raises(RunDataError, match=expected):
        audit_run(fills, NO_POSITIONS, RULES)


def test_missing_fill_columns_are_named():
    fills = fills_frame(strangle_fills(iso(10, 0), "G-1")).drop(columns=["right", "expiry"])
    with pytest.raises(RunDataError, match=r"missing column.*right, expiry"):
        audit_run(fills, NO_POSITIONS, RULES)
