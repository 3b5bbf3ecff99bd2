"""The control server: uvicorn in its own thread of the node's process, acting on the node's loop.

``serve_control`` is the one call a node runner makes, once the node is built and before it runs::

    with serve_control(paper, settings):
        ...  # run the node

It binds at once (so a port in use or a refused binding stops the runner before the node trades) and
stops when the block ends or the node's loop closes. The thread owns its own event loop: a slow client
never delays the node, and every action crosses to the node's loop (``bridge.py``).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any

import uvicorn

from odte_nautilus.live.control.actions import NodeControl
from odte_nautilus.live.control.app import create_app
from odte_nautilus.live.control.auth import Access, ControlConfigError
from odte_nautilus.live.control.bridge import NodeBridge
from odte_nautilus.live.control.monitor import Monitor
from odte_nautilus.live.control.status import journal_path, node_status
from odte_nautilus.live.settings import ControlSettings, LiveSettings, environment
from odte_nautilus.risk.journal import iso_utc

if TYPE_CHECKING:
    from odte_nautilus.live.node import PaperNode

log = logging.getLogger(__name__)

START_TIMEOUT_S = 10.0


class ControlService:
    """What the routes share: the node, the bridge to its loop, the access rules, the monitor."""

    def __init__(self, paper: PaperNode, access: Access, token_env: str, refresh_seconds: float) -> None:
        loop = paper.node.get_event_loop()
        if loop is None:
            raise ControlConfigError("the node has no event loop: build it before serving its control API")
        self.paper = paper
        self.access = access
        self.token_env = token_env
        self.bridge = NodeBridge(loop)
        self.control = NodeControl(paper)
        self.journal = journal_path(paper)
        self.monitor = Monitor(self.bridge, lambda: node_status(paper), self.journal, refresh_seconds)
        self.stopping = False

    def stop_in_store(self, by: str, reason: str, why: str) -> dict[str, Any]:
        """The emergency stop when the node's loop does not answer: the durable switch, set from here."""
        book = self.paper.book
        now = time.time_ns()
        book.store.set_kill_switch(True, by=by, reason=reason, ts_ns=now)
        book.journal.append("kill_switch", ts_ns=now, on=True, by=by, reason=reason, via="store", note=why)
        log.error("emergency stop engaged in the durable store (%s): %s", why, reason)
        return {
            "action": "emergency-stop",
            "kill_switch": True,
            "by": by,
            "reason": reason,
            "time": iso_utc(now),
            "via": "store",
            "note": f"{why}; the switch is on in the durable store: every entry is refused and the gate"
            " cancels working entries at the next order it sees",
        }


class ControlServer:
    """A running control API; ``url`` is where it listens (the real port when ``port`` was 0)."""

    def __init__(self, service: ControlService, host: str, port: int) -> None:
        self.service = service
        config = uvicorn.Config(
            create_app(service),
            host=host,
            port=port,
            log_level="warning",
            access_log=False,
            lifespan="on",
            timeout_graceful_shutdown=2,
        )
        self._server = uvicorn.Server(config)
        self._host = host
        self.port = port
        self._thread = threading.Thread(target=self._serve, name="odte-control", daemon=True)
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self.port}"

    def start(self) -> ControlServer:
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise ControlConfigError(
                    f"the control API could not listen on {self._host}:{self.port}"
                    f" ({self._error or 'the port may be in use: another node running?'});"
                    " set control.port in the node's config"
                )
            time.sleep(0.01)
        sockets = [s for server in self._server.servers for s in server.sockets]
        if sockets:
            self.port = sockets[0].getsockname()[1]
        log.warning("control API and dashboard on %s", self.url)
        return self

    def _serve(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # reported by start(); a crash here must not take the node down
            self._error = exc

    async def _main(self) -> None:
        service = self.service
        monitor = asyncio.create_task(service.monitor.run(lambda: service.stopping))
        watchdog = asyncio.create_task(self._stop_when_node_closes())
        try:
            await self._server.serve()
        finally:
            service.stopping = True
            for task in (monitor, watchdog):
                task.cancel()

    async def _stop_when_node_closes(self) -> None:
        while not self._server.should_exit:
            if self.service.bridge.closed:
                self._server.should_exit = True
            await asyncio.sleep(0.5)

    def stop(self) -> None:
        self.service.stopping = True
        self._server.should_exit = True
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=5.0)

    def __enter__(self) -> ControlServer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def serve_control(
    paper: PaperNode,
    settings: LiveSettings | ControlSettings,
    *,
    env: Mapping[str, str] | None = None,
    port: int | None = None,
    refresh_seconds: float = 0.5,
) -> ControlServer:
    """Start the node's control API and dashboard (``settings.control``; the token from ``env``, by default
    the process environment over ``.env.local``). Raises ``ControlConfigError`` for a binding the config does
    not allow or a port that cannot be had."""
    control = settings.control if isinstance(settings, LiveSettings) else settings
    values = environment() if env is None else env
    token = values.get(control.token_env) or None
    access = Access.for_binding(control.host, token, control.allow_remote, control.token_env)
    if token is None:
        log.warning("control API: no %s set, so reset and enable are refused (403)", control.token_env)
    service = ControlService(paper, access, control.token_env, refresh_seconds)
    return ControlServer(service, control.host, control.port if port is None else port).start()


__all__ = ["ControlServer", "ControlService", "serve_control"]
