"""``odte sweep --ray-address local``: the same runs as Ray tasks on a cluster the sweep starts on this machine,
bound to loopback, without the API server that probes cloud metadata, and stopped at the end."""

from __future__ import annotations

import psutil  # type: ignore[import-untyped]
import pytest
import ray

from odte_nautilus.sweep.config import load_sweep_config
from odte_nautilus.sweep.ray_runner import LOCAL, LOCAL_ENV, RayRunner
from odte_nautilus.sweep.results import read_table
from odte_nautilus.sweep.run import run_sweep
from tests.sweep.conftest import DAYS, write_sweep


def test_ray_internals_the_local_cluster_relies_on_are_there():
    """The two Ray internals ``ray_runner`` uses; an upgrade that moves them fails here, not on a user."""
    assert callable(ray._private.node.Node.start_api_server)
    assert isinstance(ray._private.ray_constants.ENABLE_RAY_CLUSTER, bool)


def test_a_sweep_on_a_local_ray_cluster_runs_no_more_runs_at_once_than_its_workers(
    sweep_catalog, tmp_path, monkeypatch
):
    """One worker, two runs: the second starts when the first is done. (Days reported through a blocking
    ray.get lent the worker's CPU back to Ray, and a 1-worker cluster ran both runs at once.)"""
    for name in LOCAL_ENV:  # the runner sets them in this process; put them back afterwards
        monkeypatch.setenv(name, "0")
    monkeypatch.setattr(ray._private.ray_constants, "ENABLE_RAY_CLUSTER", True)
    config = write_sweep(
        tmp_path,
        sweep_catalog,
        grid={"ThetaHarvester.wing_points": [20, 25]},
        dates=[{"start": DAYS[0], "end": DAYS[0]}],
    )
    seen: dict[str, object] = {}
    days: list[str] = []
    order: list[str] = []

    def on_event(kind, key, value):
        if kind in ("start", "done"):
            order.append(kind)
        if kind == "start" and "node" not in seen:  # the cluster is up and a run is under way: look at it
            (node,) = ray.nodes()
            seen["node"] = node["NodeManagerAddress"]
            seen["cpus"] = ray.cluster_resources()["CPU"]
            commands = [" ".join(p.cmdline()) for p in psutil.Process().children(recursive=True)]
            seen["api server"] = [c for c in commands if "dashboard/dashboard.py" in c]
        if kind == "day":
            days.append(value)

    assert not ray.is_initialized()
    table = run_sweep(load_sweep_config(config), tmp_path / "out", RayRunner(LOCAL, 1), on_event=on_event).table
    assert seen == {"node": "127.0.0.1", "cpus": 1.0, "api server": []}
    assert order == ["start", "done", "start", "done"]
    assert not ray.is_initialized(), "the sweep stops the cluster it started"
    assert list(table["status"]) == ["ok", "ok"] and (table["trades"] > 0).all() and table["audit_ok"].all()
    assert days == [DAYS[0], DAYS[0]], "each run reports its day through the queue"
    assert read_table(tmp_path / "out")["run"].tolist() == table["run"].tolist()


@pytest.fixture(autouse=True)
def _no_cluster_left():
    yield
    if ray.is_initialized():  # a failed test must not leave Ray processes behind
        ray.shutdown()
