"""The project's Alpaca simulator as the paper node's broker: its sample session, its keys, its open interest."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

from odte_nautilus.adapters.alpaca.symbols import ALPACA
from odte_nautilus.data.catalog_io import catalog_sessions
from odte_nautilus.data.sample import SampleConfig, build_sample
from odte_nautilus.data.sidecar import load_open_interest
from odte_nautilus.data.symbology import option_id, parse_option_id
from odte_nautilus.sim.alpaca import AlpacaSimulator

SIM_KEY, SIM_SECRET, SIM_ACCOUNT = "sim-key", "sim-secret", "PA0SIM0001"


SIM_SEED = 11
"""The sample seed of the simulator's session: a day on which both strategies trade (the Gamma Scalper only
trades a short-gamma day: on seed 10's first SPY session it stands aside), so one compressed session shows
entries, stops, take-profits, the flatten and the lock of both."""


def sample_catalog(root: Path, underlying: str, seed: int = SIM_SEED) -> Path:
    """The simulator's catalog for ``underlying`` (one sample session of ``seed``), built if missing."""
    path = root / f"{underlying.lower()}-seed{seed}"
    if not (path.exists() and catalog_sessions(path)):
        build_sample(path, SampleConfig(days=1, underlying=underlying, seed=seed))
    return path


def simulator(catalog: Path, underlying: str) -> AlpacaSimulator:
    """The simulated paper account (manual clock: the session driver moves it) with the run's fixed keys."""
    return AlpacaSimulator(catalog, underlying=underlying, key=SIM_KEY, secret=SIM_SECRET, account_number=SIM_ACCOUNT)


def alpaca_open_interest(catalog: Path) -> Callable[[date], dict[str, int]]:
    """The catalog's open interest under the adapter's instrument ids (``<OCC>.ALPACA``)."""

    def load(day: date) -> dict[str, int]:
        out = {}
        for instrument_id, contracts in load_open_interest(catalog, day).items():
            key = parse_option_id(instrument_id)
            out[option_id(key.root, key.expiry, key.right, key.strike, ALPACA)] = contracts
        return out

    return load
