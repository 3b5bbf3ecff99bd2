"""One SPX session for the IB node's tests, and the paper settings with the strategies idle (the tests trade by
hand through the node's ``ManualTrader``; a strategy's own entries would only get in the way)."""

from __future__ import annotations

from pathlib import Path

import pytest

from odte_nautilus.data.sample import SampleConfig, build_sample
from odte_nautilus.live.settings import LiveSettings
from tests.live.kit import paper_settings

SPX_DAY = SampleConfig(days=1, underlying="SPX", seed=11, strikes_each_side=20)
IDLE = {"entry_start": "15:58", "entry_end": "15:59"}  # after the 15:45 flatten: never


@pytest.fixture(scope="session")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ib-node") / "spx"
    build_sample(path, SPX_DAY)
    return path


def idle_settings(root: Path) -> LiveSettings:
    settings = paper_settings(root)
    strategies = [{**s, "config": {**s["config"], **IDLE}} for s in settings.ib.strategies]
    return settings.model_copy(update={"ib": settings.ib.model_copy(update={"strategies": strategies})})
