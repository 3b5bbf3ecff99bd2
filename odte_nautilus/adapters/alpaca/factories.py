"""How a ``TradingNode`` builds the Alpaca clients: register the factories under one name, as for any adapter.

    node.add_data_client_factory("ALPACA", AlpacaLiveDataClientFactory)
    node.add_exec_client_factory("ALPACA", AlpacaLiveExecClientFactory)

The data and execution clients of one account share one REST client, hence one rate budget (Alpaca counts
200 requests a minute per account, whoever sends them), and one instrument provider.
"""

from __future__ import annotations

import asyncio
from functools import lru_cache

from nautilus_trader.cache.cache import Cache
from nautilus_trader.common.component import LiveClock, MessageBus
from nautilus_trader.config import InstrumentProviderConfig
from nautilus_trader.live.factories import LiveDataClientFactory, LiveExecClientFactory

from odte_nautilus.adapters.alpaca.config import AlpacaDataClientConfig, AlpacaExecClientConfig
from odte_nautilus.adapters.alpaca.data import AlpacaDataClient
from odte_nautilus.adapters.alpaca.execution import AlpacaExecutionClient
from odte_nautilus.adapters.alpaca.http import AlpacaRest, TokenBucket, trading_client
from odte_nautilus.adapters.alpaca.providers import AlpacaInstrumentProvider

_RESTS: dict[tuple[str, str | None], AlpacaRest] = {}


def get_cached_alpaca_rest(config: AlpacaDataClientConfig | AlpacaExecClientConfig) -> AlpacaRest:
    """One REST client and one token bucket per account and host, whichever client's config comes first:
    two buckets for one account would allow twice Alpaca's budget."""
    key = (config.api_key, config.base_url_http)
    if key not in _RESTS:
        client = trading_client(config.api_key, config.api_secret, config.base_url_http, config.http_timeout_secs)
        bucket = TokenBucket(config.max_requests_per_minute)
        _RESTS[key] = AlpacaRest(client, bucket, config.max_retries, config.retry_delay_secs)
    return _RESTS[key]


@lru_cache(maxsize=8)
def get_cached_alpaca_instrument_provider(
    rest: AlpacaRest, underlyings: tuple[str, ...], config: InstrumentProviderConfig
) -> AlpacaInstrumentProvider:
    return AlpacaInstrumentProvider(rest, underlyings, config)


def _provider(rest: AlpacaRest, config: AlpacaDataClientConfig | AlpacaExecClientConfig) -> AlpacaInstrumentProvider:
    # Load every chain on start, whatever the config says: the strategies pick strikes from the cache.
    provider_config = InstrumentProviderConfig(load_all=True, log_warnings=config.instrument_provider.log_warnings)
    return get_cached_alpaca_instrument_provider(rest, tuple(config.underlyings), provider_config)


class AlpacaLiveDataClientFactory(LiveDataClientFactory):
    @staticmethod
    def create(  # type: ignore[override]
        loop: asyncio.AbstractEventLoop,
        name: str,
        config: AlpacaDataClientConfig,
        msgbus: MessageBus,
        cache: Cache,
        clock: LiveClock,
    ) -> AlpacaDataClient:
        rest = get_cached_alpaca_rest(config)
        return AlpacaDataClient(loop, msgbus, cache, clock, _provider(rest, config), config, name)


class AlpacaLiveExecClientFactory(LiveExecClientFactory):
    @staticmethod
    def create(  # type: ignore[override]
        loop: asyncio.AbstractEventLoop,
        name: str,
        config: AlpacaExecClientConfig,
        msgbus: MessageBus,
        cache: Cache,
        clock: LiveClock,
    ) -> AlpacaExecutionClient:
        rest = get_cached_alpaca_rest(config)
        return AlpacaExecutionClient(loop, rest, msgbus, cache, clock, _provider(rest, config), config, name)
