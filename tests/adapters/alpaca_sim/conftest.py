"""One small SPY sample catalog for the whole session, and a fresh simulator (manual clock) per test."""

from pathlib import Path

import pytest

from odte_nautilus.data.sample import SampleConfig, build_sample
from odte_nautilus.sim.alpaca import AlpacaSimulator
from tests.adapters.alpaca_sim.kit import KEY, SECRET

SPY_DAY = SampleConfig(days=1, underlying="SPY")  # 40 strikes either side: 162 contracts, two default pages


@pytest.fixture(scope="session")
def catalog(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("alpaca_sim") / "spy"
    build_sample(path, SPY_DAY)
    return path


@pytest.fixture
def sim(catalog):
    with AlpacaSimulator(catalog, underlying="SPY", key=KEY, secret=SECRET) as simulator:
        yield simulator
