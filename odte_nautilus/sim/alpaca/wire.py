"""How values look on Alpaca's wire: error bodies and codes, decimals, timestamps.

Alpaca sends every decimal as a string and every time as RFC 3339; it reads numbers or strings in request
bodies (alpaca-py posts numbers, Alpaca's own examples strings). Errors are ``{"code", "message"}`` whose
code starts with the HTTP status (40010001 -> 400), so ``ApiError`` takes the code alone.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from odte_nautilus.risk.time_units import NS_PER_SECOND

MALFORMED = 40010001  # 400: a body or parameter that does not validate
UNAUTHORIZED = 40110000  # 401: "request is not authorized"
FORBIDDEN = 40310000  # 403: buying power, quantity
NOT_FOUND = 40410000  # 404
UNPROCESSABLE = 42210000  # 422: not cancelable, duplicate client order id, legs of an mleg order
RATE_LIMITED = 42910000  # 429


class ApiError(Exception):
    """An error answer: the HTTP status is the code's first three digits, as on Alpaca."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    @property
    def status(self) -> int:
        return self.code // 100_000

    def body(self) -> dict:
        return {"code": self.code, "message": self.message}


def iso(ts_ns: int) -> str:
    """RFC 3339 in UTC with microseconds, as Alpaca's trading API writes times."""
    seconds, nanos = divmod(ts_ns, NS_PER_SECOND)
    stamp = datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{stamp}.{nanos // 1000:06d}Z"


def dec(value: object, field: str) -> Decimal:
    """A request decimal given as a JSON number or a string; anything else is a 400."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ApiError(MALFORMED, f"{field} must be a number")
    try:
        result = Decimal(str(value))
    except InvalidOperation:
        raise ApiError(MALFORMED, f"{field} must be a number, got {value!r}") from None
    if not result.is_finite():
        raise ApiError(MALFORMED, f"{field} must be finite")
    return result


def whole(value: object, field: str) -> int:
    """A positive whole quantity (options trade whole contracts): ``2``, ``2.0`` and ``"2"`` are all 2."""
    number = dec(value, field)
    if number <= 0 or number != number.to_integral_value():
        raise ApiError(MALFORMED, f"{field} must be a positive whole number, got {value!r}")
    return int(number)


def text(value: Decimal | int | None) -> str | None:
    """A decimal as Alpaca writes it: a string, ``None`` stays ``null``."""
    return None if value is None else str(value)
