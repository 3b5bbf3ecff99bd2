"""The default runner: a local process pool (``concurrent.futures``), one fresh process per run.

A fresh (spawned) process per run (``max_tasks_per_child=1``) keeps runs apart: nothing of one engine, its
logging or its memory reaches the next, and a run's peak resident memory is its own. Workers report their
start and each finished day through a queue handed to them when they start.

On Ctrl-C (or any exception in the driver) the runs under way are stopped at once, their workers
terminated; a rerun redoes them from nothing.

A Python exception inside a run is that run's failed row (``execute``). A worker that dies outright (killed,
out of memory, a crash in native code) breaks a ``ProcessPoolExecutor`` for every run still in it; the runs
that were running then are reported failed with that reason, and the runs not yet started go on in a new pool.
"""

from __future__ import annotations

import multiprocessing
import queue as queue_module
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

from odte_nautilus.sweep.execute import execute, failed_row
from odte_nautilus.sweep.grid import RunSpec
from odte_nautilus.sweep.results import finished, read_record, row, run_dir
from odte_nautilus.sweep.runner import OnEvent

POLL_S = 0.2
_events: Any = None  # in a worker: the queue to the driver, set by _start_worker


def _start_worker(events: Any) -> None:
    global _events
    _events = events


def _report(kind: str, key: str, value: Any) -> None:
    _events.put((kind, key, value))


def _run(spec: RunSpec, out: str) -> dict[str, Any]:
    return execute(spec, out, _report)


def _terminate_workers(pool: ProcessPoolExecutor) -> None:
    """Stop the pool's worker processes now (``terminate_workers`` from Python 3.14; its process table before)."""
    terminate = getattr(pool, "terminate_workers", None)
    if terminate is not None:
        terminate()
        return
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        process.terminate()


class PoolRunner:
    """Runs on ``workers`` local processes."""

    def __init__(self, workers: int) -> None:
        self.workers = workers

    def describe(self) -> str:
        return f"a local process pool of {self.workers} worker(s)"

    def run(self, specs: list[RunSpec], out: Path, on_event: OnEvent) -> None:
        todo = list(specs)
        while todo:
            todo = self._pool(todo, out, on_event)

    def _pool(self, specs: list[RunSpec], out: Path, on_event: OnEvent) -> list[RunSpec]:
        """Run ``specs`` in one pool; the runs left to do if the pool broke."""
        context = multiprocessing.get_context("spawn")
        events = context.Queue()
        started: set[str] = set()
        done_keys: set[str] = set()

        def drain() -> None:
            while True:
                try:
                    kind, key, value = events.get_nowait()
                except queue_module.Empty:
                    return
                if kind == "start":
                    started.add(key)
                on_event(kind, key, value)

        pool = ProcessPoolExecutor(
            max_workers=min(self.workers, len(specs)),
            mp_context=context,
            initializer=_start_worker,
            initargs=(events,),
            max_tasks_per_child=1,
        )
        broken = stopping = False
        try:
            futures: dict[Future, RunSpec] = {pool.submit(_run, spec, str(out)): spec for spec in specs}
            pending = set(futures)
            while pending and not broken:
                done, pending = wait(pending, timeout=POLL_S, return_when=FIRST_COMPLETED)
                drain()
                for future in done:
                    spec = futures[future]
                    try:
                        result = future.result()
                    except BrokenProcessPool:
                        broken = True
                        continue
                    except Exception as exc:  # the run could not even be handed over (e.g. not picklable)
                        result = failed_row(spec, out, f"{type(exc).__name__}: {exc}")
                    done_keys.add(spec.key)
                    on_event("done", spec.key, result)
        except BaseException:  # Ctrl-C, or the driver told to stop: the runs under way stop too, now
            stopping = True
            _terminate_workers(pool)  # before shutdown, which forgets the processes
            raise
        finally:
            pool.shutdown(wait=not (broken or stopping), cancel_futures=True)
        drain()
        if not broken:
            return []
        left = [s for s in specs if s.key not in done_keys]
        crashed = [s for s in left if s.key in started] or left  # no start seen: none of them can be retried
        if crashed is left:
            started.update(s.key for s in left)
        for spec in crashed:
            if finished(out, spec.key):  # it finished before the pool broke
                on_event("done", spec.key, row(out, read_record(run_dir(out, spec.key))))
            else:
                beside = ", ".join(s.key for s in crashed if s is not spec) or "none"
                on_event(
                    "done",
                    spec.key,
                    failed_row(
                        spec,
                        out,
                        "its worker process died (killed, out of memory, or a crash in native code; runs beside it:"
                        f" {beside}); rerun the sweep to retry it",
                    ),
                )
        return [s for s in left if s.key not in started]
