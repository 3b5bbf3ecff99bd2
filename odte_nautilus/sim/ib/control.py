"""The simulator's own control API (not IB's): drive and inspect it from another process, on loopback only.

The same routes as the Alpaca simulator's ``/sim/v1`` (``odte_nautilus.sim.alpaca.rest``), so a node drives
either through ``odte_nautilus.live.remote_session``: ``GET /sim/v1/clock`` (now, the session's open and close,
finished) and ``POST /sim/v1/advance`` (``{"to_ns": ...}``, answered once replayed). Added for IB:
``GET /sim/v1/positions`` (local symbol -> signed contracts), ``/sim/v1/orders``, ``/sim/v1/executions``,
``POST /sim/v1/disconnect`` (drop every client socket) and ``PATCH /sim/v1/faults`` (set fault fields).
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from ipaddress import ip_address
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from odte_nautilus.sim.ib.faults import Faults

CONTROL = "/sim/v1"


@dataclass(frozen=True)
class Controls:
    """What the routes call, each on the simulator's loop."""

    clock: Callable[[], dict]
    advance: Callable[[int], Awaitable[None]] | None  # None: the clock is compressed
    positions: Callable[[], dict[str, int]]
    orders: Callable[[], list[dict]]
    executions: Callable[[], list[dict]]
    disconnect: Callable[[], None]
    faults: Faults


def build_app(controls: Controls) -> FastAPI:
    app = FastAPI(title="IB TWS simulator control", docs_url=None, redoc_url=None, openapi_url=None)

    @app.middleware("http")
    async def loopback_only(request: Request, call_next: Callable[[Request], Awaitable[Any]]) -> Any:
        host = request.client.host if request.client is not None else ""
        if not _loopback(host):
            return JSONResponse({"message": "the simulator's control API answers loopback only"}, status_code=403)
        return await call_next(request)

    @app.get(f"{CONTROL}/clock")
    async def clock() -> dict:
        return controls.clock()

    @app.post(f"{CONTROL}/advance", response_model=None)
    async def advance(request: Request) -> dict | JSONResponse:
        body = await _json(request)
        to_ns = body.get("to_ns") if isinstance(body, dict) else None
        if not isinstance(to_ns, int) or isinstance(to_ns, bool) or to_ns < 0:
            return JSONResponse({"message": f"to_ns must be whole nanoseconds, got {to_ns!r}"}, status_code=400)
        if controls.advance is None:
            return JSONResponse({"message": "the clock is compressed: time follows the wall clock"}, status_code=422)
        # Shielded: a client that hangs up mid-replay must not leave the broker half a minute on.
        await asyncio.shield(asyncio.ensure_future(controls.advance(to_ns)))
        return controls.clock()

    @app.get(f"{CONTROL}/positions")
    async def positions() -> dict[str, int]:
        return controls.positions()

    @app.get(f"{CONTROL}/orders")
    async def orders() -> list[dict]:
        return controls.orders()

    @app.get(f"{CONTROL}/executions")
    async def executions() -> list[dict]:
        return controls.executions()

    @app.post(f"{CONTROL}/disconnect")
    async def disconnect() -> dict:
        controls.disconnect()
        return {"disconnected": True}

    @app.patch(f"{CONTROL}/faults", response_model=None)
    async def faults(request: Request) -> dict | JSONResponse:
        body = await _json(request)
        names = {f.name for f in dataclasses.fields(Faults)}
        if not isinstance(body, dict) or not set(body) <= names:
            return JSONResponse({"message": f"fault fields are {sorted(names)}"}, status_code=400)
        for name, value in body.items():
            setattr(controls.faults, name, tuple(value) if name == "disconnect_at" else value)
        return dataclasses.asdict(controls.faults)

    return app


async def _json(request: Request) -> object:
    try:
        return await request.json()
    except ValueError:
        return None


def _loopback(host: str) -> bool:
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False
