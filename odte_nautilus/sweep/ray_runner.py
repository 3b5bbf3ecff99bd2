"""``--ray-address``: the sweep's runs as Ray tasks (design §16: an existing distributed engine).

``--ray-address local`` starts a Ray cluster on this machine for the sweep, with one CPU per worker, and
stops it at the end; any other address (``auto``, ``HOST:PORT``, ``ray://HOST:PORT``) joins a running
cluster, whose workers must see the catalog and the output folder at the same paths and have this package
installed. Each run is one task (``max_calls=1``: a fresh worker process per run, as in the pool); workers
report their days to an actor, without waiting for it: a task blocked in ``ray.get`` (as behind
``ray.util.queue.Queue.put``) lends its CPU back to Ray, which then starts another task beside it, and a
cluster of 1 worker ran 2 runs at once.

A local cluster never reaches past this machine. Left to itself, Ray 2.60 finds "its" address by opening
a UDP socket towards 8.8.8.8 and binds there, and its API server (started even with
``include_dashboard=False``, to run only the usage-statistics module) asks cloud metadata addresses
(169.254.169.254, metadata.google.internal) which cloud it is on, whether usage statistics are enabled or
not. So: ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` makes every Ray process take the loopback address as its
own (Ray's single-machine mode; the driver, which read it when it imported Ray, gets the same through
``ray_constants.ENABLE_RAY_CLUSTER``), ``RAY_USAGE_STATS_ENABLED=0`` turns the statistics off, and the API
server is not started at all (``Node.start_api_server`` replaced, for the time of ``ray.init``, by what
Ray does when that server fails to start). Those two are the Ray internals used here;
``tests/sweep/test_ray.py`` holds them and checks the cluster's address and processes.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from odte_nautilus.sweep.execute import execute, failed_row
from odte_nautilus.sweep.grid import RunSpec
from odte_nautilus.sweep.runner import OnEvent

LOCAL = "local"
POLL_S = 0.2
LOOPBACK = "127.0.0.1"


class Events:
    """The runs' reports, kept until the driver collects them (a Ray actor, see ``RayRunner.run``)."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, Any]] = []

    def report(self, kind: str, key: str, value: Any) -> None:
        self.events.append((kind, key, value))

    def collect(self) -> list[tuple[str, str, Any]]:
        events, self.events = self.events, []
        return events


def _run(spec: RunSpec, out: str, events: Any) -> dict[str, Any]:
    import ray

    sent: list[Any] = []

    def report(kind: str, key: str, value: Any) -> None:
        sent[:] = [events.report.remote(kind, key, value)]  # not waited for (see above)

    row = execute(spec, out, report)
    ray.get(sent)  # an actor runs one caller's calls in order: every report is in before the run is done
    return row


LOCAL_ENV = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_USAGE_STATS_ENABLED": "0"}


@contextmanager
def no_api_server(ray: Any) -> Iterator[None]:
    """``ray.init`` without the API server: its one module in this mode probes cloud metadata addresses."""
    node_class = ray._private.node.Node
    original = node_class.start_api_server

    def skip(self: Any, *, include_dashboard: bool | None, raise_on_failure: bool) -> None:
        self._webui_url = None  # as Ray leaves it when the server fails to start (services.start_api_server)

    node_class.start_api_server = skip
    try:
        yield
    finally:
        node_class.start_api_server = original


def start_local(ray: Any, workers: int) -> None:
    """A Ray cluster of ``workers`` CPUs on 127.0.0.1 only, for this process (stop it with ``ray.shutdown``)."""
    os.environ.update(LOCAL_ENV)  # inherited by every Ray process started from here
    ray._private.ray_constants.ENABLE_RAY_CLUSTER = False  # this process read the variable when it imported Ray
    with no_api_server(ray):
        ray.init(
            num_cpus=workers,
            num_gpus=0,
            include_dashboard=False,
            log_to_driver=False,
            configure_logging=False,
            _node_ip_address=LOOPBACK,
        )


class RayRunner:
    """Runs as Ray tasks on the cluster at ``address`` (``local``: a cluster of ``workers`` CPUs started here)."""

    def __init__(self, address: str, workers: int) -> None:
        self.address = address
        self.workers = workers

    def describe(self) -> str:
        if self.address == LOCAL:
            return f"a local Ray cluster of {self.workers} worker(s) on {LOOPBACK}"
        return f"the Ray cluster at {self.address}"

    def run(self, specs: list[RunSpec], out: Path, on_event: OnEvent) -> None:
        import ray

        started_here = self._connect(ray)
        refs: dict[Any, RunSpec] = {}
        try:
            events = ray.remote(num_cpus=0)(Events).remote()
            task = ray.remote(num_cpus=1, max_calls=1, max_retries=0)(_run)
            refs = {task.remote(spec, str(out), events): spec for spec in specs}
            pending = list(refs)
            while pending:
                done, pending = ray.wait(pending, num_returns=1, timeout=POLL_S)
                self._drain(ray, events, on_event)
                for ref in done:
                    spec = refs[ref]
                    try:
                        result = ray.get(ref)
                    except ray.exceptions.RayError as exc:  # the worker died or the task could not run
                        result = failed_row(spec, out, f"{type(exc).__name__}: {' '.join(str(exc).split())[:2000]}")
                    on_event("done", spec.key, result)
            self._drain(ray, events, on_event)
        except BaseException:
            for ref in refs:
                ray.cancel(ref, force=True)
            raise
        finally:
            if started_here:
                ray.shutdown()

    def _connect(self, ray: Any) -> bool:
        """Start or join the cluster; True when this call started it (and so stops it)."""
        if ray.is_initialized():  # a notebook or a benchmark that started Ray itself
            return False
        if self.address == LOCAL:
            start_local(ray, self.workers)
        else:
            os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
            ray.init(address=self.address, log_to_driver=False, configure_logging=False)
        return True

    @staticmethod
    def _drain(ray: Any, events: Any, on_event: OnEvent) -> None:
        for kind, key, value in ray.get(events.collect.remote()):
            on_event(kind, key, value)
