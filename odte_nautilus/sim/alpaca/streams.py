"""The websockets: ``/stream`` (trade_updates, JSON) and the market data streams (msgpack).

Both follow what alpaca-py 0.44 speaks (shared/reference/brokers.md A4):

- ``/stream``: the client sends ``authenticate`` then ``listen``; the server answers ``authorization`` and
  ``listening`` and then sends ``trade_updates``, every message JSON in a *binary* frame as the paper
  endpoint does.
- ``/v1beta1/indicative`` and ``/v1beta1/opra`` (options) and ``/v2/iex`` (the underlying): msgpack only;
  ``[{"T":"success","msg":"connected"}]`` on connect, ``auth``, ``subscribe`` answered by a
  ``subscription`` message, then batches of ``q``/``b`` messages whose ``t`` is a msgpack Timestamp (a
  string breaks alpaca-py).

A connection is a pair of tasks, one sending what its outbox holds and one reading the client, so a
subscription can change while data flows and ``drop_all`` can cut every socket at once (the client must
reconnect, and alpaca-py does). Delivery faults act on the trade updates as they are published: a duplicate
is sent twice, a delayed one is held until after the next update (or the next clock step).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable, Iterable

import msgpack  # type: ignore[import-untyped]  # ships no type information
from starlette.websockets import WebSocket

from odte_nautilus.risk.time_units import MINUTE_NS
from odte_nautilus.sim.alpaca.faults import Faults
from odte_nautilus.sim.replay import Bar, Quote

Outbox = asyncio.Queue[bytes | None]  # frames to send; None closes the connection
SERVICE_RESTART = 1012  # websocket close code: the server is restarting or shedding connections
UNDERLYING_HALF_SPREAD = 0.01  # the catalog has bars, not quotes, for the underlying


async def _pump(ws: WebSocket, outbox: Outbox, on_message: Callable[[bytes], Awaitable[None]]) -> None:
    """Send the outbox and hand what the client sends to ``on_message``, until either side ends."""

    async def send() -> None:
        while (item := await outbox.get()) is not None:
            await ws.send_bytes(item)

    async def receive() -> None:
        while True:
            message = await ws.receive()
            if message["type"] == "websocket.disconnect":
                return
            await on_message(message.get("bytes") or (message.get("text") or "").encode())

    tasks = [asyncio.create_task(send()), asyncio.create_task(receive())]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        with contextlib.suppress(Exception):
            await ws.close(SERVICE_RESTART)


class _Hub:
    """The connections of one kind of stream, so they can be dropped together."""

    def __init__(self) -> None:
        self._connections: set[Outbox] = set()

    def drop_all(self) -> None:
        for outbox in self._connections:
            outbox.put_nowait(None)

    async def _serve(self, ws: WebSocket, outbox: Outbox, on_message: Callable[[bytes], Awaitable[None]]) -> None:
        self._connections.add(outbox)
        try:
            await _pump(ws, outbox, on_message)
        finally:
            self._connections.discard(outbox)


class TradeHub(_Hub):
    """``/stream``: trade updates to every listener, with the duplicate and late delivery faults."""

    def __init__(self, key: str, secret: str, faults: Faults) -> None:
        super().__init__()
        self._key, self._secret, self._faults = key, secret, faults
        self._listeners: set[Outbox] = set()
        self._held: list[bytes] = []

    @property
    def clients(self) -> int:
        """Connections listening to trade updates."""
        return len(self._listeners)

    def publish(self, message: dict) -> None:
        frame = json.dumps(message).encode()
        copies = [frame]
        if self._faults.duplicate_next > 0:
            self._faults.duplicate_next -= 1
            copies.append(frame)
        if self._faults.delay_next > 0:
            self._faults.delay_next -= 1
            self._held.extend(copies)
            return
        self._send(copies)
        self.flush()

    def flush(self) -> None:
        """Send what the late-delivery fault holds back."""
        held, self._held = self._held, []
        self._send(held)

    def _send(self, frames: list[bytes]) -> None:
        for outbox in self._listeners:
            for frame in frames:
                outbox.put_nowait(frame)

    async def serve(self, ws: WebSocket) -> None:
        await ws.accept()
        outbox: Outbox = asyncio.Queue()
        first = _decoded(json.loads, await _first(ws))
        data = first.get("data") or {}
        authorized = (
            first.get("action") == "authenticate"
            and data.get("key_id") == self._key
            and data.get("secret_key") == self._secret
        )
        status = "authorized" if authorized else "unauthorized"
        answer = {"stream": "authorization", "data": {"action": "authenticate", "status": status}}
        await ws.send_bytes(json.dumps(answer).encode())
        if not authorized:
            await ws.close()
            return

        async def on_message(raw: bytes) -> None:
            message = _decoded(json.loads, raw)
            if message.get("action") != "listen":
                return
            streams = [s for s in (message.get("data") or {}).get("streams", []) if s == "trade_updates"]
            if streams:
                self._listeners.add(outbox)
            else:
                self._listeners.discard(outbox)
            outbox.put_nowait(json.dumps({"stream": "listening", "data": {"streams": streams}}).encode())

        try:
            await self._serve(ws, outbox, on_message)
        finally:
            self._listeners.discard(outbox)


async def _first(ws: WebSocket) -> bytes:
    message = await ws.receive()
    return message.get("bytes") or (message.get("text") or "").encode()


def _decoded(decode: Callable[[bytes], object], raw: bytes) -> dict:
    """A client message as a dict; anything unreadable counts as an empty one (and fails authentication)."""
    try:
        message = decode(raw)
    except ValueError:
        return {}
    return message if isinstance(message, dict) else {}


class DataHub(_Hub):
    """A market data stream: msgpack, per-connection subscriptions by channel and symbol (``*`` = all)."""

    def __init__(self, key: str, secret: str, channels: tuple[str, ...]) -> None:
        super().__init__()
        self._key, self._secret, self._channels = key, secret, channels
        self._subscriptions: dict[Outbox, dict[str, set[str]]] = {}

    @property
    def clients(self) -> int:
        """Connections subscribed to something."""
        return sum(any(channels.values()) for channels in self._subscriptions.values())

    def publish(self, channel: str, messages: Iterable[tuple[str, dict]]) -> None:
        """Send (symbol, message) pairs of one channel to each connection subscribed to them, one frame each."""
        if not self._subscriptions:
            return
        items = list(messages)
        for outbox, subscribed in self._subscriptions.items():
            wanted = subscribed[channel]
            batch = [m for symbol, m in items if "*" in wanted or symbol in wanted]
            if batch:
                outbox.put_nowait(msgpack.packb(batch))

    async def serve(self, ws: WebSocket) -> None:
        await ws.accept()
        outbox: Outbox = asyncio.Queue()
        await ws.send_bytes(msgpack.packb([{"T": "success", "msg": "connected"}]))
        auth = _decoded(msgpack.unpackb, await _first(ws))
        if auth.get("action") != "auth" or auth.get("key") != self._key or auth.get("secret") != self._secret:
            await ws.send_bytes(msgpack.packb([{"T": "error", "code": 402, "msg": "auth failed"}]))
            await ws.close()
            return
        await ws.send_bytes(msgpack.packb([{"T": "success", "msg": "authenticated"}]))
        subscribed: dict[str, set[str]] = {channel: set() for channel in self._channels}

        async def on_message(raw: bytes) -> None:
            message = _decoded(msgpack.unpackb, raw)
            action = message.get("action")
            if action not in ("subscribe", "unsubscribe"):
                return
            for channel in self._channels:
                symbols = set(message.get(channel) or [])
                if action == "subscribe":
                    subscribed[channel] |= symbols
                else:
                    subscribed[channel] -= symbols
            reply = {"T": "subscription", **{c: sorted(subscribed[c]) for c in self._channels}}
            outbox.put_nowait(msgpack.packb([reply]))

        self._subscriptions[outbox] = subscribed
        try:
            await self._serve(ws, outbox, on_message)
        finally:
            del self._subscriptions[outbox]


def _stamp(ts_ns: int) -> msgpack.Timestamp:
    return msgpack.Timestamp.from_unix_nano(ts_ns)


def option_quote(symbol: str, quote: Quote) -> dict:
    return {
        "T": "q",
        "S": symbol,
        "t": _stamp(quote.ts),
        "bx": "C",
        "bp": float(quote.bid),
        "bs": quote.bid_size,
        "ax": "C",
        "ap": float(quote.ask),
        "as": quote.ask_size,
        "c": " ",
    }


def underlying_bar(symbol: str, bar: Bar) -> dict:
    """Alpaca stamps a bar at its open; the catalog at its close."""
    close = float(bar.close)
    return {
        "T": "b",
        "S": symbol,
        "t": _stamp(bar.ts - MINUTE_NS),
        "o": float(bar.open),
        "h": float(bar.high),
        "l": float(bar.low),
        "c": close,
        "v": bar.volume,
        "n": 0,
        "vw": close,
    }


def underlying_quote(symbol: str, bar: Bar) -> dict:
    """The underlying's quote at a bar's close: a cent either side of the close (the catalog has no quotes)."""
    close = float(bar.close)
    return {
        "T": "q",
        "S": symbol,
        "t": _stamp(bar.ts),
        "bx": "V",
        "bp": round(close - UNDERLYING_HALF_SPREAD, 2),
        "bs": 1,
        "ax": "V",
        "ap": round(close + UNDERLYING_HALF_SPREAD, 2),
        "as": 1,
        "c": ["R"],
        "z": "B",
    }
