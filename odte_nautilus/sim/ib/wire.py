"""The TWS socket protocol's framing at server version 178: what a byte on the socket means.

After the handshake every message, both ways, is a 4-byte big-endian length and then NUL-terminated text
fields, the first being the message id (binary ids and protobuf start at server version 201, which this
simulator never negotiates, so ib_async and the official ``ibapi`` under Nautilus both speak text).

The handshake: the client sends ``API\\0`` and then one framed field ``v<min>..<max>`` (maybe followed by
connect options); the server answers one framed message ``<version>\\0<connection time>\\0`` and nothing
else until the client's ``startApi``: ``ibapi`` reads the answer with a single ``recv`` and would drop a
message glued behind it.
"""

from __future__ import annotations

import asyncio
import struct
from decimal import Decimal

SERVER_VERSION = 178
API_PREFIX = b"API\x00"
MAX_MESSAGE = 0xFFFFFF  # ibapi's MAX_MSG_LEN: a longer frame is a broken client
UNSET_DOUBLE = "1.7976931348623157E308"  # how TWS writes a double it has no value for


class ProtocolError(Exception):
    """The peer broke the framing or the handshake: the connection is closed."""


Value = str | int | float | Decimal | bool | None


def field(value: Value) -> str:
    """One field as TWS writes it: booleans as 0/1, nothing as the empty string, decimals as written."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def frame(fields: list[Value]) -> bytes:
    payload = "".join(field(v) + "\0" for v in fields).encode()
    return struct.pack("!I", len(payload)) + payload


async def _read_payload(reader: asyncio.StreamReader) -> str:
    (size,) = struct.unpack("!I", await reader.readexactly(4))
    if size > MAX_MESSAGE:
        raise ProtocolError(f"a {size}-byte frame is longer than any TWS message")
    return (await reader.readexactly(size)).decode(errors="replace")


async def read_frame(reader: asyncio.StreamReader) -> list[str]:
    """The next message's fields (the message id first); ``IncompleteReadError`` when the peer hangs up."""
    return (await _read_payload(reader)).split("\0")[:-1]


async def read_handshake(reader: asyncio.StreamReader) -> tuple[int, int]:
    """The client's ``API\\0`` and version range (one framed text, not NUL-terminated); ``(min, max)``."""
    if await reader.readexactly(len(API_PREFIX)) != API_PREFIX:
        raise ProtocolError("the client did not open with API\\0")
    text = (await _read_payload(reader)).rstrip("\0")
    versions = text.split(" ", 1)[0]
    try:
        low, high = (int(v) for v in versions.removeprefix("v").split(".."))
    except ValueError:
        raise ProtocolError(f"not a version range: {text!r}") from None
    return low, high


def handshake_answer(connection_time: str) -> bytes:
    payload = f"{SERVER_VERSION}\0{connection_time}\0".encode()
    return struct.pack("!I", len(payload)) + payload


class Fields:
    """A client message read field by field, in the order the client wrote them."""

    def __init__(self, fields: list[str]) -> None:
        self._fields = fields
        self._at = 0

    def text(self) -> str:
        if self._at >= len(self._fields):
            raise ProtocolError(f"the message ended after {len(self._fields)} fields")
        value = self._fields[self._at]
        self._at += 1
        return value

    def integer(self, default: int = 0) -> int:
        value = self.text()
        return int(float(value)) if value else default

    def decimal(self) -> Decimal | None:
        value = self.text()
        if not value or value == UNSET_DOUBLE:
            return None
        return Decimal(value)

    def flag(self) -> bool:
        value = self.text()
        return value not in ("", "0", "False", "false")

    def skip(self, count: int = 1) -> None:
        for _ in range(count):
            self.text()
