"""The node's heartbeat: beats from its own loop in wall time, stops when that loop is blocked, survives kill -9."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from odte_nautilus.live.heartbeat import Heartbeat, HeartbeatWriter, read_heartbeat, start_heartbeat

FLY = {"SPXW  240315C05100000": -1, "SPXW  240315C05110000": 1, "SPXW  240315P05100000": -1}


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    """A node's loop, running in its own thread as the node's does."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield loop
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    loop.close()


def wait_for(predicate, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_a_beat_is_read_back_as_written_and_no_file_or_no_row_is_no_beat(tmp_path):
    path = tmp_path / "heartbeat.sqlite"
    assert read_heartbeat(path) is None
    assert not path.exists()  # reading never creates the file
    writer = HeartbeatWriter(path)
    assert read_heartbeat(path) is None
    writer.write(Heartbeat(123, 456, 789, {**FLY, "SPXW  240315P05000000": 0}))
    assert read_heartbeat(path) == Heartbeat(123, 456, 789, FLY)  # flat legs are not written
    writer.write(Heartbeat(124, 457, 789, {}))
    assert read_heartbeat(path) == Heartbeat(124, 457, 789, {})  # one row, replaced
    writer.close()


def test_the_node_beats_every_interval_of_wall_time_and_stops_on_stop(loop, tmp_path):
    path = tmp_path / "heartbeat.sqlite"
    task = start_heartbeat(loop, path, lambda: FLY, lambda: 42, every_seconds=0.05)
    wait_for(lambda: task.beats >= 3)
    beat = read_heartbeat(path)
    assert beat is not None
    assert (beat.session_ns, beat.pid, dict(beat.positions)) == (42, os.getpid(), FLY)
    assert abs(time.time_ns() - beat.wall_ns) < 2_000_000_000
    task.stop()
    wait_for(lambda: task.stopped)
    beats = task.beats
    time.sleep(0.2)
    assert task.beats == beats


def test_a_blocked_node_loop_stops_beating(loop, tmp_path):
    """The point of beating from the node's loop: a stuck callback silences it, and the watchdog hears that."""
    path = tmp_path / "heartbeat.sqlite"
    task = start_heartbeat(loop, path, lambda: FLY, lambda: 0, every_seconds=0.05)
    wait_for(lambda: task.beats >= 2)
    release = threading.Event()
    loop.call_soon_threadsafe(release.wait, 5.0)  # the node's loop hangs in a callback
    time.sleep(0.1)
    before = read_heartbeat(path)
    time.sleep(0.4)
    during = read_heartbeat(path)
    assert before is not None and during == before
    release.set()
    wait_for(lambda: (b := read_heartbeat(path)) is not None and b.wall_ns > before.wall_ns)
    task.stop()
    wait_for(lambda: task.stopped)


def test_a_beat_that_cannot_be_taken_is_skipped_not_faked(loop, tmp_path):
    path = tmp_path / "heartbeat.sqlite"

    def positions() -> dict[str, int]:
        raise RuntimeError("the node's cache is gone")

    task = start_heartbeat(loop, path, positions, lambda: 0, every_seconds=0.02)
    time.sleep(0.2)
    assert task.beats == 0 and read_heartbeat(path) is None
    task.stop()
    wait_for(lambda: task.stopped)


def test_the_last_beat_survives_kill_9(tmp_path):
    path = tmp_path / "heartbeat.sqlite"
    node = textwrap.dedent(
        f"""
        import asyncio
        from odte_nautilus.live.heartbeat import start_heartbeat
        loop = asyncio.new_event_loop()
        start_heartbeat(loop, {str(path)!r}, lambda: {FLY!r}, lambda: 7, every_seconds=0.01)
        loop.run_forever()
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", node])
    try:
        wait_for(lambda: read_heartbeat(path) is not None, timeout=20)
        time.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    beat = read_heartbeat(Path(path))
    assert beat is not None and (beat.pid, beat.session_ns, dict(beat.positions)) == (proc.pid, 7, FLY)
