"""design §10: the durable risk state survives ``kill -9``.

A child process records a bad day (entries, losses, the lock, the kill switch, both breakers, a disabled
strategy), prints READY and sleeps; the test SIGKILLs it - no close, no atexit, no checkpoint - and reopens
the file. Everything the child's write methods returned from must be there.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from datetime import date
from pathlib import Path

import pytest

from odte_nautilus.risk.store import RiskStore, StateCorruptError

DAY = date(2024, 11, 29)  # an early-close day: locked at the 12:45 flatten
NEXT_DAY = date(2024, 12, 2)
THETA = "ThetaHarvester-001"
GAMMA = "GammaScalper-001"
REPO = Path(__file__).resolve().parents[2]

CHILD = textwrap.dedent(
    f"""
    import sys, time
    from datetime import date
    from odte_nautilus.risk.store import RiskStore

    day = date.fromisoformat("{DAY.isoformat()}")
    store = RiskStore(sys.argv[1])
    store.record_entry(day, "{GAMMA}", 1_000)
    store.record_entry(day, "{GAMMA}", 2_000)
    store.record_entry(day, "{THETA}", 3_000)
    store.record_close(day, "{GAMMA}", -400.0)
    store.record_close(day, "{THETA}", -1_250.0)
    store.record_close(day, "{GAMMA}", -300.0)
    store.trip_strategy_breaker(day, "{THETA}", "strategy loss > 50 % of max")
    store.trip_global_breaker("daily loss 1,950")
    store.set_kill_switch(True, by="control-api", reason="emergency stop")
    store.set_strategy_enabled("{GAMMA}", False, by="ops")
    store.lock_day(day, "EOD flatten 12:45 (early close)")
    print("READY", flush=True)
    time.sleep(600)
    """
)


def run_child_and_sigkill(path: Path) -> None:
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(path)], stdout=subprocess.PIPE, text=True, cwd=REPO)
    assert child.stdout is not None  # stdout=PIPE
    try:
        assert child.stdout.readline().strip() == "READY"
        os.kill(child.pid, signal.SIGKILL)
        assert child.wait(timeout=30) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        child.stdout.close()


@pytest.fixture(scope="module")
def killed_store(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("state") / "risk.sqlite"
    run_child_and_sigkill(path)
    return path


def test_everything_written_before_sigkill_is_there_after_restart(killed_store):
    with RiskStore(killed_store) as store:
        day = store.load_day(DAY)
    assert (day.day_locked, day.lock_reason) == (True, "EOD flatten 12:45 (early close)")
    assert day.loss_streak == 3
    assert day.realized_pnl == -1_950.0
    assert day.strategy_realized_pnl == {GAMMA: -700.0, THETA: -1_250.0}
    assert day.trades_today == 3
    assert day.entry_times_ns == {GAMMA: (1_000, 2_000), THETA: (3_000,)}
    assert day.strategy_breakers == {THETA}
    assert (day.global_breaker, day.kill_switch) == (True, True)
    assert day.disabled_strategies == {GAMMA}


def test_the_locked_day_stays_locked_through_any_number_of_restarts(killed_store):
    for _ in range(3):
        with RiskStore(killed_store) as store:
            store.lock_day(DAY, "a later reason does not replace the first")
            assert store.load_day(DAY).lock_reason == "EOD flatten 12:45 (early close)"
    with RiskStore(killed_store) as store:
        assert store.load_day(DAY).day_locked is True


def test_the_next_trading_day_starts_fresh_but_keeps_the_manual_reset_switches(killed_store):
    with RiskStore(killed_store) as store:
        day = store.load_day(NEXT_DAY)
    assert (day.day_locked, day.realized_pnl, day.loss_streak, day.trades_today) == (False, 0.0, 0, 0)
    assert day.strategy_breakers == frozenset()
    assert (day.kill_switch, day.global_breaker) == (True, True)
    assert day.disabled_strategies == {GAMMA}


def test_a_store_corrupted_after_the_crash_is_refused_not_restarted_fresh(tmp_path):
    path = tmp_path / "risk.sqlite"
    run_child_and_sigkill(path)
    with RiskStore(path) as store:  # reopening checkpoints the crash's write-ahead log into the file
        assert store.load_day(DAY).day_locked
    data = bytearray(path.read_bytes())
    data[:16] = b"garbage-garbage!"  # the "SQLite format 3" header
    path.write_bytes(bytes(data))
    with pytest.raises(StateCorruptError, match=str(path)):
        RiskStore(path)
