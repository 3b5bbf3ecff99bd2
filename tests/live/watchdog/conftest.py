"""The event loop ib_async runs on, one SPX sample catalog per test process, and a simulator per test.

ib_async 2.0.1 caches the loop its ``util.getLoop()`` first returns and makes every connection on it
(brokers.md B1: "binds to the first event loop"), so the tests run the watchdog, the node stand-in and
ib_async's sync calls all on that one loop, never on a loop of their own (``asyncio.run`` per test ends in
"Event loop is closed"). Each pytest-xdist worker is a process of its own, with its own loop and catalog.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import ib_async as ibi
import pytest

from odte_nautilus.live.sim_broker import sample_catalog
from odte_nautilus.sim.ib import TwsSimulator


@pytest.fixture(scope="session")
def _worker_loop() -> asyncio.AbstractEventLoop:
    return ibi.util.getLoop()


@pytest.fixture
def ib_loop(_worker_loop: asyncio.AbstractEventLoop) -> asyncio.AbstractEventLoop:
    """The worker's one ib_async loop, made the main thread's current loop again for each test: another test
    of the same worker that ran ``asyncio.run`` left the thread with no current loop, where ib_async's sync
    calls find none ("There is no current event loop in thread 'MainThread'")."""
    asyncio.set_event_loop(_worker_loop)
    return _worker_loop


@pytest.fixture(scope="session")
def catalog_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``odte sim ib --catalog`` finds its session here, built once."""
    root = tmp_path_factory.mktemp("ib-sim")
    sample_catalog(root, "SPX")
    return root


@pytest.fixture
def sim(catalog_root: Path) -> Iterator[TwsSimulator]:
    with TwsSimulator(sample_catalog(catalog_root, "SPX")) as simulator:
        simulator.step_minute()  # the first minute's quotes
        yield simulator
