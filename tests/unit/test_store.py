"""Durable risk state: what is recorded, how long it lives, who may undo it, and what is refused."""

from __future__ import annotations

import logging
import sqlite3
from datetime import date

import pytest

from odte_nautilus.risk.model import RiskState
from odte_nautilus.risk.store import (
    GLOBAL_BREAKER,
    KILL_SWITCH,
    SCHEMA_VERSION,
    RiskStore,
    StateCorruptError,
)
from tests.kit import ny_ns

DAY = date(2024, 3, 15)
NEXT_DAY = date(2024, 3, 18)
THETA = "ThetaHarvester-001"
GAMMA = "GammaScalper-001"


@pytest.fixture
def path(tmp_path):
    return tmp_path / "state" / "risk.sqlite"


@pytest.fixture
def store(path):
    with RiskStore(path) as s:
        yield s


def test_a_missing_file_is_a_fresh_store_and_says_so(path, caplog):
    with caplog.at_level(logging.WARNING, logger="odte_nautilus.risk.store"), RiskStore(path) as s:
        day = s.load_day(DAY)
    assert path.is_file()
    assert "no risk state file" in caplog.text and str(path) in caplog.text
    assert (day.realized_pnl, day.loss_streak, day.trades_today, day.day_locked) == (0.0, 0, 0, False)
    assert not (day.kill_switch or day.global_breaker or day.strategy_breakers or day.disabled_strategies)
    assert list(path.parent.glob("*.creating")) == []


def test_entries_count_trades_and_keep_their_times_per_strategy(store):
    store.record_entry(DAY, GAMMA, ny_ns(10, 1))
    store.record_entry(DAY, THETA, ny_ns(10, 0))
    store.record_entry(DAY, GAMMA, ny_ns(10, 0))
    day = store.load_day(DAY)
    assert day.trades_today == 3
    assert day.strategy_trades == {GAMMA: 2, THETA: 1}
    assert day.entry_times_ns == {GAMMA: (ny_ns(10, 0), ny_ns(10, 1)), THETA: (ny_ns(10, 0),)}


def test_closes_add_realized_pnl_globally_and_per_strategy(store):
    store.record_close(DAY, THETA, 250.0)
    store.record_close(DAY, GAMMA, -400.0)
    store.record_close(DAY, THETA, -50.5)
    day = store.load_day(DAY)
    assert day.realized_pnl == pytest.approx(-200.5)
    assert day.strategy_realized_pnl == {THETA: pytest.approx(199.5), GAMMA: -400.0}


@pytest.mark.parametrize(
    "pnls, streak",
    [
        ([-100.0], 1),
        ([-100.0, -20.0, -1.0], 3),
        ([-100.0, -20.0, 5.0], 0),  # a win resets
        ([-100.0, -20.0, 0.0], 2),  # a scratch leaves it
        ([-100.0, 0.004, -1.0], 2),  # half a cent is a scratch
        ([-100.0, -0.006], 2),  # just beyond it is a loss
        ([50.0, 0.0, -10.0], 1),
    ],
)
def test_loss_streak_counts_consecutive_losses(store, pnls, streak):
    for pnl in pnls:
        store.record_close(DAY, GAMMA, pnl)
    assert store.load_day(DAY).loss_streak == streak


def test_the_streak_runs_across_strategies(store):
    store.record_close(DAY, GAMMA, -10.0)
    store.record_close(DAY, THETA, -10.0)
    assert store.load_day(DAY).loss_streak == 2


@pytest.mark.parametrize("pnl", [float("nan"), float("inf"), float("-inf")])
def test_a_non_finite_pnl_is_refused_and_changes_nothing(store, pnl):
    store.record_close(DAY, GAMMA, -10.0)
    with pytest.raises(ValueError, match="finite"):
        store.record_close(DAY, GAMMA, pnl)
    assert store.load_day(DAY).realized_pnl == -10.0


def test_lock_day_keeps_the_first_reason_and_has_no_way_back(store):
    store.lock_day(DAY, "EOD flatten 15:45", ts_ns=ny_ns(15, 45))
    store.lock_day(DAY, "hard stop")
    day = store.load_day(DAY)
    assert (day.day_locked, day.lock_reason) == (True, "EOD flatten 15:45")
    assert not [name for name in dir(store) if "unlock" in name.lower() or "reopen" in name.lower()]


def test_a_locked_day_still_books_closes(store):
    """The flatten's fills arrive after the lock; their P&L must not be lost."""
    store.lock_day(DAY, "EOD flatten")
    store.record_close(DAY, GAMMA, -75.0)
    day = store.load_day(DAY)
    assert (day.day_locked, day.realized_pnl, day.loss_streak) == (True, -75.0, 1)


