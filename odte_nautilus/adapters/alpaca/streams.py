"""Stopping an alpaca-py stream that runs as a task on the node's loop.

``stop()`` must not be called on the loop (it blocks on ``run_coroutine_threadsafe(...).result()``);
``stop_ws()`` only takes effect at the stream's next read, which waits up to 5 s. Closing the socket ends
the read at once, and a stream that still has not returned is cancelled.
"""

from __future__ import annotations

import asyncio

from alpaca.data.live.websocket import DataStream
from alpaca.trading.stream import TradingStream

STOP_TIMEOUT_SECS = 2.0


async def stop_stream(stream: DataStream | TradingStream, task: asyncio.Task) -> None:
    await stream.stop_ws()
    await stream.close()
    done, _ = await asyncio.wait([task], timeout=STOP_TIMEOUT_SECS)
    if not done:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
