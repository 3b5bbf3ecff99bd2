"""The hand-over from the control server's thread to the node's event loop.

The server runs in its own thread with its own loop, so a slow request or a stuck browser never holds up
the node; every call that touches Nautilus objects is handed to the node's loop with ``call_soon_threadsafe``
and awaited with a deadline. A node whose loop does not answer in time is reported, never waited on forever
(the emergency stop then engages the durable switch directly: ``app.py``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

DEFAULT_TIMEOUT_S = 5.0


class NodeUnavailable(RuntimeError):
    """The node's loop is closed or did not answer in time."""


class NodeBridge:
    def __init__(self, loop: asyncio.AbstractEventLoop, timeout: float = DEFAULT_TIMEOUT_S) -> None:
        self.loop = loop
        self.timeout = timeout

    @property
    def closed(self) -> bool:
        return self.loop.is_closed()

    async def call(self, fn: Callable[[], T], timeout: float | None = None) -> T:
        """Run ``fn`` on the node's loop and return its result here (its exception is raised here)."""
        timeout = self.timeout if timeout is None else timeout
        future: concurrent.futures.Future[T] = concurrent.futures.Future()

        def run() -> None:
            if not future.set_running_or_notify_cancel():
                return  # the caller gave up waiting: do not act late
            try:
                future.set_result(fn())
            except BaseException as exc:  # handed to the waiting caller, which re-raises it
                future.set_exception(exc)

        try:
            self.loop.call_soon_threadsafe(run)
        except RuntimeError as exc:  # the loop is closed: the node has stopped
            raise NodeUnavailable("the node is not running (its event loop is closed)") from exc
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), timeout)
        except TimeoutError as exc:
            future.cancel()
            raise NodeUnavailable(f"the node's event loop did not answer within {timeout:g} s") from exc
