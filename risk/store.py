"""Durable risk state in an embedded SQLite file (design §10): it survives ``kill -9``.

What the risk rules remember across a restart: per trading date, the realized P&L (global and per
strategy), the loss streak, the trades taken and their entry times (for the rate limits), the day lock
and its reason, the per-strategy breakers; and globally, the kill switch, the RISK-OFF global breaker and
the disabled strategies, with a log of who changed them and when.

Why each choice:
- One transaction per change, WAL journal and ``synchronous=FULL``: a change is on disk when its method
  returns, so a SIGKILL right after it loses nothing (tests/integration/test_restart_sigkill.py).
- A locked day cannot be unlocked: there is no method for it. Seed 000's "session-reset logic so a
  flattened day cannot quietly reopen" means a restart after the EOD flatten must find the day shut.
- Lifetimes follow seed 003's recovery rules: P&L, streak, trades, lock and per-strategy breakers belong to
  one trading date (the per-strategy breaker "auto-resets next day"); the kill switch and the RISK-OFF
  breaker are global and persist until a manual reset; a disabled strategy stays disabled until enabled.
- Doubt is refused: an existing file that is not a database, fails ``PRAGMA integrity_check``, lacks our
  schema or has a newer one raises :class:`StateCorruptError`. Starting a fresh day over a file that may
  hold a locked day would quietly reopen it. Only a *missing* file starts fresh (and that is logged); the
  fresh file is built under a temporary name and linked into place, so a crash while creating it never
  leaves a half-made store behind that could be mistaken for either.
- Risk-reducing changes (kill switch on, disable a strategy, trips) are always accepted; the ones that
  increase risk (kill switch off, breaker reset, enable) need a named person ``by`` (design §15).

The loss streak counts consecutive losing closes of the day across strategies (seed 000's streak guard):
a loss (P&L < -0.005 $) adds one, a win (> +0.005 $) resets it to 0, and a scratch (|P&L| <= half a cent,
fees and float noise) leaves it unchanged - a flat trade neither breaks a losing run nor extends it.
"""

from __future__ import annotations

import logging
import math
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TypedDict

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
SCRATCH_TOLERANCE = 0.005  # dollars: |P&L| at or below this is a scratch for the loss streak
KILL_SWITCH = "kill_switch"
GLOBAL_BREAKER = "global_breaker"
SYSTEM = "risk"  # ``by`` of the changes the risk engine makes by itself (breaker trips)

_SCHEMA = (
    "CREATE TABLE schema_version (version INTEGER NOT NULL)",
    """CREATE TABLE day (
        trading_date TEXT PRIMARY KEY,
        realized_pnl REAL NOT NULL DEFAULT 0,
        loss_streak INTEGER NOT NULL DEFAULT 0,
        trades INTEGER NOT NULL DEFAULT 0,
        locked INTEGER NOT NULL DEFAULT 0,
        lock_reason TEXT NOT NULL DEFAULT '',
        locked_ns INTEGER)""",
    """CREATE TABLE strategy_day (
        trading_date TEXT NOT NULL,
        strategy TEXT NOT NULL,
        realized_pnl REAL NOT NULL DEFAULT 0,
        trades INTEGER NOT NULL DEFAULT 0,
        breaker_tripped INTEGER NOT NULL DEFAULT 0,
        breaker_reason TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (trading_date, strategy))""",
    """CREATE TABLE entry (
        trading_date TEXT NOT NULL,
        strategy TEXT NOT NULL,
        ts_ns INTEGER NOT NULL)""",
    "CREATE INDEX entry_by_day ON entry (trading_date, strategy, ts_ns)",
    """CREATE TABLE switch (
        name TEXT PRIMARY KEY,
        active INTEGER NOT NULL,
        reason TEXT NOT NULL,
        changed_by TEXT NOT NULL,
        changed_ns INTEGER NOT NULL)""",
    """CREATE TABLE strategy_switch (
        strategy TEXT PRIMARY KEY,
        enabled INTEGER NOT NULL,
        changed_by TEXT NOT NULL,
        changed_ns INTEGER NOT NULL)""",
    """CREATE TABLE control_log (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        ts_ns INTEGER NOT NULL,
        target TEXT NOT NULL,
        action TEXT NOT NULL,
        changed_by TEXT NOT NULL,
        reason TEXT NOT NULL)""",
)


