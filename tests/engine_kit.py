"""Engine-level test kit: a real ``BacktestEngine`` with SPX, a few SPXW contracts and scripted orders.

Like Nautilus's own engine tests, a test here is a few lines: build the engine, say which orders a
scripted strategy sends at which minute, run, assert on the cache and on the captured events.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from nautilus_trader.backtest.engine import BacktestEngine, BacktestEngineConfig
from nautilus_trader.config import LoggingConfig, StrategyConfig
from nautilus_trader.core.uuid import UUID4
from nautilus_trader.execution.messages import SubmitOrder
from nautilus_trader.model.currencies import USD
from nautilus_trader.model.data import QuoteTick
from nautilus_trader.model.enums import AccountType, OmsType, OrderSide
from nautilus_trader.model.identifiers import InstrumentId, Venue
from nautilus_trader.model.instruments import IndexInstrument, OptionContract, OptionSpread
from nautilus_trader.model.objects import Money, Price, Quantity
from nautilus_trader.model.orders import Order
from nautilus_trader.trading.strategy import Strategy

from odte_nautilus.data.instruments import session_option, underlying_instrument
from odte_nautilus.data.underlyings import underlying_spec
from odte_nautilus.packages import option_spread
from odte_nautilus.risk.model import OptionRight
from odte_nautilus.risk.time_units import MINUTE_NS
from tests.kit import DAY, ny_ns, trading_session

SPX = underlying_spec("SPX")

VENUE = Venue("CBOE")


def index() -> IndexInstrument:
    """^SPX.CBOE, as the catalog and the IB adapter name it."""
    return underlying_instrument(SPX, 0)


def option(right: str, strike: int, day: date = DAY) -> OptionContract:
    """A 0DTE SPXW option of ``day`` (the catalog's ids and fields)."""
    return session_option(SPX, trading_session(day), OptionRight(right), float(strike))


def spread(legs: list[tuple[OptionContract, int]]) -> OptionSpread:
    return option_spread(legs, "SPREAD")


def quote(instrument, bid: float, ask: float, ts_ns: int) -> QuoteTick:
    return QuoteTick(
        instrument_id=instrument.id,
        bid_price=Price(bid, 2),
        ask_price=Price(ask, 2),
        bid_size=Quantity.from_int(50),
        ask_size=Quantity.from_int(50),
        ts_event=ts_ns,
        ts_init=ts_ns,
    )


def engine(*instruments, balance: float = 1_000_000) -> BacktestEngine:
    eng = BacktestEngine(BacktestEngineConfig(logging=LoggingConfig(bypass_logging=True), run_analysis=False))
    eng.add_venue(
        venue=VENUE,
        oms_type=OmsType.NETTING,
        account_type=AccountType.MARGIN,
        base_currency=USD,
        starting_balances=[Money(balance, USD)],
    )
    for inst in instruments:
        eng.add_instrument(inst)
    return eng


def minute_quotes(book: dict, minutes: range, start: tuple[int, int] = (10, 0), day: date = DAY) -> list[QuoteTick]:
    """The same two-sided quote for each instrument of ``book`` ({instrument: (bid, ask)}) every minute."""
    t0 = ny_ns(*start, day=day)
    return [quote(inst, b, a, t0 + m * MINUTE_NS) for m in minutes for inst, (b, a) in book.items()]


class ScriptedConfig(StrategyConfig, frozen=True):
    pass


Step = Callable[["Scripted"], object]
"""What a scripted strategy does at one quote; what it returns is ignored."""


class Scripted(Strategy):
    """Sends ``script[k](self)`` on the k-th quote of ``trigger`` and records every event it receives."""

    def __init__(
        self,
        trigger: InstrumentId,
        script: dict[int, Step],
        strategy_id: str = "ThetaHarvester-001",
    ) -> None:
        name, tag = strategy_id.rsplit("-", 1)  # Nautilus builds the id from a name and an order id tag
        super().__init__(ScriptedConfig(strategy_id=name, order_id_tag=tag))
        self.trigger = trigger
        self.script = script
        self.quotes_seen = 0
        self.denied: list = []
        self.filled: list = []

    def on_start(self) -> None:
        self.subscribe_quote_ticks(self.trigger)

    def on_quote_tick(self, tick: QuoteTick) -> None:
        action = self.script.get(self.quotes_seen)
        self.quotes_seen += 1
        if action is not None:
            action(self)

    def on_order_denied(self, event) -> None:
        self.denied.append(event)

    def on_order_filled(self, event) -> None:
        self.filled.append(event)

    def limit(self, instrument, side: OrderSide, qty: int, price: float, tags=None):
        order = self.order_factory.limit(instrument.id, side, Quantity.from_int(qty), Price(price, 2), tags=tags)
        self.submit_order(order)
        return order


def send_raw(sender: Strategy, order: Order, endpoint: str) -> None:
    """Put a submit for ``order`` straight on a message-bus endpoint, as a manual tool or a bug would: no
    strategy's ``submit_order``, so nothing asked the kernel first."""
    sender.cache.add_order(order)
    sender.msgbus.send(
        endpoint, SubmitOrder(sender.trader_id, order.strategy_id, order, UUID4(), sender.clock.timestamp_ns())
    )
