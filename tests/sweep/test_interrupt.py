"""Ctrl-C stops a sweep at once, its runs under way with it, and leaves a folder the next command resumes."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from odte_nautilus.sweep.config import load_sweep_config
from odte_nautilus.sweep.results import RECORD_FILE, RUNS_DIR, read_table
from odte_nautilus.sweep.run import plan
from tests.sweep.conftest import DAYS, write_sweep

STARTED_WITHIN_S = 60


def test_ctrl_c_stops_the_runs_under_way_and_the_rerun_redoes_them(sweep_catalog, tmp_path):
    config = write_sweep(
        tmp_path, sweep_catalog, grid={"ThetaHarvester.wing_points": [20, 25]}, dates=[{"end": DAYS[0]}]
    )
    out = tmp_path / "out"
    command = [str(Path(sys.executable).parent / "odte"), "sweep", "--config", str(config), "--out", str(out)]
    driver = subprocess.Popen([*command, "--workers", "1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + STARTED_WITHIN_S
    while not list((out / RUNS_DIR).glob(f"*/{RECORD_FILE}")):  # a run is under way
        assert driver.poll() is None and time.monotonic() < deadline, driver.communicate()
        time.sleep(0.1)
    driver.send_signal(signal.SIGINT)  # to the driver alone: it must stop its worker itself
    _, stderr = driver.communicate(timeout=30)
    assert driver.returncode == 130, stderr
    assert "interrupted" in stderr and "Rerun the same command to resume" in stderr
    (record,) = (out / RUNS_DIR).glob(f"*/{RECORD_FILE}")
    time.sleep(3)  # the run alone takes longer than this: a worker left running would finish it
    assert not (record.parent / "summary.json").exists()
    assert json.loads(record.read_text())["status"] == "running"
    assert set(read_table(out)["status"]) == {"not run"}
    assert len(plan(load_sweep_config(config), out.resolve()).todo) == 2
