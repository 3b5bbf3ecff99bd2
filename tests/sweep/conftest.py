"""A two-session, +-7-strike sample catalog and a sweep config writer, shared by the sweep tests."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from odte_nautilus.data.sample import SampleConfig, build_sample

DAYS = ("2024-07-22", "2024-07-23")


@pytest.fixture(scope="session")
def sweep_catalog(tmp_path_factory) -> Path:
    """Built once; the Theta Harvester trades on both sessions (seed 10). Copy it before changing it."""
    path = tmp_path_factory.mktemp("sweep") / "catalog"
    build_sample(path, SampleConfig(days=len(DAYS), strikes_each_side=7))
    return path


def write_sweep(folder: Path, catalog: Path, **keys) -> Path:
    """A SWEEP.yaml over ``catalog`` running only the Theta Harvester, with ``keys`` added."""
    path = folder / "sweep.yaml"
    path.write_text(yaml.safe_dump({"catalog": str(catalog), "strategies": ["ThetaHarvester"], **keys}))
    return path
