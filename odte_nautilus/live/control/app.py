"""The control API's routes (design §15; the interface names are the project's, see the README).

Risk-reducing: ``POST /live/emergency-stop``, ``POST /live/flatten``, ``POST /live/strategies/{id}/disable``.
Risk-increasing (the token): ``POST /live/reset``, ``POST /live/strategies/{id}/enable``.
Reading: ``GET /live/status``, ``GET /live/events`` (server-sent events), ``GET /`` (the dashboard).

A flatten also engages the emergency stop (a strategy would otherwise enter again on its next signal), unless
its body says ``"stop": false``.

Every POST takes an optional JSON body ``{"by": ..., "reason": ...}`` (who and why, for the journal); a
missing or unreadable body never stops the emergency stop, so ``curl -X POST .../live/emergency-stop`` works
as seed 003 writes it. If the node's loop does not answer in time, the emergency stop engages the durable
switch from here (the store is thread-safe): the gate cancels working entries at the next order it sees and
refuses every entry, and a restarted node finds the switch on.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse

from odte_nautilus.live.control.actions import UnknownStrategy
from odte_nautilus.live.control.auth import TOKEN_HEADER, Access, offered_token
from odte_nautilus.live.control.bridge import NodeUnavailable
from odte_nautilus.live.control.dashboard import render_dashboard
from odte_nautilus.live.control.status import journal_tail

if TYPE_CHECKING:
    from odte_nautilus.live.control.server import ControlService

SSE_KEEPALIVE_S = 15.0


def create_app(service: ControlService) -> FastAPI:
    app = FastAPI(title="odte control", docs_url=None, redoc_url=None, openapi_url=None)
    access: Access = service.access

    @app.middleware("http")
    async def guard(request: Request, call_next: Callable[[Request], Any]) -> Response:
        if not access.host_header_ok(request.headers.get("host")):
            return _error(403, "the control API answers requests addressed to localhost only")
        if access.remote and not access.token_matches(_token(request)):
            status = 401 if _token(request) is None else 403
            return _error(status, "this control API is bound beyond loopback: every request needs the token")
        response: Response = await call_next(request)
        return response

    def authorized(request: Request) -> JSONResponse | None:
        """A risk-increasing action: the token, compared in constant time; None when it may go."""
        if access.token is None:
            return _error(
                403,
                f"risk-increasing actions need a token and this node has none: set {service.token_env}"
                " in the node's environment (or .env.local) and restart it",
            )
        offered = _token(request)
        if offered is None:
            return _error(401, "risk-increasing action: send the token (Authorization: Bearer ... or X-Odte-Token)")
        if not access.token_matches(offered):
            return _error(403, "wrong token")
        return None

    # -- risk-reducing ---------------------------------------------------------------------------------

    @app.post("/live/emergency-stop")
    async def emergency_stop(request: Request) -> JSONResponse:
        by, reason = await _who(request, "emergency stop")
        try:
            result = await service.bridge.call(lambda: service.control.emergency_stop(by, reason))
        except NodeUnavailable as exc:
            try:
                result = await asyncio.to_thread(service.stop_in_store, by, reason, str(exc))
            except sqlite3.Error as closed:  # the node has stopped and closed its state file
                return _error(503, f"{exc}; its risk state is closed ({closed}): nothing is trading here")
            return JSONResponse(result, status_code=202)
        await service.monitor.sample()
        return JSONResponse(result)

    @app.post("/live/flatten")
    async def flatten(request: Request) -> JSONResponse:
        body = await _body(request)
        by, reason = await _who(request, "flatten", body)
        stop = None
        if body.get("stop", True) is not False:  # flat and staying flat, unless the caller says otherwise
            stop = await service.bridge.call(lambda: service.control.emergency_stop(by, reason))
        result = await service.bridge.call(lambda: service.control.flatten(by, reason))
        if stop is not None:
            result["emergency_stop"] = stop
        await service.monitor.sample()
        return JSONResponse(result)

    @app.post("/live/strategies/{strategy_id}/disable")
    async def disable(strategy_id: str, request: Request) -> JSONResponse:
        by, reason = await _who(request, "disabled by hand")
        result = await service.bridge.call(lambda: service.control.disable(strategy_id, by, reason))
        await service.monitor.sample()
        return JSONResponse(result)

    # -- risk-increasing -------------------------------------------------------------------------------

    @app.post("/live/strategies/{strategy_id}/enable")
    async def enable(strategy_id: str, request: Request) -> JSONResponse:
        refused = authorized(request)
        if refused is not None:
            return refused
        by, reason = await _who(request, "enabled by hand")
        result = await service.bridge.call(lambda: service.control.enable(strategy_id, by, reason))
        await service.monitor.sample()
        return JSONResponse(result)

    @app.post("/live/reset")
    async def reset(request: Request) -> JSONResponse:
        refused = authorized(request)
        if refused is not None:
            return refused
        by, reason = await _who(request, "manual reset")
        result = await service.bridge.call(lambda: service.control.reset(by, reason))
        await service.monitor.sample()
        return JSONResponse(result)

    # -- reading ---------------------------------------------------------------------------------------

    @app.get("/live/status")
    async def status() -> JSONResponse:
        body = await service.monitor.sample()
        return JSONResponse(json.loads(json.dumps(body, default=str)))

    @app.get("/live/events")
    async def events(request: Request) -> StreamingResponse:
        async def stream() -> AsyncIterator[str]:
            version = -1
            while not service.stopping and not await request.is_disconnected():
                newer = await service.monitor.wait_newer(version, SSE_KEEPALIVE_S)
                if newer > version:
                    version = newer
                    yield f"event: status\ndata: {service.monitor.latest_json}\n\n"
                else:
                    yield ": keep-alive\n\n"

        headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
        return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)

    @app.get("/", response_class=HTMLResponse)
    async def dashboard() -> HTMLResponse:
        page = render_dashboard(service.monitor.latest, remote=access.remote)
        return HTMLResponse(page, headers={"Cache-Control": "no-store"})

    @app.get("/live/journal")
    async def journal() -> JSONResponse:
        return JSONResponse(await asyncio.to_thread(journal_tail, service.journal, 200, 200))

    @app.exception_handler(NodeUnavailable)
    async def unavailable(request: Request, exc: NodeUnavailable) -> JSONResponse:
        return _error(503, str(exc))

    @app.exception_handler(UnknownStrategy)
    async def unknown(request: Request, exc: UnknownStrategy) -> JSONResponse:
        return _error(404, str(exc.args[0]) if exc.args else "not found")

    return app


def _error(status: int, detail: str) -> JSONResponse:
    return JSONResponse({"error": detail}, status_code=status)


def _token(request: Request) -> str | None:
    return offered_token(
        request.headers.get("authorization"), request.headers.get(TOKEN_HEADER), request.query_params.get("token")
    )


async def _body(request: Request) -> dict[str, Any]:
    """The optional JSON body; anything unreadable counts as none (a stop must never fail on its body)."""
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


async def _who(request: Request, default_reason: str, body: dict[str, Any] | None = None) -> tuple[str, str]:
    body = body if body is not None else await _body(request)
    client = request.client.host if request.client is not None else "unknown"
    by = str(body.get("by") or "").strip()[:200] or f"api ({client})"
    reason = str(body.get("reason") or "").strip()[:500] or default_reason
    return by, reason
