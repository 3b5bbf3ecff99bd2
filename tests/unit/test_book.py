"""The risk book: what happened becomes durable consequences the kernel then enforces."""

from __future__ import annotations

from datetime import date

import pytest

from odte_nautilus.risk.book import EOD_LOCK_REASON, RiskBook
from odte_nautilus.risk.decision import ReasonCode
from odte_nautilus.risk.journal import read
from odte_nautilus.risk.model import ExitKind, PackageState
from odte_nautilus.risk.policy import load_policy
from odte_nautilus.risk.store import RiskStore
from tests.kit import DAY, entry, exit_of, fly_entry, ny_ns, package_view

NEXT_DAY = date(2024, 3, 18)


def make_book(tmp_path, profile: str = "multi_strategy_paper", nav: float = 100_000.0) -> RiskBook:
    return RiskBook(load_policy(profile), tmp_path / "state.sqlite", tmp_path / "journal.jsonl", nav=nav)


@pytest.fixture
def multi(tmp_path):
    book = make_book(tmp_path)
    yield book
    book.close()


@pytest.fixture
def single(tmp_path):
    book = make_book(tmp_path, "single_position_0dte")
    yield book
    book.close()


def test_check_allows_a_plain_entry_and_journals_it(multi):
    decision = multi.check(fly_entry(qty=1))
    assert decision.allowed, decision.reason
    (line,) = [r for r in read(multi.journal.path) if r["kind"] == "decision"]
    assert line["decision"]["code"] == "ALLOWED" and line["source"] == "strategy"


def test_recorded_entries_count_against_the_strategy_rate_limit(multi):
    for i in range(2):
        intent = fly_entry(package=f"P-{i}", ts_ns=ny_ns(10, 0, i))
        assert multi.check(intent).allowed
        multi.record_entry(intent)
    third = fly_entry(package="P-3", ts_ns=ny_ns(10, 0, 30))
    assert multi.check(third).code is ReasonCode.RATE_LIMIT_STRATEGY


def test_three_losses_stop_the_day_under_the_single_position_profile(single):
    for i in range(3):
        single.record_close("GammaScalper-001", -100.0, ny_ns(10, 10 + i))
    state = single.state(ny_ns(11, 0))
    assert state.day_locked and "loss streak" in state.lock_reason
    assert single.check(entry(ts_ns=ny_ns(11, 0))).code is ReasonCode.DAY_LOCKED


def test_two_losses_halve_the_size(single):
    for i in range(2):
        single.record_close("GammaScalper-001", -100.0, ny_ns(10, 10 + i))
    decision = single.check(entry(qty=2, ts_ns=ny_ns(11, 0)))
    assert decision.allowed and decision.size == 1 and decision.code is ReasonCode.LOSS_STREAK_SIZE_CUT


def test_hard_stop_on_the_nav_ladder_locks_the_day(single):
    single.record_close("GammaScalper-001", -2_000.0, ny_ns(10, 30))  # 2 % of 100k
    assert single.state(ny_ns(10, 31)).day_locked


def test_unrealized_drawdown_locks_the_day_when_enforced_on_the_slow_timer(single):
    single.track([package_view(entry(), unrealized=-2_100.0)])
    tripped = single.enforce(ny_ns(10, 30))
    assert tripped and single.state(ny_ns(10, 31)).day_locked


def test_enforce_on_unchanged_numbers_answers_at_once_but_a_new_mark_is_enforced(single):
    """``enforce`` returns early while it would read the same objects: a mark tracked since is read."""
    single.track([package_view(entry(), unrealized=-100.0)])
    assert single.enforce(ny_ns(10, 30)) == [] and single.enforce(ny_ns(10, 31)) == []
    single.track([package_view(entry(), unrealized=-2_100.0)])
    assert single.enforce(ny_ns(10, 32)) and single.state(ny_ns(10, 33)).day_locked


def test_enforce_reads_a_loss_another_connection_committed_since_its_last_call(tmp_path):
    """The store's record is part of what ``enforce`` compares: another handle's write is enforced."""
    book = make_book(tmp_path, "single_position_0dte")
    try:
        assert book.enforce(ny_ns(10, 30)) == []
        with RiskStore(tmp_path / "state.sqlite") as other:
            other.record_close(DAY, "GammaScalper-001", -2_100.0)
        assert book.enforce(ny_ns(10, 31)) and book.state(ny_ns(10, 32)).day_locked
    finally:
        book.close()


def test_global_loss_trips_risk_off_which_survives_into_the_next_day(tmp_path):
    book = make_book(tmp_path)
    book.record_close("ThetaHarvester-001", -1_900.0, ny_ns(11, 0))
    book.record_close("GammaScalper-001", -1_100.0, ny_ns(11, 5))
    assert book.state(ny_ns(11, 6)).global_breaker
    book.close()
    reopened = make_book(tmp_path)
    next_day = reopened.check(fly_entry(ts_ns=ny_ns(10, 0, day=NEXT_DAY)))
    assert next_day.code is ReasonCode.GLOBAL_BREAKER
    reopened.close()


def test_strategy_breaker_at_half_its_max_loss_stops_only_that_strategy(multi):
    multi.record_close("GammaScalper-001", -500.0, ny_ns(11, 0))
    assert multi.check(entry(package="G-2", ts_ns=ny_ns(11, 1))).code is ReasonCode.STRATEGY_BREAKER
    assert multi.check(fly_entry(package="T-2", ts_ns=ny_ns(11, 1))).allowed


def test_strategy_breaker_resets_the_next_trading_day(multi):
    multi.record_close("GammaScalper-001", -500.0, ny_ns(11, 0))
    assert multi.check(entry(ts_ns=ny_ns(10, 0, day=NEXT_DAY))).allowed


def test_eod_lock_cannot_reopen_even_after_a_restart(tmp_path):
    """The lock is asked at 11:00, an hour only the lock can refuse (the EOD window opens at 15:45): a day
    whose flatten ran - here early, as after a restart into a locked day - stays locked in a new process."""
    book = make_book(tmp_path)
    assert book.check(fly_entry(ts_ns=ny_ns(11, 0))).allowed  # open before the lock
    book.lock_for_eod(ny_ns(10, 59))
    book.close()
    reopened = make_book(tmp_path)
    decision = reopened.check(fly_entry(package="P-2", ts_ns=ny_ns(11, 0)))
    assert decision.code is ReasonCode.DAY_LOCKED
    assert reopened.state(ny_ns(11, 0)).lock_reason == EOD_LOCK_REASON
    reopened.close()


def test_kill_switch_refuses_entries_but_not_exits(multi):
    intent = fly_entry()
    multi.track([package_view(intent)])
    multi.kill(by="ops", reason="test", now_ns=ny_ns(10, 5))
    assert multi.check(fly_entry(package="P-2", ts_ns=ny_ns(10, 6))).code is ReasonCode.KILL_SWITCH
    assert multi.check(exit_of(intent, ExitKind.KILL_SWITCH)).allowed


def test_flat_packages_are_forgotten(multi):
    intent = fly_entry()
    multi.track([package_view(intent)])
    multi.track([package_view(intent, state=PackageState.FLAT)])
    assert multi.packages == {}


def test_a_nan_day_pnl_trips_the_breakers_as_the_kernel_refuses(multi):
    """A missing mark (NaN unrealized P&L) must lock and trip exactly where the kernel refuses: fail closed."""
    multi.track([package_view(fly_entry(), unrealized=float("nan"))])
    tripped = multi.enforce(ny_ns(10, 30))
    state = multi.state(ny_ns(10, 31))
    assert state.day_locked and state.global_breaker, tripped
