"""The node's heartbeat: a row in a small SQLite file that the out-of-band watchdog reads (issue 12).

The watchdog (``live/watchdog.py``) must notice a node that is hung or dead and flatten for it. So the node
beats from an asyncio task on its *own* event loop, every ``ib.heartbeat_seconds`` of wall time: a node whose
loop is blocked (a stuck callback, a deadlock) stops beating, which a thread or a separate process writing for
it would hide. Nautilus clock timers are not used on purpose: a simulated node runs on replayed test clocks,
and a heartbeat must follow the wall clock the watchdog measures its silence with.

Each beat carries the node's view of its positions per leg, so the same row is the node's durable record the
watchdog reconciles the broker against. One row, replaced by each beat in its own transaction (WAL,
``synchronous=FULL``): a SIGKILL leaves the last committed beat readable, and the file stays a few pages.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

HEARTBEAT_FILE = "heartbeat.sqlite"  # in the node's state dir, beside its risk state

_SCHEMA = """CREATE TABLE IF NOT EXISTS heartbeat (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    wall_ns INTEGER NOT NULL,
    session_ns INTEGER NOT NULL,
    pid INTEGER NOT NULL,
    positions TEXT NOT NULL)"""


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """One beat: when (wall clock and the node's session clock), who (pid), and the node's net positions."""

    wall_ns: int
    session_ns: int
    pid: int
    positions: Mapping[str, int]  # leg (IB localSymbol or Nautilus instrument id) -> signed quantity


class HeartbeatWriter:
    """The node's side of the file; every ``write`` is on disk when it returns."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Written from the node's loop thread, which need not be the thread that built the writer.
        self._conn = sqlite3.connect(self.path, isolation_level=None, timeout=5.0, check_same_thread=False)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.execute(_SCHEMA)

    def write(self, beat: Heartbeat) -> None:
        positions = json.dumps({str(k): int(v) for k, v in beat.positions.items() if int(v) != 0}, sort_keys=True)
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            self._conn.execute(
                "INSERT OR REPLACE INTO heartbeat (id, wall_ns, session_ns, pid, positions) VALUES (1, ?, ?, ?, ?)",
                (beat.wall_ns, beat.session_ns, beat.pid, positions),
            )
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    def close(self) -> None:
        self._conn.close()


def read_heartbeat(path: str | os.PathLike[str]) -> Heartbeat | None:
    """The last beat, or None when the node never beat (no file, or no row yet). Never creates the file."""
    path = Path(path)
    if not path.exists():
        return None
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=rw", uri=True, timeout=5.0)
    except sqlite3.OperationalError:  # removed since the check
        return None
    try:
        row = conn.execute("SELECT wall_ns, session_ns, pid, positions FROM heartbeat WHERE id = 1").fetchone()
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return None
        raise
    finally:
        conn.close()
    if row is None:
        return None
    wall_ns, session_ns, pid, positions = row
    legs = {str(k): int(v) for k, v in json.loads(positions).items()}
    return Heartbeat(int(wall_ns), int(session_ns), int(pid), legs)


class HeartbeatTask:
    """The beating task on the node's loop; ``stop()`` ends it (from any thread) and closes the file.

    A beat that cannot be taken (``positions`` or ``session_ns`` raised, the disk refused the write) is
    logged and skipped, not retried faster: a node that cannot say what it holds should look silent to the
    watchdog, whose answer (flatten, then the kill switch) is the safe one.
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        path: str | os.PathLike[str],
        positions: Callable[[], Mapping[str, int]],
        session_ns: Callable[[], int],
        every_seconds: float,
    ) -> None:
        if every_seconds <= 0:
            raise ValueError(f"heartbeat every_seconds must be positive, got {every_seconds!r}")
        self.path = Path(path)
        self._writer = HeartbeatWriter(self.path)
        self._positions = positions
        self._session_ns = session_ns
        self._every = every_seconds
        self.beats = 0  # written so far (tests, status)
        self._ended = threading.Event()
        # Thread-safe scheduling: the node's loop may be running in another thread, or not running yet.
        self._future: Future[None] = asyncio.run_coroutine_threadsafe(self._run(), loop)

    async def _run(self) -> None:
        try:
            while True:
                self.beat()
                await asyncio.sleep(self._every)
        finally:
            self._writer.close()
            self._ended.set()

    def beat(self) -> None:
        try:
            beat = Heartbeat(time.time_ns(), int(self._session_ns()), os.getpid(), dict(self._positions()))
            self._writer.write(beat)
        except Exception:  # any failure means "no beat": the watchdog reads the silence
            log.exception("heartbeat to %s not written", self.path)
            return
        self.beats += 1

    def stop(self) -> None:
        """Ask the task to end; it does at its loop's next turn (``stopped`` then says so)."""
        self._future.cancel()

    @property
    def stopped(self) -> bool:
        return self._ended.is_set()


def start_heartbeat(
    loop: asyncio.AbstractEventLoop,
    path: str | os.PathLike[str],
    positions: Callable[[], Mapping[str, int]],
    session_ns: Callable[[], int],
    every_seconds: float,
) -> HeartbeatTask:
    """Beat into ``path`` every ``every_seconds`` of wall time from a task on ``loop`` (the node's loop).

    ``positions()`` is the node's net position per leg as it sees them (``{localSymbol or instrument id:
    signed quantity}``), ``session_ns()`` its session clock (replayed in a simulated session). Both are
    called on ``loop``'s thread. The first beat is written as soon as the loop runs the task.
    """
    return HeartbeatTask(loop, path, positions, session_ns, every_seconds)
