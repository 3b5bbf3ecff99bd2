from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from odte_nautilus.live.control import ControlServer, serve_control
from tests.live.kit import LiveNode, paper_settings, shared_catalog

TOKEN = "test-control-token-5b0d"


@pytest.fixture(scope="session")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return shared_catalog(tmp_path_factory.mktemp("alpaca-sim"))


@pytest.fixture
def node(catalog: Path, tmp_path: Path) -> Iterator[LiveNode]:
    live = LiveNode(catalog, tmp_path / "run", paper_settings(tmp_path)).start()
    try:
        yield live
    finally:
        live.stop()


@pytest.fixture
def control(node: LiveNode) -> Iterator[ControlServer]:
    assert node.paper is not None
    with serve_control(node.paper, node.settings, env={"ODTE_CONTROL_TOKEN": TOKEN}, refresh_seconds=0.2) as server:
        yield server


@pytest.fixture
def http(control: ControlServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=control.url, timeout=15.0, trust_env=False) as client:
        yield client