class RiskStateFields(TypedDict, total=False):
    """The keyword arguments of ``model.RiskState`` that the durable state owns, with their types."""

    realized_pnl: float
    strategy_realized_pnl: dict[str, float]
    loss_streak: int
    trades_today: int
    entry_times_ns: dict[str, tuple[int, ...]]
    day_locked: bool
    lock_reason: str
    kill_switch: bool
    global_breaker: bool
    strategy_breakers: frozenset[str]
    disabled_strategies: frozenset[str]


class StateCorruptError(RuntimeError):
    """The risk state file cannot be trusted; the message names the file and what to do."""


@dataclass(frozen=True, slots=True)
class DayRecord:
    """A snapshot of the durable risk state as it applies to one trading date."""

    trading_date: date
    realized_pnl: float = 0.0
    strategy_realized_pnl: dict[str, float] = field(default_factory=dict)
    loss_streak: int = 0
    trades_today: int = 0
    strategy_trades: dict[str, int] = field(default_factory=dict)
    entry_times_ns: dict[str, tuple[int, ...]] = field(default_factory=dict)  # per strategy, ascending
    day_locked: bool = False
    lock_reason: str = ""
    kill_switch: bool = False
    kill_switch_reason: str = ""
    global_breaker: bool = False
    global_breaker_reason: str = ""
    strategy_breakers: frozenset[str] = frozenset()
    disabled_strategies: frozenset[str] = frozenset()

    def risk_state_fields(self) -> RiskStateFields:
        """The keyword arguments of ``model.RiskState`` that the durable state owns."""
        return {
            "realized_pnl": self.realized_pnl,
            "strategy_realized_pnl": dict(self.strategy_realized_pnl),
            "loss_streak": self.loss_streak,
            "trades_today": self.trades_today,
            "entry_times_ns": dict(self.entry_times_ns),
            "day_locked": self.day_locked,
            "lock_reason": self.lock_reason,
            "kill_switch": self.kill_switch,
            "global_breaker": self.global_breaker,
            "strategy_breakers": self.strategy_breakers,
            "disabled_strategies": self.disabled_strategies,
        }


@dataclass(frozen=True, slots=True)
class ControlEvent:
    """One change of a global switch: who did what, when and why (the manual-reset audit)."""

    ts_ns: int
    target: str  # "kill_switch", "global_breaker" or "strategy:<id>"
    action: str  # "on"/"off", "trip"/"reset", "enable"/"disable"
    by: str
    reason: str


