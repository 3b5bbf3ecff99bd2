from pathlib import Path

import pytest

from odte_nautilus.data.sample import build_sample
from tests.data.helpers import TINY, tiny_session


@pytest.fixture(scope="session")
def tiny_catalog(tmp_path_factory) -> Path:
    """A one-session, +-7-strike sample catalog, built once; copy it before changing it."""
    path = tmp_path_factory.mktemp("tiny") / "catalog"
    build_sample(path, TINY)
    return path


@pytest.fixture(scope="session")
def session_data():
    """The same session in memory (treat as read-only: use helpers.replace_quotes / dataclasses.replace)."""
    return tiny_session()