def test_a_lock_needs_a_reason(store):
    with pytest.raises(ValueError, match="reason"):
        store.lock_day(DAY, " ")


def test_next_day_resets_the_day_but_not_the_manual_reset_switches(store):
    store.record_entry(DAY, THETA, ny_ns(10, 0))
    store.record_close(DAY, THETA, -1500.0)
    store.lock_day(DAY, "hard stop")
    store.trip_strategy_breaker(DAY, THETA, "lost 75 % of max daily loss")
    store.trip_global_breaker("daily loss 3,100 > 3,000")
    store.set_kill_switch(True, by="ops", reason="emergency stop")
    store.set_strategy_enabled(GAMMA, False, by="ops")
    today, tomorrow = store.load_day(DAY), store.load_day(NEXT_DAY)
    assert today.strategy_breakers == {THETA}
    assert (tomorrow.realized_pnl, tomorrow.loss_streak, tomorrow.trades_today) == (0.0, 0, 0)
    assert (tomorrow.day_locked, tomorrow.strategy_breakers, tomorrow.entry_times_ns) == (False, frozenset(), {})
    assert (tomorrow.kill_switch, tomorrow.kill_switch_reason) == (True, "emergency stop")
    assert (tomorrow.global_breaker, tomorrow.global_breaker_reason) == (True, "daily loss 3,100 > 3,000")
    assert tomorrow.disabled_strategies == {GAMMA}


def test_kill_switch_reset_is_manual_and_audited(store):
    store.set_kill_switch(True, by="control-api", reason="emergency stop", ts_ns=1)
    store.set_kill_switch(True, by="someone-else", reason="again", ts_ns=2)  # no-op: keeps the first cause
    assert store.load_day(DAY).kill_switch_reason == "emergency stop"
    with pytest.raises(ValueError, match="by"):
        store.set_kill_switch(False, by="")
    assert store.load_day(DAY).kill_switch is True
    store.set_kill_switch(False, by="alice", reason="checked positions", ts_ns=3)
    assert store.load_day(DAY).kill_switch is False
    history = store.control_history(KILL_SWITCH)
    assert [(e.ts_ns, e.action, e.by, e.reason) for e in history] == [
        (1, "on", "control-api", "emergency stop"),
        (3, "off", "alice", "checked positions"),
    ]


def test_global_breaker_trips_and_resets_only_by_hand(store):
    store.trip_global_breaker("daily loss 3,100 > 3,000", ts_ns=10)
    with pytest.raises(ValueError, match="by"):
        store.reset_global_breaker(by="")
    assert store.load_day(NEXT_DAY).global_breaker is True
    store.reset_global_breaker(by="bob", reason="reviewed", ts_ns=20)
    day = store.load_day(NEXT_DAY)
    assert (day.global_breaker, day.global_breaker_reason) == (False, "")
    assert [(e.action, e.by) for e in store.control_history(GLOBAL_BREAKER)] == [("trip", "risk"), ("reset", "bob")]


def test_strategy_breaker_is_per_date(store):
    store.trip_strategy_breaker(DAY, THETA)
    assert store.load_day(DAY).strategy_breakers == {THETA}
    assert store.load_day(NEXT_DAY).strategy_breakers == frozenset()
    assert store.load_day(DAY).trades_today == 0  # a trip is not a trade


def test_disabling_and_enabling_a_strategy_is_audited(store):
    store.set_strategy_enabled(GAMMA, False, by="ops", reason="signals look wrong")
    assert store.load_day(DAY).disabled_strategies == {GAMMA}
    store.set_strategy_enabled(GAMMA, True, by="alice")
    assert store.load_day(DAY).disabled_strategies == frozenset()
    assert [e.action for e in store.control_history(f"strategy:{GAMMA}")] == ["disable", "enable"]
    store.set_strategy_enabled(THETA, True, by="alice")  # already enabled: nothing to audit
    assert store.control_history(f"strategy:{THETA}") == []


def test_a_day_record_fills_the_kernels_risk_state(store):
    store.record_entry(DAY, GAMMA, ny_ns(10, 0))
    store.record_close(DAY, GAMMA, -120.0)
    store.trip_strategy_breaker(DAY, GAMMA)
    state = RiskState(now_ns=ny_ns(10, 5), session=None, nav=100_000.0, **store.load_day(DAY).risk_state_fields())
    assert (state.realized_pnl, state.loss_streak, state.trades_today) == (-120.0, 1, 1)
    assert state.strategy_breakers == {GAMMA}
    assert state.entry_times_ns == {GAMMA: (ny_ns(10, 0),)}


