import asyncio
import os

import ib_async
import pytest
from hypothesis import settings

# CI runs the property tests with more examples than a developer's quick loop.
settings.register_profile("ci", max_examples=300, deadline=None)
settings.register_profile("dev", max_examples=100, deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")


@pytest.fixture(scope="session")
def _worker_ib_loop() -> asyncio.AbstractEventLoop:
    return ib_async.util.getLoop()


@pytest.fixture
def ib_loop(_worker_ib_loop: asyncio.AbstractEventLoop) -> asyncio.AbstractEventLoop:
    """The worker's one loop for ib_async's sync API (brokers.md B1: it binds to the loop it first runs on),
    made the main thread's current loop again for each test: another test of the same worker that ran
    ``asyncio.run`` left the thread with none ("There is no current event loop in thread 'MainThread'")."""
    asyncio.set_event_loop(_worker_ib_loop)
    return _worker_ib_loop
