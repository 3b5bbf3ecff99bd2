"""``odte live --resume`` and ``--sim-url`` refuse, in one ``refused:`` line and before anything is built,
every run folder or broker they cannot continue: a restart must never start a fresh day by mistake (the day
lock, the kill switch and the trade count live in the folder's state)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from odte_nautilus.cli import app

runner = CliRunner()


def live(*args: str):
    return runner.invoke(app, ["live", "--broker", "alpaca-sim", *args])


def test_a_used_run_folder_needs_resume(tmp_path):
    (tmp_path / "fills.csv").write_text("ts_event\n")
    done = live("--out", str(tmp_path))
    assert done.exit_code == 2 and "--resume continues it after a crash" in done.stderr


def test_resume_with_the_simulator_in_the_node_is_refused(tmp_path):
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "paper.sqlite").write_bytes(b"")
    done = live("--out", str(tmp_path), "--resume")
    assert done.exit_code == 2 and "odte sim alpaca" in done.stderr and "--sim-url" in done.stderr


@pytest.mark.parametrize("folder", ["missing", "empty"])
def test_resume_of_a_folder_without_its_state_is_refused(tmp_path, folder):
    out = tmp_path / folder
    if folder == "empty":
        out.mkdir()
    done = live("--out", str(out), "--resume", "--sim-url", "http://127.0.0.1:9")
    assert done.exit_code == 2 and "no durable state" in done.stderr
    assert not (out / "state").exists(), "nothing was created"


def test_sim_url_goes_with_the_simulator_only(tmp_path):
    done = runner.invoke(app, ["live", "--broker", "alpaca", "--sim-url", "http://127.0.0.1:9", "--out", str(tmp_path)])
    assert done.exit_code == 2 and "--broker alpaca-sim" in done.stderr


def test_a_simulator_that_does_not_answer_is_refused_before_anything_is_built(tmp_path: Path):
    done = live("--out", str(tmp_path / "run"), "--sim-url", "http://127.0.0.1:9")
    assert done.exit_code == 2 and "does not answer" in done.stderr
    assert not (tmp_path / "run").exists()


def test_a_sim_url_off_loopback_is_refused(tmp_path: Path):
    done = live("--out", str(tmp_path / "run"), "--sim-url", "http://192.0.2.7:8765")
    assert done.exit_code == 2 and "loopback" in done.stderr