class RiskStore:
    """The durable risk state file. Every write method commits before it returns."""

    def __init__(self, path: str | os.PathLike[str], durable: bool = True, exclusive: bool = False) -> None:
        """``durable=False`` (a backtest's throwaway state) skips the fsync per change; the transactions, the
        schema and every rule stay the same. A paper or live node always runs durable.

        ``exclusive=True`` (a backtest's private state) holds SQLite's exclusive lock from here to ``close``:
        no other connection can read or commit (it gets "database is locked"), so a read is answered from
        memory until our own next write, without asking the file whether another connection committed. A
        node's store is never exclusive: the CLI's emergency stop must be able to write it while it runs.
        """
        self.path = Path(path)
        self._synchronous = "FULL" if durable else "OFF"
        if not self.path.exists():
            self._create_fresh()
        self._lock = threading.RLock()
        self._conn = self._open_existing()
        self._exclusive = exclusive
        if exclusive:
            self._conn.execute("PRAGMA locking_mode=EXCLUSIVE")
            self._conn.execute("BEGIN EXCLUSIVE")  # takes the lock now; locking_mode keeps it after COMMIT
            self._conn.execute("COMMIT")
        self._cached: tuple[date, int, DayRecord] | None = None  # (day, data_version, record)

    # -- opening --------------------------------------------------------------------------------------

    def _create_fresh(self) -> None:
        log.warning("%s: no risk state file; creating a fresh one (a safe fresh trading day)", self.path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        staging = self.path.with_name(f"{self.path.name}.{os.getpid()}.{uuid.uuid4().hex}.creating")
        conn = sqlite3.connect(staging, isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("BEGIN")
            for statement in _SCHEMA:
                conn.execute(statement)
            conn.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))
            conn.execute("COMMIT")
        finally:
            conn.close()
        try:
            os.link(staging, self.path)  # fails if another process created the store meanwhile: use theirs
        except FileExistsError:
            pass
        finally:
            staging.unlink()
        _fsync_directory(self.path.parent)

    def _open_existing(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(self.path, isolation_level=None, timeout=10.0, check_same_thread=False)
        except sqlite3.Error as exc:
            raise self._corrupt(f"cannot be opened ({exc})") from exc
        try:
            problems = [row[0] for row in conn.execute("PRAGMA integrity_check")]
            if problems != ["ok"]:
                raise self._corrupt(f"fails PRAGMA integrity_check: {'; '.join(problems[:3])}")
            versions = [row[0] for row in conn.execute("SELECT version FROM schema_version")]
            if len(versions) != 1 or not isinstance(versions[0], int) or versions[0] < 1:
                raise self._corrupt(f"has a damaged schema_version table ({versions!r})")
            if versions[0] > SCHEMA_VERSION:
                raise StateCorruptError(
                    f"{self.path}: risk state schema version {versions[0]} is newer than this program's"
                    f" ({SCHEMA_VERSION}). Run the odte-nautilus version that wrote it (or a newer one); do"
                    " not delete the file: it may hold a locked day, the kill switch or a RISK-OFF breaker."
                )
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(f"PRAGMA synchronous={self._synchronous}")
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise self._corrupt(f"is not a readable risk state database ({exc})") from exc
        except StateCorruptError:
            conn.close()
            raise
        return conn

    def _corrupt(self, what: str) -> StateCorruptError:
        return StateCorruptError(
            f"{self.path}: the risk state file {what}. Refusing to start a fresh day over it: it may hold a"
            " locked day, the kill switch or a RISK-OFF breaker. Restore it from a backup, or, once you have"
            " checked the broker account and today's journal by hand, move it aside and restart to begin a"
            " fresh store."
        )

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> RiskStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @contextmanager
    def _transaction(self, mode: str = "IMMEDIATE") -> Iterator[sqlite3.Connection]:
        with self._lock:
            if mode != "DEFERRED":
                self._cached = None  # our own write: the next read goes to the file
            self._conn.execute(f"BEGIN {mode}")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    # -- reading --------------------------------------------------------------------------------------

    def load_day(self, trading_date: date) -> DayRecord:
        """The state that applies to ``trading_date``; a day never written is a fresh day.

        A fresh day has no P&L, no trades, no lock and no strategy breakers, but it still carries the
        global kill switch, the RISK-OFF breaker and the disabled strategies: those need a manual reset.
        """
        with self._lock:
            # PRAGMA data_version changes when another connection commits (a CLI emergency stop, a reset),
            # so an unchanged file is answered from memory and a changed one is always re-read. No other
            # connection can commit to an exclusive store.
            version = 0 if self._exclusive else self._conn.execute("PRAGMA data_version").fetchone()[0]
            cached = self._cached
            if cached is not None and cached[0] == trading_date and cached[1] == version:
                return cached[2]
            record = self._read_day(trading_date)
            self._cached = (trading_date, version, record)
            return record

    def _read_day(self, trading_date: date) -> DayRecord:
        key = trading_date.isoformat()
        with self._transaction("DEFERRED") as conn:
            day = conn.execute(
                "SELECT realized_pnl, loss_streak, trades, locked, lock_reason FROM day WHERE trading_date = ?",
                (key,),
            ).fetchone()
            strategies = conn.execute(
                "SELECT strategy, realized_pnl, trades, breaker_tripped FROM strategy_day WHERE trading_date = ?",
                (key,),
            ).fetchall()
            entries = conn.execute(
                "SELECT strategy, ts_ns FROM entry WHERE trading_date = ? ORDER BY strategy, ts_ns", (key,)
            ).fetchall()
            switches = {
                name: (bool(active), reason)
                for name, active, reason in conn.execute("SELECT name, active, reason FROM switch")
            }
            disabled = frozenset(
                row[0] for row in conn.execute("SELECT strategy FROM strategy_switch WHERE enabled = 0")
            )
        entry_times: dict[str, list[int]] = {}
        for strategy, ts_ns in entries:
            entry_times.setdefault(strategy, []).append(ts_ns)
        realized, streak, trades, locked, lock_reason = day if day else (0.0, 0, 0, 0, "")
        kill_on, kill_reason = switches.get(KILL_SWITCH, (False, ""))
        breaker_on, breaker_reason = switches.get(GLOBAL_BREAKER, (False, ""))
        return DayRecord(
            trading_date=trading_date,
            realized_pnl=realized,
            strategy_realized_pnl={s: pnl for s, pnl, _, _ in strategies},
            loss_streak=streak,
            trades_today=trades,
            strategy_trades={s: n for s, _, n, _ in strategies},
            entry_times_ns={s: tuple(ts) for s, ts in entry_times.items()},
            day_locked=bool(locked),
            lock_reason=lock_reason,
            kill_switch=kill_on,
            kill_switch_reason=kill_reason if kill_on else "",
            global_breaker=breaker_on,
            global_breaker_reason=breaker_reason if breaker_on else "",
            strategy_breakers=frozenset(s for s, _, _, tripped in strategies if tripped),
            disabled_strategies=disabled,
        )

    def control_history(self, target: str | None = None) -> list[ControlEvent]:
        """Every change of the global switches (oldest first), optionally of one target only."""
        query = "SELECT ts_ns, target, action, changed_by, reason FROM control_log"
        params: tuple[str, ...] = ()
        if target is not None:
            query += " WHERE target = ?"
            params = (target,)
        with self._transaction("DEFERRED") as conn:
            rows = conn.execute(query + " ORDER BY id", params).fetchall()
        return [ControlEvent(*row) for row in rows]

    # -- the trading day ------------------------------------------------------------------------------

    def record_entry(self, trading_date: date, strategy: str, ts_ns: int) -> None:
        """An entry was filled: one more trade today, and its time for the rate limits."""
        key = trading_date.isoformat()
        _require_name("strategy", strategy)
        with self._transaction() as conn:
            conn.execute(
                "INSERT INTO day (trading_date, trades) VALUES (?, 1)"
                " ON CONFLICT (trading_date) DO UPDATE SET trades = trades + 1",
                (key,),
            )
            conn.execute(
                "INSERT INTO strategy_day (trading_date, strategy, trades) VALUES (?, ?, 1)"
                " ON CONFLICT (trading_date, strategy) DO UPDATE SET trades = trades + 1",
                (key, strategy),
            )
            conn.execute("INSERT INTO entry (trading_date, strategy, ts_ns) VALUES (?, ?, ?)", (key, strategy, ts_ns))

    def record_close(self, trading_date: date, strategy: str, pnl: float) -> None:
        """A package was closed with realized ``pnl`` dollars: update the day's P&L and the loss streak."""
        _require_name("strategy", strategy)
        if not math.isfinite(pnl):
            raise ValueError(f"realized P&L of {strategy} must be a finite number of dollars, got {pnl!r}")
        key = trading_date.isoformat()
        if pnl < -SCRATCH_TOLERANCE:
            streak = "loss_streak + 1"
        elif pnl > SCRATCH_TOLERANCE:
            streak = "0"
        else:
            streak = "loss_streak"
        with self._transaction() as conn:
            conn.execute(
                "INSERT INTO day (trading_date, realized_pnl, loss_streak) VALUES (?, ?, ?)"
                f" ON CONFLICT (trading_date) DO UPDATE SET realized_pnl = realized_pnl + excluded.realized_pnl,"
                f" loss_streak = {streak}",
                (key, pnl, 1 if pnl < -SCRATCH_TOLERANCE else 0),
            )
            conn.execute(
                "INSERT INTO strategy_day (trading_date, strategy, realized_pnl) VALUES (?, ?, ?)"
                " ON CONFLICT (trading_date, strategy) DO UPDATE"
                " SET realized_pnl = realized_pnl + excluded.realized_pnl",
                (key, strategy, pnl),
            )

    def lock_day(self, trading_date: date, reason: str, ts_ns: int | None = None) -> None:
        """Shut the day for good (EOD flatten, hard stop, streak stop). The first reason is kept.

        There is deliberately no way back: no unlock method exists, and a restart reads the lock.
        """
        _require_name("reason", reason)
        with self._transaction() as conn:
            conn.execute(
                "INSERT INTO day (trading_date, locked, lock_reason, locked_ns) VALUES (?, 1, ?, ?)"
                " ON CONFLICT (trading_date) DO UPDATE SET locked = 1, lock_reason = excluded.lock_reason,"
                " locked_ns = excluded.locked_ns WHERE locked = 0",
                (trading_date.isoformat(), reason, _now(ts_ns)),
            )

    def trip_strategy_breaker(self, trading_date: date, strategy: str, reason: str = "") -> None:
        """Seed 003's per-strategy breaker: no new entries for ``strategy`` on this trading date only."""
        _require_name("strategy", strategy)
        with self._transaction() as conn:
            conn.execute(
                "INSERT INTO strategy_day (trading_date, strategy, breaker_tripped, breaker_reason)"
                " VALUES (?, ?, 1, ?) ON CONFLICT (trading_date, strategy) DO UPDATE"
                " SET breaker_tripped = 1, breaker_reason = excluded.breaker_reason WHERE breaker_tripped = 0",
                (trading_date.isoformat(), strategy, reason),
            )

    # -- global switches ------------------------------------------------------------------------------

    def set_kill_switch(self, on: bool, by: str, reason: str = "", ts_ns: int | None = None) -> None:
        """Emergency stop on (anyone, any time) or off (a manual reset, recorded with who and when)."""
        self._set_switch(KILL_SWITCH, on, ("on", "off"), by, reason, ts_ns)

    def trip_global_breaker(self, reason: str, by: str = SYSTEM, ts_ns: int | None = None) -> None:
        """Seed 003's daily-loss breaker: RISK-OFF until someone resets it by hand."""
        self._set_switch(GLOBAL_BREAKER, True, ("trip", "reset"), by, reason, ts_ns)

    def reset_global_breaker(self, by: str, reason: str = "", ts_ns: int | None = None) -> None:
        """The manual reset of RISK-OFF; ``by`` names the person (design §15)."""
        self._set_switch(GLOBAL_BREAKER, False, ("trip", "reset"), by, reason, ts_ns)

    def set_strategy_enabled(
        self, strategy: str, enabled: bool, by: str, reason: str = "", ts_ns: int | None = None
    ) -> None:
        """Turn a strategy off (seed 003's kill switch per strategy) or back on; it persists across days."""
        _require_name("strategy", strategy)
        _require_name("by", by)
        ts = _now(ts_ns)
        with self._transaction() as conn:
            row = conn.execute("SELECT enabled FROM strategy_switch WHERE strategy = ?", (strategy,)).fetchone()
            if (bool(row[0]) if row else True) == enabled:
                return
            conn.execute(
                "INSERT OR REPLACE INTO strategy_switch (strategy, enabled, changed_by, changed_ns)"
                " VALUES (?, ?, ?, ?)",
                (strategy, int(enabled), by, ts),
            )
            _log_control(conn, ts, f"strategy:{strategy}", "enable" if enabled else "disable", by, reason)

    def _set_switch(
        self, name: str, on: bool, actions: tuple[str, str], by: str, reason: str, ts_ns: int | None
    ) -> None:
        """Change a global switch; a no-op change keeps the original reason (the first cause)."""
        _require_name("by", by)
        ts = _now(ts_ns)
        with self._transaction() as conn:
            row = conn.execute("SELECT active FROM switch WHERE name = ?", (name,)).fetchone()
            if (bool(row[0]) if row else False) == on:
                return
            conn.execute(
                "INSERT OR REPLACE INTO switch (name, active, reason, changed_by, changed_ns) VALUES (?, ?, ?, ?, ?)",
                (name, int(on), reason, by, ts),
            )
            _log_control(conn, ts, name, actions[0] if on else actions[1], by, reason)


def _log_control(conn: sqlite3.Connection, ts_ns: int, target: str, action: str, by: str, reason: str) -> None:
    conn.execute(
        "INSERT INTO control_log (ts_ns, target, action, changed_by, reason) VALUES (?, ?, ?, ?, ?)",
        (ts_ns, target, action, by, reason),
    )


def _require_name(what: str, value: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{what} must be a non-empty string (it is what the audit shows), got {value!r}")


def _now(ts_ns: int | None) -> int:
    return time.time_ns() if ts_ns is None else int(ts_ns)


def _fsync_directory(directory: Path) -> None:
    """Make the new file's directory entry durable too (a crash right after creation must not lose it)."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
