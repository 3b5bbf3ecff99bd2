"""The Alpaca market data client: option quotes, the underlying's quotes and its one-minute bars.

Option quotes come from alpaca-py's ``OptionDataStream`` (msgpack), the underlying from ``StockDataStream``,
whose minute bars are emitted as the bar type the strategies subscribe to
(``SPY.ALPACA-1-MINUTE-LAST-EXTERNAL``, data/symbology.py ``underlying_bar_type``), stamped at the bar's
close as the catalog stamps them (Alpaca stamps a bar at its open). A package's quote is not streamed: the
strategies subscribe the spread with ``aggregate_spread_quotes`` and Nautilus's DataEngine builds it from
the legs' quotes, live as in the backtest; its leg subscriptions arrive here as option quote subscriptions.

The streams run as tasks on the node's loop (``_run_forever``), each started on its first subscription:
before it has one, alpaca-py's loop spins on ``sleep(0)``; they stop through ``streams.stop_stream``.
alpaca-py subscribes a *running* stream through ``run_coroutine_threadsafe(...).result()``, which deadlocks
on the loop's own thread, so subscriptions are made from a worker thread, one at a time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from functools import lru_cache
from typing import Any

import pandas as pd
from alpaca.common.exceptions import APIError
from alpaca.data.enums import DataFeed, OptionsFeed
from alpaca.data.live.option import OptionDataStream
from alpaca.data.live.stock import StockDataStream
from alpaca.data.live.websocket import DataStream
from alpaca.data.requests import OptionLatestQuoteRequest
from nautilus_trader.cache.cache import Cache
from nautilus_trader.common.component import LiveClock, MessageBus
from nautilus_trader.data.messages import (
    RequestInstrument,
    SubscribeBars,
    SubscribeQuoteTicks,
    UnsubscribeBars,
    UnsubscribeQuoteTicks,
)
from nautilus_trader.live.data_client import LiveMarketDataClient
from nautilus_trader.model.data import Bar, BarType, QuoteTick
from nautilus_trader.model.identifiers import ClientId, InstrumentId, is_generic_spread_id
from nautilus_trader.model.objects import Price, Quantity

from odte_nautilus.adapters.alpaca.config import AlpacaDataClientConfig
from odte_nautilus.adapters.alpaca.http import AlpacaRest, BrokerUnavailable, TokenBucket, option_data_client
from odte_nautilus.adapters.alpaca.providers import AlpacaInstrumentProvider
from odte_nautilus.adapters.alpaca.streams import stop_stream
from odte_nautilus.adapters.alpaca.symbols import (
    ALPACA,
    ALPACA_VENUE,
    alpaca_symbol,
    instrument_id,
    is_option,
    underlying_id,
)
from odte_nautilus.data.symbology import underlying_bar_type
from odte_nautilus.risk.time_units import MINUTE_NS

PRICE_PRECISION = 2
Handler = Callable[[dict[str, Any]], Awaitable[None]]

option_id = lru_cache(maxsize=65_536)(instrument_id)  # one parse per contract, not per quote


def _price(value: Any) -> Price:
    return Price(float(value), PRICE_PRECISION)


def _size(value: Any) -> Quantity:
    return Quantity(float(value), 0)


def quote_tick(iid: InstrumentId, msg: dict[str, Any], ts_init: int) -> QuoteTick:
    """A stream quote (``{"T":"q","S","t","bp","bs","ap","as",...}``, ``t`` a msgpack Timestamp)."""
    return QuoteTick(
        iid, _price(msg["bp"]), _price(msg["ap"]), _size(msg["bs"]), _size(msg["as"]), msg["t"].to_unix_nano(), ts_init
    )


def rest_quote_tick(iid: InstrumentId, quote: dict[str, Any], ts_init: int) -> QuoteTick:
    """A REST latest quote (``{"t": "<RFC 3339>", "bp", "bs", "ap", "as", ...}``)."""
    ts_event = pd.Timestamp(quote["t"]).value
    return QuoteTick(
        iid, _price(quote["bp"]), _price(quote["ap"]), _size(quote["bs"]), _size(quote["as"]), ts_event, ts_init
    )


def minute_bar(bar_type: BarType, msg: dict[str, Any], ts_init: int) -> Bar:
    """A stream minute bar, stamped at its close (the catalog's convention, which the strategies expect)."""
    return Bar(
        bar_type,
        _price(msg["o"]),
        _price(msg["h"]),
        _price(msg["l"]),
        _price(msg["c"]),
        _size(msg["v"]),
        msg["t"].to_unix_nano() + MINUTE_NS,
        ts_init,
    )


class AlpacaDataClient(LiveMarketDataClient):
    """Streams Alpaca's option and stock data into Nautilus (see the module docstring)."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        msgbus: MessageBus,
        cache: Cache,
        clock: LiveClock,
        instrument_provider: AlpacaInstrumentProvider,
        config: AlpacaDataClientConfig,
        name: str | None = None,
    ) -> None:
        super().__init__(
            loop=loop,
            client_id=ClientId(name or ALPACA),
            venue=ALPACA_VENUE,
            msgbus=msgbus,
            cache=cache,
            clock=clock,
            instrument_provider=instrument_provider,
            config=config,
        )
        key, secret = config.api_key, config.api_secret
        self._options = OptionDataStream(
            key, secret, raw_data=True, feed=OptionsFeed(config.option_feed), url_override=config.option_stream_url
        )
        self._stocks = StockDataStream(
            key, secret, raw_data=True, feed=DataFeed(config.stock_feed), url_override=config.stock_stream_url
        )
        self._market = AlpacaRest(
            option_data_client(key, secret, config.data_url_http or config.base_url_http, config.http_timeout_secs),
            TokenBucket(config.max_requests_per_minute),  # market data has its own budget at Alpaca
            config.max_retries,
            config.retry_delay_secs,
        )
        self._running: dict[int, asyncio.Task] = {}
        self._subscribing = asyncio.Lock()
        self._bar_types: dict[str, BarType] = {}
        self.quotes = 0
        self.busy = 0  # subscriptions still in progress (a replayed session waits for them: live/simulated.py)

    async def _connect(self) -> None:
        await self._instrument_provider.initialize()
        for instrument in self._instrument_provider.list_all():
            self._handle_data(instrument)

    async def _disconnect(self) -> None:
        for stream in (self._options, self._stocks):
            task = self._running.pop(id(stream), None)
            if task is not None:
                await stop_stream(stream, task)

    async def _change(self, stream: DataStream, method: Callable[..., None], *args: Any, start: bool = True) -> None:
        """(Un)subscribe from a worker thread, one change at a time; start the stream on its first one."""
        async with self._subscribing:
            await asyncio.to_thread(method, *args)
            if start and id(stream) not in self._running:
                name = "alpaca-options" if stream is self._options else "alpaca-stocks"
                self._running[id(stream)] = self._loop.create_task(stream._run_forever(), name=name)

    # -- subscriptions -------------------------------------------------------------------------------------

    async def _subscribe_quote_ticks(self, command: SubscribeQuoteTicks) -> None:
        iid = command.instrument_id
        if is_generic_spread_id(iid):
            self._log.warning(f"{iid}: a package's quote is aggregated from its legs (aggregate_spread_quotes)")
            return
        self.busy += 1
        try:
            if is_option(iid):
                symbol = alpaca_symbol(iid)
                await self._change(self._options, self._options.subscribe_quotes, self._on_option_quote, symbol)
                await self._latest_quote(iid)
            else:
                await self._change(self._stocks, self._stocks.subscribe_quotes, self._on_stock_quote, iid.symbol.value)
        finally:
            self.busy -= 1

    async def _unsubscribe_quote_ticks(self, command: UnsubscribeQuoteTicks) -> None:
        iid = command.instrument_id
        if is_generic_spread_id(iid):
            return
        if is_option(iid):
            await self._change(self._options, self._options.unsubscribe_quotes, alpaca_symbol(iid), start=False)
        else:
            await self._change(self._stocks, self._stocks.unsubscribe_quotes, iid.symbol.value, start=False)

    async def _subscribe_bars(self, command: SubscribeBars) -> None:
        bar_type = command.bar_type
        symbol = bar_type.instrument_id.symbol.value
        expected = underlying_bar_type(str(underlying_id(symbol)))
        if str(bar_type) != expected:
            self._log.error(f"{bar_type}: Alpaca streams the underlying's 1-minute bars only ({expected})")
            return
        self._bar_types[symbol] = bar_type
        await self._change(self._stocks, self._stocks.subscribe_bars, self._on_bar, symbol)

    async def _unsubscribe_bars(self, command: UnsubscribeBars) -> None:
        symbol = command.bar_type.instrument_id.symbol.value
        if self._bar_types.pop(symbol, None) is not None:
            await self._change(self._stocks, self._stocks.unsubscribe_bars, symbol, start=False)

    async def _request_instrument(self, request: RequestInstrument) -> None:
        """A package's spread built from its legs, or a contract of another day, on demand."""
        await self._instrument_provider.load_async(request.instrument_id)
        instrument = self._instrument_provider.find(request.instrument_id)
        if instrument is None:
            self._log.warning(f"{request.instrument_id}: no such instrument at Alpaca")
            return
        self._handle_data(instrument)
        self._handle_instrument(instrument, request.id, request.start, request.end, request.params)

    async def _latest_quote(self, iid: InstrumentId) -> None:
        """The leg's latest quote from REST, as soon as it is subscribed.

        The stream sends a quote only when it changes, so a package subscribed in the middle of a minute would
        wait for its legs' next quotes (the backtest's cache holds every last quote). A quote the stream has
        already superseded is dropped, and a failure only leaves the leg to the stream.
        """
        symbol = alpaca_symbol(iid)
        try:
            raw = await self._market.call(
                self._market.client.get_option_latest_quote, OptionLatestQuoteRequest(symbol_or_symbols=symbol)
            )
        except (APIError, BrokerUnavailable) as exc:  # the stream still brings the leg's next quote
            self._log.warning(f"{iid}: no latest quote from REST ({exc}); waiting for the stream's next one")
            return
        found = (raw.get("quotes", raw) if isinstance(raw, dict) else {}).get(symbol)
        if not found:
            return
        tick = rest_quote_tick(iid, found, self._clock.timestamp_ns())
        held = self._cache.quote_tick(iid)
        if held is None or held.ts_event < tick.ts_event:
            self._handle_data(tick)

    # -- the streams' handlers (coroutines, as alpaca-py requires) -----------------------------------------

    async def _on_option_quote(self, msg: dict[str, Any]) -> None:
        self.quotes += 1
        self._handle_data(quote_tick(option_id(msg["S"]), msg, self._clock.timestamp_ns()))

    async def _on_stock_quote(self, msg: dict[str, Any]) -> None:
        self._handle_data(quote_tick(underlying_id(msg["S"]), msg, self._clock.timestamp_ns()))

    async def _on_bar(self, msg: dict[str, Any]) -> None:
        bar_type = self._bar_types.get(msg["S"])
        if bar_type is not None:
            self._handle_data(minute_bar(bar_type, msg, self._clock.timestamp_ns()))
