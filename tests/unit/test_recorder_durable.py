"""A live node's run recorder: every row on disk as it happens, a restarted node continuing the same files."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from odte_nautilus.recorder import LegFill, PackageRecord, RecorderError, RunRecorder


def fill(ts: str, package: str = "P-1", side: str = "SELL", price: float = 1.25) -> LegFill:
    return LegFill(ts, "S-001", package, "SPY   240722C00556000.ALPACA", side, 1, price, "entry", "", "SPY", "C", 556.0,
                   "2024-07-22", 0.06, 1.3)  # fmt: skip


def package(opened: str) -> PackageRecord:
    return PackageRecord("P-1", "S-001", "SPY", "IRON_BUTTERFLY", opened, "2024-07-22T19:10:00.000000000Z", 1, -1.9,
                         -1.1, 75.52, 0.48, "eod_flatten", "2024-07-22", "")  # fmt: skip


def rows(path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_each_row_is_on_disk_as_soon_as_it_is_recorded(tmp_path):
    recorder = RunRecorder(append_to=tmp_path)
    assert rows(tmp_path / "fills.csv") == [] and rows(tmp_path / "positions.csv") == []  # headers at once
    recorder.leg_fill(fill("2024-07-22T14:01:00.000000000Z"))
    recorder.package_closed(package("2024-07-22T14:01:00.000000000Z"))
    assert [r["price"] for r in rows(tmp_path / "fills.csv")] == ["1.25"]
    assert [r["package_id"] for r in rows(tmp_path / "positions.csv")] == ["P-1"]


def test_a_recorder_killed_with_sigkill_keeps_every_row_it_recorded(tmp_path):
    """The process dies without closing anything: what it recorded is in the files all the same."""
    script = textwrap.dedent(f"""
        import os, signal
        from odte_nautilus.recorder import LegFill, RunRecorder
        recorder = RunRecorder(append_to={str(tmp_path)!r})
        for minute in range(3):
            recorder.leg_fill(LegFill(f"2024-07-22T14:0{{minute}}:00.000000000Z", "S-001", "P-1", "X", "BUY", 1, 0.5,
                                      "entry", "", "SPY", "C", 556.0, "2024-07-22", 0.06, 0.5))
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == -signal.SIGKILL, done.stderr
    assert len(rows(tmp_path / "fills.csv")) == 3


def test_a_restarted_recorder_continues_the_files_and_writes_the_whole_run_in_time_order(tmp_path):
    before = RunRecorder(append_to=tmp_path)
    before.leg_fill(fill("2024-07-22T14:05:00.000000000Z"))
    before.leg_fill(fill("2024-07-22T14:01:00.000000000Z", side="BUY"))
    # killed here: never closed, never written
    after = RunRecorder(append_to=tmp_path)
    assert [f.ts_event for f in after.run_fills()] == [
        "2024-07-22T14:05:00.000000000Z",
        "2024-07-22T14:01:00.000000000Z",
    ]
    assert after.run_fills()[0] == fill("2024-07-22T14:05:00.000000000Z"), "read back with its types"
    after.leg_fill(fill("2024-07-22T19:10:00.000000000Z", side="BUY"))
    after.package_closed(package("2024-07-22T14:01:00.000000000Z"))
    after.write(tmp_path)
    assert [r["ts_event"][11:16] for r in rows(tmp_path / "fills.csv")] == ["14:01", "14:05", "19:10"]
    assert len(rows(tmp_path / "positions.csv")) == 1
    assert not list(tmp_path.glob(".*partial"))


def test_a_row_cut_short_by_a_crash_is_dropped_and_the_next_one_starts_on_its_own_line(tmp_path, caplog):
    RunRecorder(append_to=tmp_path).leg_fill(fill("2024-07-22T14:01:00.000000000Z"))
    with (tmp_path / "fills.csv").open("a") as handle:
        handle.write("2024-07-22T14:02:00.000000000Z,S-001,P-1,SPY")  # the write a SIGKILL cut
    recorder = RunRecorder(append_to=tmp_path)
    assert "cut short" in caplog.text
    recorder.leg_fill(fill("2024-07-22T14:03:00.000000000Z"))
    assert [r["ts_event"][11:16] for r in rows(tmp_path / "fills.csv")] == ["14:01", "14:03"]


def test_a_file_of_another_layout_is_refused(tmp_path):
    (tmp_path / "fills.csv").write_text("when,what\n1,2\n")
    with pytest.raises(RecorderError, match=r"fills\.csv"):
        RunRecorder(append_to=tmp_path)


def test_a_backtest_recorder_keeps_its_rows_in_memory_until_written(tmp_path):
    recorder = RunRecorder()
    recorder.leg_fill(fill("2024-07-22T14:01:00.000000000Z"))
    assert not recorder.durable and not (tmp_path / "fills.csv").exists()
    recorder.write(tmp_path)
    assert len(rows(tmp_path / "fills.csv")) == 1 and os.path.exists(tmp_path / "positions.csv")
