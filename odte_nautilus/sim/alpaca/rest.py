"""The HTTP side: the trading API under ``/v2`` and the options market data API under ``/v1beta1``.

Routes, query parameters and answers are the ones alpaca-py 0.44 calls and parses (shared/reference/brokers.md
A3): ``TradingClient(url_override=rest_url)`` appends ``/v2``, ``OptionHistoricalDataClient`` ``/v1beta1``.
Every request is checked in this order, as a gateway would: a 429 storm (``Faults.throttle_next``), the key
and secret headers (401, code 40110000), then the trading API's per-minute budget. Handlers are coroutines
on the server's one event loop, so the broker is never touched by two requests at once.

Pagination is real where Alpaca paginates: ``/v2/options/contracts`` (default 100 a page) and the snapshots
(as many as ``limit`` a page), each page naming the next with an opaque ``next_page_token``.

Under ``/sim/v1`` the simulator serves its own control API, which is not Alpaca's and which no Alpaca client
calls: ``GET /sim/v1/clock`` (now, the session's open and close, finished) and ``POST /sim/v1/advance``
(``{"to_ns": ...}``: replay the manual clock up to that instant, answered once it is replayed, with the
clock). A node in another process drives the session with it (``odte_nautilus.live.remote_session``). It
takes the same keys, counts against no Alpaca budget, and answers only a client on loopback (403 otherwise).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from ipaddress import ip_address

from fastapi import FastAPI, Request, Response, WebSocket
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.datastructures import QueryParams
from starlette.exceptions import HTTPException as StarletteHTTPException

from odte_nautilus.sim.alpaca.broker import Broker
from odte_nautilus.sim.alpaca.clock import clock_wire
from odte_nautilus.sim.alpaca.faults import Faults
from odte_nautilus.sim.alpaca.ratelimit import RateLimiter
from odte_nautilus.sim.alpaca.streams import DataHub, TradeHub
from odte_nautilus.sim.alpaca.symbols import asset_id
from odte_nautilus.sim.alpaca.wire import (
    FORBIDDEN,
    MALFORMED,
    NOT_FOUND,
    RATE_LIMITED,
    UNAUTHORIZED,
    UNPROCESSABLE,
    ApiError,
    dec,
    iso,
)
from odte_nautilus.sim.clock import SimClock
from odte_nautilus.sim.replay import Contract, Market, Quote

CONTROL = "/sim/v1"  # the simulator's own control API (not Alpaca's): its clock
CONTRACTS_PAGE = 100
CONTRACTS_MAX_PAGE = 10_000
ORDERS_PAGE, ORDERS_MAX_PAGE = 50, 500


@dataclass(slots=True)
class Venue:
    """What the routes serve; the simulator swaps ``broker`` and the hubs when the broker restarts."""

    broker: Broker
    market: Market
    clock: SimClock
    faults: Faults
    limiter: RateLimiter
    trades: TradeHub
    options: DataHub
    stocks: DataHub
    key: str
    secret: str
    advance: Callable[[int], Awaitable[None]] | None = None  # the manual clock's replay (None: compressed)
    finished: Callable[[], bool] = lambda: False


def build_app(venue: Venue) -> FastAPI:
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

    @app.exception_handler(ApiError)
    async def api_error(_: Request, error: ApiError) -> JSONResponse:
        return _error(error)

    @app.exception_handler(StarletteHTTPException)
    async def unrouted(_: Request, error: StarletteHTTPException) -> JSONResponse:
        """An endpoint the simulator does not serve answers in Alpaca's shape too (e.g. 40410000)."""
        return _error(ApiError(error.status_code * 100_000 + 10_000, str(error.detail).lower()))

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, error: RequestValidationError) -> JSONResponse:
        first = error.errors()[0] if error.errors() else {}
        where = ".".join(str(part) for part in first.get("loc", ())[1:])
        return _error(ApiError(MALFORMED, f"{where}: {first.get('msg', 'invalid request')}"))

    @app.middleware("http")
    async def gateway(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        if venue.faults.throttle_next > 0:
            venue.faults.throttle_next -= 1
            return _error(ApiError(RATE_LIMITED, "rate limit exceeded"), venue.limiter.headers())
        headers = request.headers
        if headers.get("APCA-API-KEY-ID") != venue.key or headers.get("APCA-API-SECRET-KEY") != venue.secret:
            return _error(ApiError(UNAUTHORIZED, "request is not authorized"))
        if request.url.path.startswith(f"{CONTROL}/") and not _loopback(request):
            return _error(ApiError(FORBIDDEN, "the simulator's control API answers loopback clients only"))
        if not request.url.path.startswith("/v2/"):
            return await call_next(request)
        allowed, limits = venue.limiter.take()
        if not allowed:
            return _error(ApiError(RATE_LIMITED, "rate limit exceeded"), limits)
        response = await call_next(request)
        response.headers.update(limits)
        return response

    # -- account, clock --------------------------------------------------------------------------------

    @app.get("/v2/account")
    async def account() -> dict:
        return venue.broker.account()

    @app.get("/v2/clock")
    async def clock() -> dict:
        return clock_wire(venue.clock)

    # -- the simulator's own control API (not Alpaca's) -----------------------------------------------

    @app.get(f"{CONTROL}/clock")
    async def sim_clock() -> dict:
        return _control_clock(venue)

    @app.post(f"{CONTROL}/advance")
    async def sim_advance(request: Request) -> dict:
        body = await _body(request)
        to_ns = body.get("to_ns") if isinstance(body, dict) else None
        if not isinstance(to_ns, int) or isinstance(to_ns, bool) or to_ns < 0:
            raise ApiError(MALFORMED, f"to_ns must be a whole number of nanoseconds, got {to_ns!r}")
        if venue.advance is None:
            raise ApiError(UNPROCESSABLE, "the clock is compressed: time follows the wall clock, not advance")
        # Shielded: a client that hangs up mid-replay must not leave the broker half a minute on.
        await asyncio.shield(asyncio.ensure_future(venue.advance(to_ns)))
        return _control_clock(venue)

    # -- orders ----------------------------------------------------------------------------------------

    @app.post("/v2/orders")
    async def submit(request: Request) -> dict:
        return venue.broker.submit(await _body(request))

    @app.get("/v2/orders")
    async def orders(request: Request) -> list[dict]:
        q = request.query_params
        status = q.get("status", "open")
        if status not in ("open", "closed", "all"):
            raise ApiError(MALFORMED, f"status must be open, closed or all, got {status}")
        limit = min(_count(q.get("limit"), ORDERS_PAGE, "limit"), ORDERS_MAX_PAGE)
        symbols = [s for s in q.get("symbols", "").split(",") if s] or None
        return venue.broker.orders(status, limit, q.get("direction", "desc"), symbols, q.get("after"), q.get("until"))

    @app.get("/v2/orders:by_client_order_id")
    async def order_by_client_id(client_order_id: str) -> dict:
        return venue.broker.order_by_client_id(client_order_id)

    @app.get("/v2/orders/{order_id}")
    async def order(order_id: str) -> dict:
        return venue.broker.order(order_id)

    @app.patch("/v2/orders/{order_id}")
    async def replace(order_id: str, request: Request) -> dict:
        return venue.broker.replace(order_id, await _body(request))

    @app.delete("/v2/orders/{order_id}", status_code=204)
    async def cancel(order_id: str) -> Response:
        venue.broker.cancel(order_id)
        return Response(status_code=204)

    @app.delete("/v2/orders")
    async def cancel_all() -> JSONResponse:
        return JSONResponse(venue.broker.cancel_all(), status_code=207)

    # -- positions -------------------------------------------------------------------------------------

    @app.get("/v2/positions")
    async def positions() -> list[dict]:
        return venue.broker.positions()

    @app.get("/v2/positions/{symbol}")
    async def position(symbol: str) -> dict:
        return venue.broker.position(symbol)

    @app.delete("/v2/positions")
    async def close_all(cancel_orders: bool = False) -> JSONResponse:
        return JSONResponse(venue.broker.close_all(cancel_orders), status_code=207)

    @app.delete("/v2/positions/{symbol}")
    async def close_position(symbol: str, qty: str | None = None) -> dict:
        return venue.broker.close_position(symbol, qty)

    # -- option contracts ------------------------------------------------------------------------------

    @app.get("/v2/options/contracts")
    async def contracts(request: Request) -> dict:
        q = request.query_params
        chosen = [c for c in venue.market.contracts.values() if _contract_matches(c, venue.market, q)]
        limit = min(_count(q.get("limit"), CONTRACTS_PAGE, "limit"), CONTRACTS_MAX_PAGE)
        page, token = _page(chosen, limit, q.get("page_token"))
        return {"option_contracts": [_contract(c, venue.market) for c in page], "next_page_token": token}

    @app.get("/v2/options/contracts/{symbol_or_id}")
    async def contract(symbol_or_id: str) -> dict:
        for c in venue.market.contracts.values():
            if symbol_or_id in (c.symbol, asset_id(c.symbol)):
                return _contract(c, venue.market)
        raise ApiError(NOT_FOUND, f"option contract {symbol_or_id} not found")

    # -- options market data ---------------------------------------------------------------------------

    @app.get("/v1beta1/options/quotes/latest")
    async def latest_quotes(symbols: str) -> dict:
        latest = venue.market.latest
        return {"quotes": {s: _quote(latest[s]) for s in symbols.split(",") if s in latest}}

    @app.get("/v1beta1/options/snapshots")
    async def snapshots(request: Request, symbols: str) -> dict:
        return _snapshots(venue, [s for s in symbols.split(",") if s], request)

    @app.get("/v1beta1/options/snapshots/{underlying}")
    async def chain(request: Request, underlying: str) -> dict:
        market = venue.market
        return _snapshots(venue, list(market.contracts) if underlying == market.underlying else [], request)

    # -- websockets ------------------------------------------------------------------------------------

    @app.websocket("/stream")
    async def trade_stream(ws: WebSocket) -> None:
        await venue.trades.serve(ws)

    @app.websocket("/v1beta1/{feed}")
    async def option_stream(ws: WebSocket, feed: str) -> None:
        if feed not in ("indicative", "opra"):
            await ws.close()
            return
        await venue.options.serve(ws)

    @app.websocket("/v2/{feed}")
    async def stock_stream(ws: WebSocket, feed: str) -> None:
        if feed not in ("iex", "sip"):
            await ws.close()
            return
        await venue.stocks.serve(ws)

    return app


def _control_clock(venue: Venue) -> dict:
    session, now = venue.clock.session, venue.clock.now_ns
    return {
        "now_ns": now,
        "open_ns": session.open_ns,
        "close_ns": session.close_ns,
        "finished": venue.finished(),
        "manual": venue.advance is not None,
        "underlying": venue.market.underlying,
        "trading_date": session.trading_date.isoformat(),
        "catalog": str(venue.market.catalog.resolve()),
    }


def _loopback(request: Request) -> bool:
    host = request.client.host if request.client is not None else ""
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False


def _error(error: ApiError, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error.body(), status_code=error.status, headers=headers)


async def _body(request: Request) -> object:
    try:
        return json.loads(await request.body() or b"{}")
    except ValueError:
        raise ApiError(MALFORMED, "request body is not valid JSON") from None


def _count(raw: str | None, default: int, name: str) -> int:
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise ApiError(MALFORMED, f"{name} must be a positive whole number, got {raw!r}")
    return int(raw)


def _page(items: list, limit: int, token: str | None) -> tuple[list, str | None]:
    """One page and the token of the next (``None`` on the last): the token is an opaque offset."""
    start = 0
    if token:
        try:
            start = int(base64.urlsafe_b64decode(token.encode()).decode())
        except (ValueError, binascii.Error):
            raise ApiError(MALFORMED, f"invalid page_token {token!r}") from None
    end = start + limit
    following = base64.urlsafe_b64encode(str(end).encode()).decode() if end < len(items) else None
    return items[start:end], following


def _contract_matches(c: Contract, market: Market, q: QueryParams) -> bool:
    """The contracts endpoint's filters (every contract listed is active, American and expires today)."""
    underlyings = [s for s in q.get("underlying_symbols", "").split(",") if s]
    expiry = c.expiry.isoformat()
    low, high = q.get("strike_price_gte"), q.get("strike_price_lte")
    return all(
        [
            not underlyings or market.underlying in underlyings,
            q.get("status", "active") == "active",
            q.get("root_symbol", c.root) == c.root,
            q.get("type", c.right.name.lower()) == c.right.name.lower(),
            q.get("style", "american") == "american",
            q.get("expiration_date", expiry) == expiry,
            q.get("expiration_date_gte", expiry) <= expiry <= q.get("expiration_date_lte", expiry),
            low is None or c.strike >= dec(low, "strike_price_gte"),
            high is None or c.strike <= dec(high, "strike_price_lte"),
        ]
    )


def _contract(c: Contract, market: Market) -> dict:
    right = c.right.name.lower()
    return {
        "id": asset_id(c.symbol),
        "symbol": c.symbol,
        "name": f"{c.root} {c.expiry:%b %d %Y} {c.strike} {right.capitalize()}",
        "status": "active",
        "tradable": True,
        "expiration_date": c.expiry.isoformat(),
        "root_symbol": c.root,
        "underlying_symbol": market.underlying,
        "underlying_asset_id": asset_id(market.underlying),
        "type": right,
        "style": "american",
        "strike_price": str(c.strike),
        "multiplier": "100",
        "size": "100",
        "open_interest": None if c.open_interest is None else str(c.open_interest),
        "open_interest_date": None if c.open_interest is None else market.session.trading_date.isoformat(),
        "close_price": None,
        "close_price_date": None,
    }


def _quote(quote: Quote) -> dict:
    return {
        "t": iso(quote.ts),
        "bx": "C",
        "bp": float(quote.bid),
        "bs": quote.bid_size,
        "ax": "C",
        "ap": float(quote.ask),
        "as": quote.ask_size,
        "c": " ",
    }


def _snapshots(venue: Venue, symbols: list[str], request: Request) -> dict:
    """Latest quote, IV and greeks (the catalog's, every 5 minutes; rho is not kept, and ~0 for a 0DTE)."""
    q = request.query_params
    market, now = venue.market, venue.clock.now_ns
    known = [s for s in symbols if s in market.latest]
    page, token = _page(known, _count(q.get("limit"), len(known) or 1, "limit"), q.get("page_token"))
    result = {}
    for symbol in page:
        snapshot: dict = {"latestQuote": _quote(market.latest[symbol])}
        greeks = market.greeks(symbol, now)
        if greeks is not None:
            snapshot["impliedVolatility"] = greeks.iv
            snapshot["greeks"] = {
                "delta": greeks.delta,
                "gamma": greeks.gamma,
                "rho": 0.0,
                "theta": greeks.theta,
                "vega": greeks.vega,
            }
        result[symbol] = snapshot
    return {"snapshots": result, "next_page_token": token}
