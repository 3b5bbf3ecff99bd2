"""The backtester's leg fills, re-priced inside their quotes before anything books them (backtest only).

The simulated exchange fills a package, processes the package's own ``OrderFilled``, then sends one synthetic
leg fill per leg to ``ExecEngine.process``, all in the same call, priced at mid with a plug leg. This component
takes that endpoint over: it holds a package's leg fills until all of its legs have arrived, prices them with
``execution.leg_prices`` against the leg quotes the engine held (the quotes the engine filled against) and
forwards them, so positions, the account, the strategies' ledgers and ``fills.csv`` all see believable prices
that sum exactly to the package price. Any other event passes straight through.

When no allocation exists the engine's own prices go through unchanged, with a warning: the run's fill check
(``reports/fill_check.py``) then reports the leg, rather than the pricer hiding it. Live adapters report the
broker's own leg prices and never install this.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from nautilus_trader.model.events import OrderFilled
from nautilus_trader.model.identifiers import ClientOrderId
from nautilus_trader.model.objects import Price

from odte_nautilus.data.underlyings import underlying_spec
from odte_nautilus.execution.leg_prices import LegQuote, allocate_leg_prices
from odte_nautilus.nautilus_internals import PROCESS_ENDPOINT, leg_parent, take_over_endpoint

if TYPE_CHECKING:
    from nautilus_trader.common.component import Logger
    from nautilus_trader.core.message import Event
    from nautilus_trader.system.kernel import NautilusKernel


class LegFillPricer:
    def __init__(self, kernel: NautilusKernel, log: Logger | None = None) -> None:
        self._kernel = kernel
        self._cache = kernel.cache
        self._log = log
        self._forward: Callable[[Event], None] = kernel.exec_engine.process
        self._held: dict[str, list[OrderFilled]] = {}
        self.unpriced: list[str] = []  # package orders whose legs kept the engine's prices

    def install(self) -> LegFillPricer:
        self._forward = take_over_endpoint(self._kernel.msgbus, PROCESS_ENDPOINT, self._forward, self.process)
        return self

    def process(self, event: Event) -> None:
        parent = leg_parent(event.client_order_id.value) if isinstance(event, OrderFilled) else None
        if parent is None:
            self._forward(event)
            return
        held = self._held.setdefault(parent, [])
        held.append(event)
        spread = self._cache.order(ClientOrderId(parent))
        legs = self._cache.instrument(spread.instrument_id).legs()
        if len(held) < len(legs):
            return
        del self._held[parent]
        for fill in self._priced(spread.last_event.last_px.as_double(), legs, held):
            self._forward(fill)

    def _priced(self, package_price: float, legs: list, fills: list[OrderFilled]) -> list[OrderFilled]:
        by_leg = {fill.instrument_id: fill for fill in fills}
        quotes = [(leg_id, ratio, self._cache.quote_tick(leg_id)) for leg_id, ratio in legs]
        if any(quote is None for _, _, quote in quotes) or set(by_leg) != {leg_id for leg_id, _ in legs}:
            return self._unpriced(fills, "a leg quote or a leg fill is missing")
        prices = allocate_leg_prices(
            package_price,
            [
                LegQuote(
                    int(ratio),
                    quote.bid_price.as_double(),
                    quote.ask_price.as_double(),
                    underlying_spec(self._cache.instrument(leg_id).underlying).ticks,
                )
                for leg_id, ratio, quote in quotes
            ],
        )
        if prices is None:
            return self._unpriced(fills, f"no leg prices inside the quotes sum to {package_price}")
        return [
            _with_price(by_leg[leg_id], self._cache.instrument(leg_id).make_price(price))
            for (leg_id, _, _), price in zip(quotes, prices, strict=True)
        ]

    def _unpriced(self, fills: list[OrderFilled], why: str) -> list[OrderFilled]:
        parent = leg_parent(fills[0].client_order_id.value) or ""
        self.unpriced.append(parent)
        if self._log is not None:
            self._log.warning(f"{parent}: leg fills keep the engine's mid prices: {why}")
        return fills


def _with_price(fill: OrderFilled, price: Price) -> OrderFilled:
    return OrderFilled(
        trader_id=fill.trader_id,
        strategy_id=fill.strategy_id,
        instrument_id=fill.instrument_id,
        client_order_id=fill.client_order_id,
        venue_order_id=fill.venue_order_id,
        account_id=fill.account_id,
        trade_id=fill.trade_id,
        order_side=fill.order_side,
        order_type=fill.order_type,
        last_qty=fill.last_qty,
        last_px=price,
        currency=fill.currency,
        liquidity_side=fill.liquidity_side,
        event_id=fill.id,
        ts_event=fill.ts_event,
        ts_init=fill.ts_init,
        reconciliation=fill.reconciliation,
        position_id=fill.position_id,
        commission=fill.commission,
        info=fill.info,
    )
