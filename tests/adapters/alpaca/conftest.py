"""One SPY sample session for the whole run, and a simulator on a manual clock per test."""

from pathlib import Path

import pytest

from odte_nautilus.data.sample import SampleConfig, build_sample
from odte_nautilus.sim.alpaca import AlpacaSimulator
from tests.adapters.alpaca.kit import KEY, SECRET


@pytest.fixture(scope="session")
def spy_catalog(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("alpaca_adapter") / "spy"
    build_sample(path, SampleConfig(days=1, underlying="SPY"))  # 162 contracts
    return path


@pytest.fixture
def sim(spy_catalog):
    with AlpacaSimulator(spy_catalog, underlying="SPY", key=KEY, secret=SECRET) as simulator:
        yield simulator
