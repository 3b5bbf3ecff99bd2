"""The dashboard's live feed: the node's status sampled every ``interval`` seconds, with the day's equity curve.

One sampler for every browser: it asks the node (on the node's loop, ``bridge.py``) at its own pace, so ten
open dashboards cost the node what one does. Each sample carries the journal's latest decisions and alerts
and the equity curve (day P&L, realized and unrealized, at the node's clock) since the monitor started or
the trading date changed. Subscribers wait on a version number and read the latest sample.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from odte_nautilus.live.control.bridge import NodeBridge, NodeUnavailable
from odte_nautilus.live.control.status import journal_tail

EQUITY_POINTS = 2000
log = logging.getLogger(__name__)


class Monitor:
    def __init__(
        self, bridge: NodeBridge, read_status: Callable[[], dict[str, Any]], journal: Path, interval: float = 0.5
    ) -> None:
        self._bridge = bridge
        self._read_status = read_status
        self._journal = journal
        self.interval = interval
        self.version = 0
        self.latest: dict[str, Any] = {"node": "starting"}
        self._latest_json = ""
        self._equity: deque[tuple[str, float]] = deque(maxlen=EQUITY_POINTS)
        self._day: str | None = None
        self._changed: asyncio.Condition | None = None

    async def run(self, stopping: Callable[[], bool]) -> None:
        self._changed = asyncio.Condition()
        while not stopping():
            await self.sample()
            await asyncio.sleep(self.interval)

    async def sample(self) -> dict[str, Any]:
        """One fresh reading of the node (and of the journal), published if anything changed."""
        try:
            status = await self._bridge.call(self._read_status)
            status["node"] = "running"
            self._add_point(status)
        except NodeUnavailable as exc:
            status = {**{k: v for k, v in self.latest.items() if k != "node"}, "node": "unavailable", "error": str(exc)}
        except Exception as exc:  # a status that cannot be read must not stop the feed (or hide the controls)
            log.exception("control API: the node's status could not be read")
            status = {**{k: v for k, v in self.latest.items() if k != "node"}, "node": "error", "error": repr(exc)}
        status["equity"] = [{"time": t, "pnl": p} for t, p in self._equity]
        status.update(await asyncio.to_thread(journal_tail, self._journal))
        encoded = json.dumps(status, default=str, sort_keys=True)
        if encoded != self._latest_json:
            self._latest_json, self.latest = encoded, status
            self.version += 1
            if self._changed is not None:
                async with self._changed:
                    self._changed.notify_all()
        return status

    def _add_point(self, status: dict[str, Any]) -> None:
        day = status.get("trading_date")
        if day != self._day:
            self._day = day
            self._equity.clear()
        point = (str(status["time"]), float(status["pnl"]["day"]))
        if not self._equity or self._equity[-1] != point:
            if self._equity and self._equity[-1][0] == point[0]:
                self._equity.pop()  # the same instant of the node's clock: keep its latest P&L
            self._equity.append(point)

    async def wait_newer(self, version: int, timeout: float) -> int:
        """Wait until a sample newer than ``version`` is published (or ``timeout``); the current version."""
        if self._changed is None or self.version > version:
            return self.version
        try:
            async with self._changed:
                await asyncio.wait_for(self._changed.wait_for(lambda: self.version > version), timeout)
        except TimeoutError:
            pass
        return self.version

    @property
    def latest_json(self) -> str:
        return self._latest_json or json.dumps(self.latest)
