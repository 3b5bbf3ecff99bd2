"""The real alpaca-py clients pointed at a simulator, and the few helpers the tests share."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal

from alpaca.data.historical.option import OptionHistoricalDataClient
from alpaca.data.requests import OptionLatestQuoteRequest
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderClass, OrderSide, TimeInForce
from alpaca.trading.requests import LimitOrderRequest, OptionLegRequest
from alpaca.trading.stream import TradingStream

from odte_nautilus.sim.alpaca import AlpacaSimulator

KEY, SECRET = "test-key", "test-secret"


def dec(value: object) -> Decimal:
    """A decimal the wire sent (as a string or a number); ``None`` fails the test."""
    assert value is not None
    return Decimal(str(value))


def trading(sim: AlpacaSimulator) -> TradingClient:
    return TradingClient(KEY, SECRET, paper=True, url_override=sim.rest_url)


def market_data(sim: AlpacaSimulator) -> OptionHistoricalDataClient:
    return OptionHistoricalDataClient(KEY, SECRET, url_override=sim.rest_url)


def eventually(check: Callable[[], object], timeout: float = 5.0, what: str = "the condition") -> object:
    """Poll until ``check`` returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(0.01)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def symbol(sim: AlpacaSimulator, right: str, strike: int) -> str:
    day = sim.market.session.trading_date
    return f"SPY{day:%y%m%d}{right}{strike * 1000:08d}"


def atm_strike(sim: AlpacaSimulator) -> int:
    """The strike nearest the underlying's last close (needs one step replayed)."""
    bar = sim.market.last_bar
    assert bar is not None, "step the clock first"
    return round(float(bar.close))


def quotes(sim: AlpacaSimulator, symbols: list[str]) -> dict[str, tuple[Decimal, Decimal]]:
    """(bid, ask) per symbol as the REST market data API shows them now."""
    latest = market_data(sim).get_option_latest_quote(OptionLatestQuoteRequest(symbol_or_symbols=symbols))
    return {s: (Decimal(str(q.bid_price)), Decimal(str(q.ask_price))) for s, q in latest.items()}


def far_touch(sim: AlpacaSimulator, legs: list[tuple[str, OrderSide, int]]) -> Decimal:
    """The package's signed far-touch net per package, computed from the wire's quotes."""
    touch = quotes(sim, [s for s, _, _ in legs])
    return sum(
        (ratio * touch[s][1] if side is OrderSide.BUY else -ratio * touch[s][0] for s, side, ratio in legs),
        Decimal(0),
    )


def iron_fly(sim: AlpacaSimulator, wing: int = 5) -> list[tuple[str, OrderSide, int]]:
    """A short iron butterfly at the money: sell the straddle, buy the wings."""
    k = atm_strike(sim)
    return [
        (symbol(sim, "C", k), OrderSide.SELL, 1),
        (symbol(sim, "P", k), OrderSide.SELL, 1),
        (symbol(sim, "C", k + wing), OrderSide.BUY, 1),
        (symbol(sim, "P", k - wing), OrderSide.BUY, 1),
    ]


def mleg(legs: list[tuple[str, OrderSide, int]], qty: int, limit: Decimal, **extra: object) -> LimitOrderRequest:
    return LimitOrderRequest(
        qty=qty,
        order_class=OrderClass.MLEG,
        time_in_force=TimeInForce.DAY,
        limit_price=float(limit),
        legs=[OptionLegRequest(symbol=s, side=side, ratio_qty=ratio) for s, side, ratio in legs],
        **extra,
    )


class Events:
    """Trade updates a running ``TradingStream`` received, in order (raw dicts: the wire itself)."""

    def __init__(self) -> None:
        self.items: list[dict] = []

    async def record(self, update: dict) -> None:
        self.items.append(update["data"])

    def named(self, event: str) -> list[dict]:
        return [e for e in list(self.items) if e["event"] == event]


@contextmanager
def running(stream: object, sim: AlpacaSimulator, kind: str) -> Iterator[None]:
    """Run an alpaca-py stream in its own thread until the simulator counts it connected; stop it after."""
    before = sim.stream_clients()[kind]
    thread = threading.Thread(target=stream.run, daemon=True)  # type: ignore[attr-defined]
    thread.start()
    eventually(lambda: sim.stream_clients()[kind] > before, what=f"the {kind} stream to connect")
    try:
        yield
    finally:
        stream.stop()  # type: ignore[attr-defined]
        sim.drop_streams()  # alpaca-py only notices a stop between reads: end the read at once
        thread.join(timeout=5)


def trade_stream(sim: AlpacaSimulator, events: Events) -> TradingStream:
    stream = TradingStream(KEY, SECRET, paper=True, raw_data=True, url_override=sim.trade_stream_url)
    stream.subscribe_trade_updates(events.record)
    return stream
