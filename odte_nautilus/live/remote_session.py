"""A simulator in another process, driven over its control API: the session a restarted node resumes.

``odte live --broker alpaca-sim`` (or ``ib-sim``) runs the simulator inside the node's process, so a node
killed with SIGKILL takes its broker with it. ``odte sim alpaca`` (``odte sim ib``) runs the simulator alone,
and ``odte live --sim-url URL`` drives it from the node through ``RemoteSession``: the same
``session_clock.ReplayedSession`` the ``SessionDriver`` moves, over the simulator's own control API (``GET
/sim/v1/clock``, ``POST /sim/v1/advance``; ``odte_nautilus.sim.alpaca.rest``, ``odte_nautilus.sim.ib.control``),
never the broker's own API. The broker outlives the node, and a node started again picks the session up where
the simulator stands. Both simulators answer the clock alike; the TWS simulator adds the port its TWS socket
listens on (``tws_port``), which the IB node connects to.

Only a simulator on loopback may be driven (``LOOPBACK_HOSTS``): the control API moves a broker's time.
The clock's answer is cached, so the driver reads ``now_ns`` and ``finished`` on the node's event loop
without a request; ``advance_to`` (off the loop) refreshes it.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from odte_nautilus.adapters.alpaca.config import LOOPBACK_HOSTS
from odte_nautilus.live.node import BrokerUrls

CONTROL = "/sim/v1"
TIMEOUT_S = 60.0  # one replayed minute, answered once the simulator has replayed it
RETRIES = 3  # an advance is idempotent (to an instant, never by a step): a lost answer is asked again


class RemoteSessionError(RuntimeError):
    """The simulator cannot be driven: not on loopback, not answering, or its clock is not manual."""


@dataclass(frozen=True)
class SimClockState:
    now_ns: int
    open_ns: int
    close_ns: int
    finished: bool
    manual: bool
    underlying: str
    trading_date: date
    catalog: Path
    tws_port: int | None = None  # the TWS simulator's socket (its control API is on another port)
    accounts: tuple[str, ...] = ()  # the managed accounts a TWS simulator reports

    @classmethod
    def from_wire(cls, body: dict[str, Any]) -> SimClockState:
        return cls(
            now_ns=int(body["now_ns"]),
            open_ns=int(body["open_ns"]),
            close_ns=int(body["close_ns"]),
            finished=bool(body["finished"]),
            manual=bool(body["manual"]),
            underlying=str(body["underlying"]),
            trading_date=date.fromisoformat(body["trading_date"]),
            catalog=Path(body["catalog"]),
            tws_port=None if body.get("port") is None else int(body["port"]),
            accounts=tuple(str(a) for a in body.get("accounts", ())),
        )


class RemoteSession:
    """``session_clock.ReplayedSession`` over a simulator's control API (see the module docstring)."""

    def __init__(self, url: str, key: str | None = None, secret: str | None = None) -> None:
        """``key`` and ``secret``: the Alpaca simulator's, which it checks on every route (the TWS simulator's
        control API has none: it answers loopback only)."""
        parsed = urlparse(url)
        if parsed.scheme != "http" or (parsed.hostname or "") not in LOOPBACK_HOSTS or parsed.port is None:
            raise RemoteSessionError(f"--sim-url {url}: the simulator's control API is http on loopback with a port")
        self.url = f"http://{parsed.hostname}:{parsed.port}"
        self._headers = {"Content-Type": "application/json"}
        if key is not None and secret is not None:
            self._headers |= {"APCA-API-KEY-ID": key, "APCA-API-SECRET-KEY": secret}
        self.state = self._call("GET", "clock")
        if not self.state.manual:
            raise RemoteSessionError(f"the simulator at {self.url} runs a compressed clock: a node cannot drive it")

    @property
    def host(self) -> str:
        """The simulator's loopback host (the TWS simulator's socket listens there too)."""
        return urlparse(self.url).hostname or ""

    @property
    def urls(self) -> BrokerUrls:
        """Where the node's clients connect: the simulator's REST and websockets on the same port."""
        ws = self.url.replace("http://", "ws://", 1)
        return BrokerUrls(self.url, f"{ws}/stream", f"{ws}/v1beta1/indicative", f"{ws}/v2/iex")

    # -- ReplayedSession -------------------------------------------------------------------------------

    @property
    def now_ns(self) -> int:
        return self.state.now_ns

    @property
    def finished(self) -> bool:
        return self.state.finished

    @property
    def session_open_ns(self) -> int:
        return self.state.open_ns

    def advance_to(self, ts_ns: int) -> None:
        """Replay the simulator up to ``ts_ns``; returns once it has (blocking: call it off the event loop)."""
        self.state = self._call("POST", "advance", {"to_ns": ts_ns})

    def refresh(self) -> SimClockState:
        self.state = self._call("GET", "clock")
        return self.state

    # -- the wire ----------------------------------------------------------------------------------------

    def _call(self, method: str, route: str, body: dict[str, Any] | None = None) -> SimClockState:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"{self.url}{CONTROL}/{route}", data, self._headers, method=method)
        for attempt in range(RETRIES):
            try:
                with urllib.request.urlopen(request, timeout=TIMEOUT_S) as answer:
                    return SimClockState.from_wire(json.loads(answer.read()))
            except urllib.error.HTTPError as exc:  # the simulator answered: a refusal is not retried
                raise RemoteSessionError(f"{method} {CONTROL}/{route}: {exc.code} {exc.read().decode()}") from None
            except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
                if attempt == RETRIES - 1:
                    raise RemoteSessionError(f"the simulator at {self.url} does not answer: {exc}") from None
                time.sleep(0.2 * (attempt + 1))
        raise AssertionError("unreachable")
