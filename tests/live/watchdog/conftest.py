"""One event loop per test process for everything ib_async (brokers.md B1: it binds to the first loop it runs
on, so ``asyncio.run`` per test ends in "Event loop is closed"); each xdist worker is its own process."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest


@pytest.fixture(scope="session")
def ib_loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    yield loop
    loop.run_until_complete(loop.shutdown_asyncgens())
    loop.close()