def test_a_failed_change_is_rolled_back_whole(store):
    """One transaction per change: an entry is the day's count, the strategy's count and its time, or none."""
    store.record_entry(DAY, GAMMA, ny_ns(10, 0))
    with pytest.raises(sqlite3.IntegrityError):
        store.record_entry(DAY, GAMMA, None)  # the time is NOT NULL: the third statement fails
    day = store.load_day(DAY)
    assert (day.trades_today, day.strategy_trades[GAMMA], day.entry_times_ns[GAMMA]) == (1, 1, (ny_ns(10, 0),))


def test_durability_pragmas_are_on(store):
    assert store._conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store._conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


# -- refusing doubtful files ---------------------------------------------------------------------------


def test_a_file_that_is_not_a_database_is_refused(path):
    path.parent.mkdir(parents=True)
    path.write_bytes(b"this is not sqlite, it is a text file that happens to be here" * 100)
    with pytest.raises(StateCorruptError, match=r"risk\.sqlite") as info:
        RiskStore(path)
    assert "Refusing to start a fresh day" in str(info.value)
    assert path.read_bytes().startswith(b"this is not sqlite")  # never overwritten


def test_a_malformed_database_is_refused(path):
    with RiskStore(path) as s:
        for i in range(200):
            s.record_entry(DAY, GAMMA, i)
    data = bytearray(path.read_bytes())
    page = 4096
    data[2 * page : 3 * page] = b"\xff" * page  # smash a b-tree page
    path.write_bytes(bytes(data))
    with pytest.raises(StateCorruptError, match=r"risk\.sqlite.*(integrity_check|not a readable)"):
        RiskStore(path)


def test_a_database_failing_integrity_check_is_refused(path):
    """Readable but inconsistent (an index that disagrees with its table): only integrity_check sees it."""
    with RiskStore(path) as s:
        for i in range(5):
            s.record_entry(DAY, GAMMA, i)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA writable_schema=ON")
    conn.execute(
        "UPDATE sqlite_master SET sql = 'CREATE INDEX entry_by_day ON entry (ts_ns, strategy, trading_date)'"
        " WHERE name = 'entry_by_day'"
    )
    conn.commit()
    conn.close()
    with pytest.raises(StateCorruptError, match="fails PRAGMA integrity_check: row 1 missing from index"):
        RiskStore(path)


def test_an_empty_or_foreign_database_is_refused(path):
    path.parent.mkdir(parents=True)
    sqlite3.connect(path).execute("CREATE TABLE other (x)").connection.commit()
    with pytest.raises(StateCorruptError, match="not a readable risk state database"):
        RiskStore(path)
    empty = path.with_name("empty.sqlite")
    empty.touch()
    with pytest.raises(StateCorruptError, match=r"empty\.sqlite"):
        RiskStore(empty)


def test_a_newer_schema_is_refused_with_what_to_do(path):
    RiskStore(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION + 1,))
    with pytest.raises(StateCorruptError, match=f"schema version {SCHEMA_VERSION + 1} is newer") as info:
        RiskStore(path)
    assert "do not delete the file" in str(info.value)


def test_a_damaged_schema_version_is_refused(path):
    RiskStore(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO schema_version (version) VALUES (1)")
    with pytest.raises(StateCorruptError, match="schema_version"):
        RiskStore(path)


def test_two_handles_on_one_file_see_each_others_changes(path):
    """The CLI's emergency stop writes while the node runs: the node reads the file, not a cached copy."""
    with RiskStore(path) as node, RiskStore(path) as cli:
        assert node.load_day(DAY).kill_switch is False
        cli.set_kill_switch(True, by="cli", reason="odte emergency-stop")
        assert node.load_day(DAY).kill_switch is True


def test_an_exclusive_store_shuts_out_every_other_connection_and_reads_back_its_own_writes(tmp_path):
    """A backtest's private state answers reads from memory: sound only because nobody else can commit."""
    path = tmp_path / "bt.sqlite"
    store = RiskStore(path, durable=False, exclusive=True)
    try:
        assert store.load_day(DAY).kill_switch is False
        other = sqlite3.connect(path, timeout=0.1)
        try:
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("UPDATE switch SET active = 1")
                other.commit()
        finally:
            other.close()
        store.set_kill_switch(True, by="test", reason="its own write")
        assert store.load_day(DAY).kill_switch is True
    finally:
        store.close()
    with RiskStore(path) as reopened:  # closed, the lock is gone and the write was kept
        assert reopened.load_day(DAY).kill_switch is True


def test_a_non_durable_store_keeps_every_rule_and_only_skips_the_fsync(tmp_path):
    """A backtest's throwaway state: same schema and transactions, no fsync per change."""
    store = RiskStore(tmp_path / "bt.sqlite", durable=False)
    try:
        store.lock_day(date(2024, 3, 15), "EOD flatten")
        assert store._conn.execute("PRAGMA synchronous").fetchone()[0] == 0
        assert store.load_day(date(2024, 3, 15)).day_locked
    finally:
        store.close()
