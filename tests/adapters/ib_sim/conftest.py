"""One small SPX sample catalog for the whole session, and a fresh simulator (manual clock) per test."""

from pathlib import Path

import pytest

from odte_nautilus.data.sample import SampleConfig, build_sample
from odte_nautilus.sim.ib import TwsSimulator

SPX_DAY = SampleConfig(days=1, underlying="SPX", seed=11, strikes_each_side=20)


@pytest.fixture(scope="session")
def catalog(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("ib_sim") / "spx"
    build_sample(path, SPX_DAY)
    return path


@pytest.fixture(autouse=True)
def _ib_async_current(ib_loop):
    """ib_async's sync calls here run on the worker's loop (tests/conftest.py ``ib_loop``)."""


@pytest.fixture
def sim(catalog):
    with TwsSimulator(catalog) as simulator:
        simulator.step_minute()  # the first minute's bar and quotes
        yield simulator
