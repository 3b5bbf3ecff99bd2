"""Nautilus's IB data client, with what a replayed session needs to know of it to be deterministic.

A simulated session replays a minute only when the node has nothing left to do (``simulated.node_settled``).
Two things left to do were invisible, and runs of one session differed by a minute here and there:

- **A quote subscription waiting for its first quote.** IB answers ``reqMktData`` with the contract's current
  bid and ask at once, and the strategies subscribe a package's legs in the middle of a minute and act on the
  first complete quote (``strategies/base.py``). ``busy`` counts subscriptions whose first quote has not come.
  A contract already streaming is asked nothing (Nautilus 1.231 cancels a quote stream under another name than
  it opened it, "BidAsk" for "market_data", so a stream once opened runs on and a new subscribe reuses it):
  its quote in the cache is current, and waiting for a first one held a restarted node's every minute 2 s
  while a disabled strategy subscribed and dropped its package's legs.
- **A minute still on the wire.** The client reads the socket in a thread, interprets each message in
  another, then runs its handlers in a queue: a minute the simulator has sent may not have reached the
  engines yet. ``delivered()`` is a barrier: it asks the gateway for its time (answered after everything
  sent before) and, once that answer is interpreted, waits for a marker put behind the handlers queued so far.

Against a real gateway nothing calls either.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from nautilus_trader.adapters.interactive_brokers.data import InteractiveBrokersDataClient
from nautilus_trader.data.messages import SubscribeQuoteTicks

FIRST_QUOTE_WAIT_SECONDS = 2.0  # a contract with no market (no answer) does not hold the session longer
DELIVERED_WAIT_SECONDS = 2.0  # a gateway that does not answer does not hold the session longer
_POLL_SECONDS = 0.002
STREAM = "market_data"  # the name Nautilus's IB client opens a contract's quote stream under (reqMktData)


class OdteInteractiveBrokersDataClient(InteractiveBrokersDataClient):
    """See the module docstring; everything else is Nautilus's IB data client unchanged."""

    busy: int = 0
    _answers: asyncio.Queue[int] | None = None

    async def delivered(self) -> None:
        """Everything the gateway sent before this call has been handled by the client (see the docstring)."""
        loop = asyncio.get_running_loop()
        if self._answers is None:
            answers: asyncio.Queue[int] = asyncio.Queue()
            wrapper: Any = self._client._eclient.wrapper
            wrapper.currentTime = lambda t: loop.call_soon_threadsafe(answers.put_nowait, t)
            self._answers = answers
        self._client._eclient.reqCurrentTime()
        try:
            await asyncio.wait_for(self._answers.get(), DELIVERED_WAIT_SECONDS)
        except TimeoutError:
            return
        marker = loop.create_future()

        async def reached() -> None:
            marker.set_result(None)

        self._client.submit_to_msg_handler_queue(reached)
        await asyncio.wait_for(marker, DELIVERED_WAIT_SECONDS)

    async def _subscribe_quote_ticks(self, command: SubscribeQuoteTicks) -> None:
        client: Any = self._client
        if client._subscriptions.get(name=(str(command.instrument_id), STREAM)) is not None:
            await super()._subscribe_quote_ticks(command)  # already streaming (see the module docstring)
            return
        self.busy += 1
        try:
            before = self._cache.quote_tick(command.instrument_id)
            await super()._subscribe_quote_ticks(command)
            deadline = time.monotonic() + FIRST_QUOTE_WAIT_SECONDS
            while self._cache.quote_tick(command.instrument_id) is before and time.monotonic() < deadline:
                await asyncio.sleep(_POLL_SECONDS)
        finally:
            self.busy -= 1
