"""One SPX sample catalog per test process, and a simulator per test (the ib_async loop: tests/conftest.py).

ib_async 2.0.1 caches the loop its ``util.getLoop()`` first returns and makes every connection on it
(brokers.md B1: "binds to the first event loop"), so the tests run the watchdog, the node stand-in and
ib_async's sync calls all on that one loop, never on a loop of their own (``asyncio.run`` per test ends in
"Event loop is closed"). Each pytest-xdist worker is a process of its own, with its own loop and catalog.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from odte_nautilus.live.sim_broker import sample_catalog
from odte_nautilus.sim.ib import TwsSimulator


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
