"""``odte emergency-stop|flatten|status|reset`` and ``odte strategy disable|enable`` against a running node,
and what each says when no node runs (exit 4, and where it looked)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from odte_nautilus.cli import app
from tests.live.conftest import TOKEN

THETA = "ThetaHarvester-001"
ODTE = str(Path(sys.executable).parent / "odte")


def odte(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})
    return result.exit_code, result.output


def test_the_commands_act_on_a_running_node(node, control, monkeypatch):
    monkeypatch.delenv("ODTE_CONTROL_TOKEN", raising=False)
    url = ("--url", control.url)
    code, out = odte("status", *url)
    assert code == 0 and "ON" in out and THETA in out

    code, out = odte("emergency-stop", *url, "--by", "ops", "--reason", "cli drill")
    assert code == 0 and "EMERGENCY STOP engaged" in out
    stop = [j for j in node.journal() if j["kind"] == "kill_switch"][-1]
    assert (stop["by"], stop["reason"]) == ("ops", "cli drill")
    assert "STOPPED" in odte("status", *url)[1]

    code, out = odte("reset", *url)
    assert code == 1 and "ODTE_CONTROL_TOKEN" in out  # the token is the node's: none here
    monkeypatch.setenv("ODTE_CONTROL_TOKEN", "not-the-token")
    code, out = odte("reset", *url)
    assert code == 1 and "403" in out
    monkeypatch.setenv("ODTE_CONTROL_TOKEN", TOKEN)
    code, out = odte("reset", *url, "--by", "ops")
    assert code == 0 and "kill switch was on" in out

    assert odte("strategy", "disable", THETA, *url)[0] == 0
    assert '"enabled": false' in odte("status", *url, "--json")[1]
    assert odte("strategy", "enable", THETA, *url)[0] == 0
    code, out = odte("strategy", "disable", "NoSuch-001", *url)
    assert code == 1 and "404" in out

    code, out = odte("flatten", *url, "--no-stop")
    assert code == 0 and "0 package(s)" in out and "not stopped" in out
    code, out = odte("flatten", *url)
    assert code == 0 and "new entries are stopped" in out and "STOPPED" in odte("status", *url)[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_with_no_node_running_each_command_says_so_and_exits_4(tmp_path):
    url = f"http://127.0.0.1:{free_port()}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ODTE_")}
    done = subprocess.run(
        [ODTE, "emergency-stop", "--url", url], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120
    )
    assert done.returncode == 4
    assert f"no node is running at {url}" in " ".join(done.stderr.split())
    for args in (["status"], ["flatten"], ["strategy", "disable", THETA]):
        code, out = odte(*args, "--url", url)
        assert code == 4 and "no node is running" in out, args
